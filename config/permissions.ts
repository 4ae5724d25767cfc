/**
 * Container permissions: the topology's `permissions:` block, checked and turned into what Deno
 * takes — a worker's `deno.permissions` object or a subprocess's `--allow-*` flags.
 *
 * Pure: no `Deno.*` here. The default is no permission at all; a key left out is denied.
 *
 * @module
 */
import { didYouMean } from "./_suggest.ts";
import { canonicalItem, type FileSystemView, itemCovers, normalizePath } from "./_canonical.ts";

export type { FileSystemView } from "./_canonical.ts";

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

/**
 * What `sys: true` is for a worker: every name Deno 2.9 checks but those whose op changes the
 * process the worker shares with its host (`umask`, which sets the mask even to read it, and
 * `setuid`/`setgid`/`seteuid`/`setegid`), which no list may name either. So Deno's own op refuses
 * those, whatever JavaScript reaches it. (`ca`: the system's root certificates, read by
 * `node:tls`.)
 */
const WORKER_SYS: readonly string[] = [
  ...SYS_KINDS.filter((kind) => kind !== "username"), // Deno's alias of userInfo
  "ca",
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
 * Checks a `permissions:` block and resolves relative paths against `baseDir` (collapsing `.` and
 * `..`; symbolic links are followed only where grants are compared, see {@linkcode grantOutside}).
 *
 * @param input The raw block (`undefined` means none).
 * @param baseDir Absolute folder relative paths are resolved against; `null` keeps them relative
 *   (a remote container's paths are resolved by its agent, against its `--root`).
 * @returns The grant, or the first issue found.
 */
export function validatePermissions(
  input: unknown,
  baseDir: string | null,
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
      items.push(PATH_KINDS.has(kind) && baseDir !== null ? normalizePath(item, baseDir) : item);
    }
    if (items.length > 0) value[kind] = items;
  }
  return { ok: true, value };
}

/**
 * The `deno.permissions` object for a worker: exactly the grant, everything else denied, except
 * that `sys: true` leaves out what would change the process it shares (`umask`, `set*id`).
 * Module loading (`import`) inherits, since a worker's imports are checked against its host anyway.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toWorkerPermissions } from "./permissions.ts";
 * const p = toWorkerPermissions({ net: ["127.0.0.1:8080"], sys: true });
 * assert.equal(p.read, false);
 * assert.ok(Array.isArray(p.net));
 * assert.ok(Array.isArray(p.sys) && !p.sys.includes("umask"));
 * ```
 */
export function toWorkerPermissions(grant: Permissions): WorkerPermissions {
  const out = {} as WorkerPermissions;
  for (const kind of PERMISSION_KINDS) {
    const value = grant[kind];
    out[kind] = value === undefined
      ? (kind === "import" ? "inherit" : false)
      : value === true
      ? (kind === "sys" ? [...WORKER_SYS] : true)
      : [...value];
  }
  return out;
}

/**
 * The `deno run` flags for a process container: `--allow-KIND[=values]` per granted kind.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toProcessFlags } from "./permissions.ts";
 * assert.equal(toProcessFlags({ read: ["/srv"] })[0], "--allow-read=/srv");
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

/** An item of a grant that its limit does not cover (see {@linkcode grantOutside}). */
export interface GrantExcess {
  /** The permission kind. */
  kind: PermissionKind;
  /** The item as asked, or `true` for the whole kind. */
  value: true | string;
  /** What the item resolves to (`null` when nothing: symbolic links that loop), if not itself. */
  resolved?: string | null;
}

/**
 * The first item of `grant` that `parent` does not cover, or `null` when the grant lies within it.
 * Items are compared by what they grant, not as text (`config/_canonical.ts`): paths are collapsed
 * (`..`) and, given `fs`, followed through symbolic links on both sides, then a path is covered by
 * itself or a folder above it; `host:port` by the same host without a port (or a `*.domain` or
 * IPv4 CIDR around it); `env` names exactly or by a trailing `*`; `run` programs by the same real
 * program; `true` only by `true`.
 *
 * @param grant What is asked.
 * @param parent The limit.
 * @param options `base`: folder relative items resolve against (default `/`); `fs`: the file
 *   system to follow symbolic links in.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { grantOutside } from "./permissions.ts";
 * assert.equal(grantOutside({ read: ["/srv/a"] }, { read: ["/srv"] }), null);
 * assert.equal(grantOutside({ read: ["/srv/data/../.."] }, { read: ["/srv/data"] })?.resolved, "/");
 * assert.equal(grantOutside({ net: true }, { net: ["127.0.0.1"] })?.kind, "net");
 * ```
 */
export function grantOutside(
  grant: Permissions,
  parent: Permissions,
  options: { base?: string; fs?: FileSystemView } = {},
): GrantExcess | null {
  const base = options.base ?? "/";
  for (const kind of PERMISSION_KINDS) {
    const wanted = grant[kind];
    if (wanted === undefined) continue;
    const held = parent[kind];
    if (held === true) continue;
    if (held === undefined || wanted === true) {
      return { kind, value: wanted === true ? true : wanted[0] };
    }
    const limits = held.map((h) => canonicalItem(kind, h, base, options.fs))
      .filter((h): h is string => h !== undefined);
    for (const item of wanted) {
      const resolved = canonicalItem(kind, item, base, options.fs);
      if (resolved !== undefined && limits.some((h) => itemCovers(kind, h, resolved))) continue;
      return { kind, value: item, ...(resolved === item ? {} : { resolved: resolved ?? null }) };
    }
  }
  return null;
}

/**
 * `grant` with every item in its canonical form (real paths, normalised hosts; see
 * {@linkcode grantOutside}): what a host agent hands a container, so that what runs is what was
 * compared with its limits.
 *
 * @param grant A validated grant.
 * @param options As for {@linkcode grantOutside}.
 * @returns The grant in canonical form; items that resolve to nothing are left out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { canonicalGrant } from "./permissions.ts";
 * const grant = canonicalGrant({ read: ["data/../logs"], net: ["LOCALHOST:80"] }, { base: "/srv" });
 * assert.equal(JSON.stringify(grant), '{"net":["localhost:80"],"read":["/srv/logs"]}');
 * ```
 */
export function canonicalGrant(
  grant: Permissions,
  options: { base?: string; fs?: FileSystemView } = {},
): Permissions {
  const out: Permissions = {};
  for (const kind of PERMISSION_KINDS) {
    const value = grant[kind];
    if (value === undefined) continue;
    if (value === true) {
      out[kind] = true;
      continue;
    }
    const items = value.map((item) => canonicalItem(kind, item, options.base ?? "/", options.fs))
      .filter((item): item is string => item !== undefined);
    out[kind] = [...new Set(items)];
  }
  return out;
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

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "string") return `"${value}"`;
  return typeof value === "object" ? "a map" : `${typeof value} ${String(value)}`;
}
