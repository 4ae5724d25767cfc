/**
 * The environment a process container starts with. Not the host's: a runtime's environment holds
 * its secrets (`KRAKEN_SECRET`, `KRAKEN_TOKEN`, database passwords), and whatever a process
 * container starts with, a program it may `run` (or a `/proc/self/environ` it may read) can print.
 * So a process container's environment is cleared (`clearEnv`) and holds only:
 *
 * - what Deno itself needs to find and load modules as its host does ({@linkcode DENO_NEEDS}: the
 *   cache folder and where it lies, the module proxy and certificates, `PATH` for programs named
 *   in a `run` grant), when the host has them;
 * - `NO_COLOR=1` (its output becomes log lines);
 * - while Deno's OpenTelemetry is on in the host (`OTEL_DENO` is `true` or `1`), every `OTEL_*`
 *   variable (or, where the host may not list its environment, those of {@linkcode OTEL_NAMES}),
 *   so the process exports its spans where the host does. `OTEL_EXPORTER_OTLP_HEADERS` may hold a
 *   collector's credentials: a process container can read them, as it can its own `env` grant;
 * - the variables its `env` grant names (a trailing `*` takes every name it prefixes), read from
 *   the host — all of them with `env: true`.
 *
 * `DENO_AUTH_TOKENS` is not among what Deno needs: a container that must fetch private modules
 * itself names it in its `env` grant (or the host caches them first).
 *
 * @module
 */
import type { Permissions } from "../config/permissions.ts";

/** Host variables every process container gets (when the host has them): Deno's own settings. */
export const DENO_NEEDS: readonly string[] = Object.freeze([
  "PATH",
  "HOME",
  "TMPDIR",
  "TZ",
  "LANG",
  "XDG_CACHE_HOME",
  "DENO_DIR",
  "DENO_CERT",
  "DENO_TLS_CA_STORE",
  "DENO_NO_UPDATE_CHECK",
  "NPM_CONFIG_REGISTRY",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
  "http_proxy",
  "https_proxy",
  "no_proxy",
]);

/** The `OTEL_*` variables a process container gets by name when the host cannot list its own. */
export const OTEL_NAMES: readonly string[] = Object.freeze([
  "OTEL_DENO",
  "OTEL_SERVICE_NAME",
  "OTEL_RESOURCE_ATTRIBUTES",
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
  "OTEL_EXPORTER_OTLP_PROTOCOL",
  "OTEL_EXPORTER_OTLP_HEADERS",
  "OTEL_TRACES_SAMPLER",
  "OTEL_TRACES_SAMPLER_ARG",
  "OTEL_DENO_CONSOLE",
]);

/** How the host's environment is read (injected in tests). */
export interface HostEnv {
  /** Variable `name`, or `undefined` when unset or not readable. */
  get(name: string): string | undefined;
  /** Every variable, or `undefined` when the host may not list them all. */
  all(): Record<string, string> | undefined;
}

/** This process's environment, read only where it holds the permission (never a prompt). */
export const DENO_ENV: HostEnv = {
  get(name) {
    try {
      if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") {
        return undefined;
      }
      return Deno.env.get(name);
    } catch {
      return undefined;
    }
  },
  all() {
    try {
      if (Deno.permissions.querySync({ name: "env" }).state !== "granted") return undefined;
      return Deno.env.toObject();
    } catch {
      return undefined;
    }
  },
};

/**
 * The environment of a process container whose `env` grant is `grant` (spawned with
 * `clearEnv: true`).
 *
 * @param grant The container's `env` permission.
 * @param host The host's environment.
 * @returns Deno's own settings, `NO_COLOR=1`, the `OTEL_*` settings while tracing is on, and
 *   what the grant names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { processEnv } from "./_process_env.ts";
 * const vars: Record<string, string> = { HOME: "/home/app", KRAKEN_SECRET: "s", APP_A: "1" };
 * const host = { get: (name: string) => vars[name], all: () => vars };
 * assert.deepEqual(processEnv(undefined, host), { HOME: "/home/app", NO_COLOR: "1" });
 * assert.deepEqual(processEnv(["APP_*"], host), { HOME: "/home/app", APP_A: "1", NO_COLOR: "1" });
 * assert.equal(processEnv(true, host).KRAKEN_SECRET, "s");
 * const traced: Record<string, string> = { ...vars, OTEL_DENO: "true", OTEL_SERVICE_NAME: "shop" };
 * assert.equal(processEnv(undefined, { get: (n: string) => traced[n], all: () => traced }).OTEL_SERVICE_NAME, "shop");
 * ```
 */
export function processEnv(
  grant: Permissions["env"],
  host: HostEnv = DENO_ENV,
): Record<string, string> {
  const env: Record<string, string> = {};
  const take = (name: string, value: string | undefined) => {
    if (value !== undefined) env[name] = value;
  };
  for (const name of DENO_NEEDS) take(name, host.get(name));
  const otel = host.get("OTEL_DENO")?.toLowerCase();
  if (otel === "true" || otel === "1") {
    const all = host.all();
    if (all === undefined) { for (const name of OTEL_NAMES) take(name, host.get(name)); }
    else {for (const [name, value] of Object.entries(all)) {
        if (name.startsWith("OTEL_")) take(name, value);
      }}
  }
  if (grant === true) Object.assign(env, host.all() ?? {});
  else {
    for (const item of grant ?? []) {
      if (!item.endsWith("*")) take(item, host.get(item));
      else {
        const prefix = item.slice(0, -1);
        for (const [name, value] of Object.entries(host.all() ?? {})) {
          if (name.startsWith(prefix)) take(name, value);
        }
      }
    }
  }
  env.NO_COLOR = "1";
  return env;
}
