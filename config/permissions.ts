/**
 * Container permissions: the topology's `permissions:` block, checked and turned into what Deno
 * takes — a worker's `deno.permissions` object or a subprocess's `--allow-*` flags.
 *
 * Pure: no `Deno.*` here. The default is no permission at all; a key left out is denied.
 *
 * @module
 */
import { didYouMean } from "./_suggest.ts";

/** One permission kind. */
export type PermissionKind = "net" | "read" | "write" | "env" | "run" | "ffi" | "sys" | "import";

/** The permission kinds a container may be granted. */
export const PERMISSION_KINDS: readonly PermissionKind[] = [
  "net",
  "read",
  "write",
  "env",
  "run",
  "ffi",
  "sys",
  "import",
];

/** A validated grant: `true` for the whole kind, or a list of hosts, paths, names. */
export type Permissions = { [K in PermissionKind]?: true | string[] };

/** What `deno.permissions` of a `Worker` takes. */
export type WorkerPermissions = { [K in PermissionKind]: boolean | string[] | "inherit" };

/** The system information `sys` may grant (Deno refuses any other name when the sandbox starts). */
const SYS_KINDS: readonly string[] = [
  "hostname",
  "osRelease",
  "osUptime",
  "loadavg",
  "networkInterfaces",
  "systemMemoryInfo",
  "uid",
  "gid",
  "cpus",
  "homedir",
  "getegid",
  "statfs",
  "getPriority",
  "setPriority",
  "userInfo",
  "username",
  "inspector",
];

/** Kinds whose values are file paths (resolved against the topology's folder). */
const PATH_KINDS: ReadonlySet<PermissionKind> = new Set(["read", "write", "ffi"]);

/** A problem found in a permissions block: the key under it and what was wrong. */
export interface PermissionIssue {
  /** The key within the block, e.g. `net` or `net[1]`. */
  key: string;
  /** What was wrong and what was expected. */
  message: string;
}

/**
 * Checks a `permissions:` block and resolves relative paths against `baseDir`.
 *
 * @param input The raw block (`undefined` means none).
 * @param baseDir Absolute folder relative paths are resolved against.
 * @returns The grant, or the first issue found.
 */
export function validatePermissions(
  input: unknown,
  baseDir: string,
): { ok: true; value: Permissions } | { ok: false; issue: PermissionIssue } {
  if (input === undefined || input === null) return { ok: true, value: {} };
  if (typeof input !== "object" || Array.isArray(input)) {
    return {
      ok: false,
      issue: { key: "", message: `expected a map of permission kinds, got ${describe(input)}` },
    };
  }
  const value: Permissions = {};
  for (const [key, raw] of Object.entries(input)) {
    if (!(PERMISSION_KINDS as readonly string[]).includes(key)) {
      return {
        ok: false,
        issue: {
          key,
          message: `unknown permission "${key}"${
            didYouMean(key, PERMISSION_KINDS)
          }; expected one of ${PERMISSION_KINDS.join(", ")}`,
        },
      };
    }
    const kind = key as PermissionKind;
    if (raw === false) continue;
    if (raw === true) {
      value[kind] = true;
      continue;
    }
    if (typeof raw === "string" && /^(yes|no|on|off|y|n|true|false)$/i.test(raw)) {
      // YAML 1.2 reads `net: yes` as the text "yes": a host named "yes" is never what was meant.
      return {
        ok: false,
        issue: {
          key,
          message: `expected true, false or a list of strings, got "${raw}", which YAML reads ` +
            `as text: write ${/^(yes|on|y|true)$/i.test(raw) ? "true" : "false"}`,
        },
      };
    }
    const list = typeof raw === "string" ? [raw] : raw;
    if (!Array.isArray(list)) {
      return {
        ok: false,
        issue: { key, message: `expected true, false or a list of strings, got ${describe(raw)}` },
      };
    }
    const items: string[] = [];
    for (let i = 0; i < list.length; i++) {
      const item = list[i];
      if (typeof item !== "string" || item === "" || item.includes(",")) {
        return {
          ok: false,
          issue: {
            key: `${key}[${i}]`,
            message: `expected a non-empty string without commas, got ${describe(item)}`,
          },
        };
      }
      const wrong = kind === "net"
        ? netItemProblem(item)
        : kind === "sys" && !SYS_KINDS.includes(item)
        ? `expected one of ${SYS_KINDS.join(", ")}, got "${item}"${didYouMean(item, SYS_KINDS)}`
        : undefined;
      if (wrong !== undefined) {
        return { ok: false, issue: { key: `${key}[${i}]`, message: wrong } };
      }
      items.push(PATH_KINDS.has(kind) ? resolvePath(item, baseDir) : item);
    }
    if (items.length > 0) value[kind] = items;
  }
  return { ok: true, value };
}

