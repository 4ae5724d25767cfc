/**
 * Where the CLI finds a running topology's management API, and its token: `--url`/`--token`,
 * else `KRAKEN_URL`/`KRAKEN_TOKEN`, else a runtime detached from `./kraken.yaml` (its state file,
 * `.kraken/state.json`: the address it listens on), else the `management:` block of
 * `./kraken.yaml` (its `${VAR}`s read from the environment), else `http://127.0.0.1:9090`.
 *
 * @module
 */
import type * as Yaml from "yaml";
import { readTopologyText } from "../config/load.ts";
import { ManagementClient } from "./client.ts";
import { usageError } from "./exit.ts";
import { readRunState, runDirOf } from "./_run_state.ts";

/**
 * The URL used when nothing says otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_URL } from "./connection.ts";
 * assert.equal(new URL(DEFAULT_URL).port, "9090");
 * ```
 */
export const DEFAULT_URL = "http://127.0.0.1:9090/";

/**
 * The flags every API command accepts.
 *
 * @example
 * ```ts
 * import type { ConnectionFlags } from "./connection.ts";
 * const flags: ConnectionFlags = { url: "http://127.0.0.1:9090" };
 * ```
 */
export interface ConnectionFlags {
  /** `--url`. */
  url?: string;
  /** `--token`. */
  token?: string;
}

/**
 * The `management:` block of a topology file, read leniently (nothing is validated here).
 *
 * @example
 * ```ts
 * import type { ManagementBlock } from "./connection.ts";
 * const block: ManagementBlock = { listen: "127.0.0.1:9090", token: "s3cret" };
 * ```
 */
export interface ManagementBlock {
  /** `management.listen`, if written. */
  listen?: string;
  /** `management.token` with `${VAR}` expanded; absent when a variable is unset. */
  token?: string;
  /** The variables `management.token` reads that are not set, when there are some. */
  unset?: string[];
}

/**
 * Reads the `management:` block of a YAML topology without validating the rest (the CLI only
 * needs to know where to connect). A missing or unreadable file gives `null`.
 *
 * @param file The topology file (default `./kraken.yaml`).
 * @param env Reads an environment variable.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readManagementBlock } from "./connection.ts";
 * const file = await Deno.makeTempFile({ suffix: ".yaml" });
 * await Deno.writeTextFile(file, "management:\n  listen: 127.0.0.1:9191\n  token: ${API_TOKEN}\n");
 * const env = (name: string) => name === "API_TOKEN" ? "s3cret" : undefined;
 * const block = await readManagementBlock(file, env);
 * assert.equal(block?.listen, "127.0.0.1:9191");
 * assert.equal(block?.token, "s3cret");
 * assert.equal(await readManagementBlock(`${file}.missing`, env), null);
 * await Deno.remove(file);
 * ```
 */
export async function readManagementBlock(
  file = "./kraken.yaml",
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): Promise<ManagementBlock | null> {
  let text: string;
  try {
    text = await readTopologyText(file); // bounded: a FIFO or /dev/zero must not hang the CLI
  } catch {
    return null;
  }
  const { parse }: typeof Yaml = await import("yaml");
  let doc: unknown;
  try {
    doc = parse(text);
  } catch {
    return null;
  }
  const block = (doc as { management?: unknown } | null)?.management;
  if (typeof block !== "object" || block === null) return null;
  const { listen, token } = block as Record<string, unknown>;
  const missing: string[] = [];
  const expand = (value: unknown, note = false): string | undefined => {
    if (typeof value !== "string") return undefined;
    let unset = false;
    const out = value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const found = env(name);
      if (found === undefined) {
        unset = true;
        if (note) missing.push(name);
      }
      return found ?? "";
    });
    return unset ? undefined : out;
  };
  const read: ManagementBlock = { listen: expand(listen), token: expand(token, true) };
  return missing.length > 0 ? { ...read, unset: missing } : read;
}

/**
 * The base URL for a `listen` address: a wildcard host (`0.0.0.0`, `::`) is reached on loopback.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { urlForListen } from "./connection.ts";
 * assert.equal(urlForListen("0.0.0.0:9090").href, "http://127.0.0.1:9090/");
 * assert.equal(urlForListen(":8080").href, "http://127.0.0.1:8080/");
 * ```
 */
export function urlForListen(listen: string): URL {
  const text = listen.trim();
  if (/^https?:\/\//.test(text)) return new URL(text.endsWith("/") ? text : `${text}/`);
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  if (v6) {
    const host = v6[1] === "::" ? "[::1]" : `[${v6[1]}]`;
    return new URL(`http://${host}:${v6[2]}/`);
  }
  const m = /^(?:([^:]*):)?(\d+)$/.exec(text);
  if (!m) throw new TypeError(`not a listen address: ${JSON.stringify(listen)}`);
  const host = !m[1] || m[1] === "0.0.0.0" ? "127.0.0.1" : m[1];
  return new URL(`http://${host}:${m[2]}/`);
}

/**
 * A client for the runtime the flags, the environment or `file` point at.
 *
 * @param command The command, for error messages.
 * @param flags `--url` and `--token`.
 * @param file The topology file whose `management:` block is the fallback.
 * @throws {CliError} Exit 2 for a malformed URL.
 *
 * @example `--url` and `--token` win over the environment and the topology file
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "./connection.ts";
 * const client = await connect("status", { url: "http://127.0.0.1:9191", token: "s3cret" });
 * assert.equal(client.url.href, "http://127.0.0.1:9191/");
 * ```
 */
export async function connect(
  command: string,
  flags: ConnectionFlags,
  file = "./kraken.yaml",
): Promise<ManagementClient> {
  const envUrl = Deno.env.get("KRAKEN_URL") || undefined;
  const envToken = Deno.env.get("KRAKEN_TOKEN") || undefined;
  // A runtime detached from this folder says where it listens (port 0 resolved) and which
  // topology file holds its token.
  const found = flags.url && flags.token ? null : readRunState(runDirOf(file));
  const detached = found?.alive ? found.state : null;
  const block = flags.url && flags.token
    ? null
    : await readManagementBlock(detached?.topology ?? file);
  const token = flags.token ?? envToken ?? block?.token;
  const given = flags.url ?? envUrl;
  let url: URL;
  try {
    url = given
      ? new URL(/^https?:\/\//.test(given) ? given.replace(/\/?$/, "/") : `http://${given}/`)
      : detached?.url
      ? new URL(detached.url)
      : block?.listen
      ? urlForListen(block.listen)
      : new URL(DEFAULT_URL);
  } catch {
    throw usageError(command, `--url must be an http:// URL, got ${JSON.stringify(given)}`);
  }
  // Without a token every call is refused: say where the one of kraken.yaml was to come from.
  const hint = token === undefined && block?.unset
    ? `management.token of ${file} reads ${
      block.unset.map((name) => `\${${name}}`).join(", ")
    }, which is not set here: a project made by "kraken new" keeps it in .env (run "deno task kraken ${command}"), or set --token or KRAKEN_TOKEN`
    : undefined;
  return new ManagementClient(url, token, {
    hint,
    unreachable: given || !found || found.alive ? undefined : staleNote(found.state, file),
  });
}

/**
 * What to say when a detached runtime's state file outlived it (killed, or its machine
 * restarted): the runtime it names is gone, which no other address will fix.
 */
function staleNote(state: { pid: unknown; started?: unknown }, file: string): string {
  const started = typeof state.started === "string" ? `, started ${state.started}` : "";
  return `the runtime detached from ${file} (pid ${state.pid}${started}) is not running: ` +
    `${runDirOf(file)}/state.json is stale (no process ${state.pid}). It was stopped without ` +
    `"kraken shutdown" (killed, or the machine restarted); "kraken start --detach" starts it ` +
    `again and replaces the file.`;
}