/**
 * The `deno.permissions` object for a worker: exactly the grant, everything else denied.
 * Module loading (`import`) inherits, since a worker's imports are checked against its host anyway.
 *
 * @example
 * ```ts
 * import { toWorkerPermissions } from "./permissions.ts";
 * const p = toWorkerPermissions({ net: ["127.0.0.1:8080"] });
 * console.assert(p.read === false && Array.isArray(p.net));
 * ```
 */
export function toWorkerPermissions(grant: Permissions): WorkerPermissions {
  const out = {} as WorkerPermissions;
  for (const kind of PERMISSION_KINDS) {
    const value = grant[kind];
    out[kind] = value === undefined
      ? (kind === "import" ? "inherit" : false)
      : value === true
      ? true
      : [...value];
  }
  return out;
}

/**
 * The `deno run` flags for a process container: `--allow-KIND[=values]` per granted kind.
 *
 * @example
 * ```ts
 * import { toProcessFlags } from "./permissions.ts";
 * console.assert(toProcessFlags({ read: ["/srv"] })[0] === "--allow-read=/srv");
 * ```
 */
export function toProcessFlags(grant: Permissions): string[] {
  const flags: string[] = [];
  for (const kind of PERMISSION_KINDS) {
    const value = grant[kind];
    if (value === undefined) continue;
    flags.push(value === true ? `--allow-${kind}` : `--allow-${kind}=${value.join(",")}`);
  }
  return flags;
}

/**
 * The first item of `grant` that `parent` does not cover, or `null` when the grant lies within it.
 * A path is covered by itself or a folder above it; a `host:port` by the same host without a port.
 *
 * @example
 * ```ts
 * import { grantOutside } from "./permissions.ts";
 * console.assert(grantOutside({ read: ["/srv/a"] }, { read: ["/srv"] }) === null);
 * console.assert(grantOutside({ net: true }, { net: ["127.0.0.1"] })?.kind === "net");
 * ```
 */
export function grantOutside(
  grant: Permissions,
  parent: Permissions,
): { kind: PermissionKind; value: true | string } | null {
  for (const kind of PERMISSION_KINDS) {
    const wanted = grant[kind];
    if (wanted === undefined) continue;
    const held = parent[kind];
    if (held === true) continue;
    if (held === undefined || wanted === true) {
      return { kind, value: wanted === true ? true : wanted[0] };
    }
    for (const item of wanted) {
      const covered = held.some((h) =>
        h === item ||
        (PATH_KINDS.has(kind) && item.startsWith(h.endsWith("/") ? h : `${h}/`)) ||
        (kind === "net" && !h.includes(":") && item.split(":")[0] === h)
      );
      if (!covered) return { kind, value: item };
    }
  }
  return null;
}

/**
 * What is wrong with a `net` item, as far as can be told without asking Deno (which refuses a bad
 * one only when the sandbox is created, far from the topology line): a URL, a space, an IPv6
 * address without brackets, a port that is not 0–65535, a character no host name has. `unix:` and
 * `vsock:` items pass.
 */
function netItemProblem(item: string): string | undefined {
  const expected = `expected host or host:port such as 127.0.0.1:8080 or api.example.com`;
  if (/^(unix|vsock):/.test(item)) return undefined;
  const url = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(item);
  if (url) return `${expected}, got "${item}", a URL: write ${url[1]}`;
  if (/\s/.test(item)) return `${expected}, got "${item}", which holds a space`;
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(item);
  if (!bracketed && item.split(":").length > 2) {
    return `${expected}, got "${item}", which has more than one ":" (one port per item; an ` +
      `IPv6 address goes in brackets: [::1]:8080)`;
  }
  const port = bracketed
    ? bracketed[2]
    : item.includes(":")
    ? item.slice(item.indexOf(":") + 1)
    : undefined;
  if (port !== undefined && (!/^\d{1,5}$/.test(port) || Number(port) > 65535)) {
    return `${expected}, got "${item}", whose port "${port}" is not a number from 0 to 65535`;
  }
  const host = bracketed ? undefined : item.split(":")[0];
  if (host !== undefined && !/^[A-Za-z0-9._*/-]*$/.test(host)) {
    return `${expected}, got "${item}", whose host "${host}" is not a host name or IP address`;
  }
  return undefined;
}

function resolvePath(path: string, baseDir: string): string {
  if (path.startsWith("/")) return path;
  const joined = `${baseDir.replace(/\/$/, "")}/${path}`;
  const parts: string[] = [];
  for (const part of joined.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return `/${parts.join("/")}`;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "string") return `"${value}"`;
  return typeof value === "object" ? "a map" : `${typeof value} ${String(value)}`;
}
