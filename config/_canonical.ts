/**
 * Permission items compared by what they grant, not by how they are written: a path with `..` or
 * through a symbolic link, a host in capitals or with a trailing dot, `[0:0::1]` and `[::1]` are
 * each brought to one canonical form before a grant is compared with a limit.
 *
 * - **paths** (`read`, `write`, `ffi`, `unix:` of `net`): made absolute against a base folder and
 *   collapsed lexically (`a/../b` is `b`, as Deno reads its own flags), then every symbolic link on
 *   the way is followed — dangling ones too — down to the longest prefix that exists; the rest is
 *   appended as written. A path is covered by itself or a folder above it.
 * - **net**, **import**: `host` or `host:port`; host names are lower-cased without a trailing dot,
 *   IPv6 addresses compressed in brackets. No DNS: a name never covers an address nor the reverse.
 *   A limit without a port covers every port; `*.example.com` covers `example.com` and every name
 *   below it; an IPv4 CIDR (`10.0.0.0/8`) covers the addresses and narrower CIDRs inside it.
 * - **run**: a path is its real path; a bare name is the real path of what `PATH` finds for it (or
 *   the name itself, compared exactly, when nothing is found). Covered only by the same program.
 * - **env**: exact names; a trailing `*` (Deno's prefix wildcard) covers every name it prefixes.
 * - **sys**: exact names.
 *
 * Pure: the file system is asked through an injected {@linkcode FileSystemView}.
 *
 * @module
 */

import type { FileSystemView } from "./file_system_view.ts";

export type { FileSystemView };

/** Links followed while resolving one path before giving up (Linux's own limit is 40). */
const MAX_LINKS = 40;

/**
 * `path` made absolute against folder `base` and collapsed lexically, without a trailing `/`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { normalizePath } from "./_canonical.ts";
 * assert.equal(normalizePath("data/../../x", "/srv/app"), "/srv/x");
 * assert.equal(normalizePath("/a/./b/..", "/ignored"), "/a");
 * ```
 */
export function normalizePath(path: string, base: string): string {
  const parts: string[] = [];
  for (const part of `${path.startsWith("/") ? "" : `${base}/`}${path}`.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return `/${parts.join("/")}`;
}

/**
 * The real path of absolute `path`: every symbolic link followed (a dangling one too), down to the
 * longest prefix that exists; what does not exist is appended as written.
 *
 * @returns The real path, or `undefined` when links loop.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { realPath } from "./_canonical.ts";
 * const links: Record<string, string> = { "/srv/app/data/etc": "/etc" };
 * const fs = { readLink: (p: string) => links[p] ?? (p.startsWith("/srv/app/data/new") ? undefined : null) };
 * assert.equal(realPath("/srv/app/data/etc/passwd", fs), "/etc/passwd");
 * assert.equal(realPath("/srv/app/data/new/file", fs), "/srv/app/data/new/file");
 * ```
 */
export function realPath(path: string, fs: FileSystemView): string | undefined {
  const todo = normalizePath(path, "/").split("/").filter(Boolean);
  let done = "";
  let links = 0;
  while (todo.length > 0) {
    const part = todo.shift()!;
    if (part === ".") continue;
    if (part === "..") {
      done = done.slice(0, done.lastIndexOf("/"));
      continue;
    }
    const next = `${done}/${part}`;
    const link = fs.readLink(next);
    if (link === undefined) {
      // Nothing is there, so nothing below it is a link: the rest is as written (collapsed).
      return normalizePath(todo.join("/"), next);
    }
    if (link === null) {
      done = next;
      continue;
    }
    if (++links > MAX_LINKS) return undefined;
    if (link.startsWith("/")) done = "";
    todo.unshift(...link.split("/").filter(Boolean));
  }
  return done === "" ? "/" : done;
}

/**
 * Whether absolute `path` is `folder` or lies below it (both canonical).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pathWithin } from "./_canonical.ts";
 * assert.ok(pathWithin("/srv/app/x.ts", "/srv/app"));
 * assert.ok(!pathWithin("/srv/application", "/srv/app"));
 * ```
 */
export function pathWithin(path: string, folder: string): boolean {
  return folder === "/" || path === folder || path.startsWith(`${folder}/`);
}

/** A `net`/`import` item taken apart. */
type NetItem =
  | { kind: "name" | "ip4" | "ip6"; host: string; port?: string }
  | { kind: "wildcard"; base: string; port?: string }
  | { kind: "cidr"; net: number; bits: number; port?: string }
  | { kind: "unix"; path: string }
  | { kind: "other"; text: string };

function ip4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const bytes = m.slice(1).map(Number);
  if (bytes.some((b) => b > 255)) return undefined;
  return ((bytes[0] << 24) >>> 0) + (bytes[1] << 16) + (bytes[2] << 8) + bytes[3];
}

function ip4Text(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

function parseNet(item: string, base: string, fs: FileSystemView | undefined): NetItem {
  if (item.startsWith("unix:")) {
    const path = normalizePath(item.slice(5), base);
    const real = fs ? realPath(path, fs) : path;
    return real === undefined ? { kind: "other", text: item } : { kind: "unix", path: real };
  }
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(item);
  if (bracketed) {
    try {
      const host = new URL(`http://[${bracketed[1]}]/`).hostname; // compressed, lower case
      return { kind: "ip6", host, port: bracketed[2] };
    } catch {
      return { kind: "other", text: item };
    }
  }
  const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(item);
  if (!m) return { kind: "other", text: item };
  const port = m[2] === undefined ? undefined : String(Number(m[2]));
  const cidr = /^([\d.]+)\/(\d{1,2})$/.exec(m[1]);
  if (cidr) {
    const address = ip4(cidr[1]);
    const bits = Number(cidr[2]);
    if (address === undefined || bits > 32) return { kind: "other", text: item };
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    return { kind: "cidr", net: (address & mask) >>> 0, bits, port };
  }
  if (ip4(m[1]) !== undefined) return { kind: "ip4", host: ip4Text(ip4(m[1])!), port };
  const host = m[1].toLowerCase().replace(/\.$/, "");
  if (host.startsWith("*.")) return { kind: "wildcard", base: host.slice(2), port };
  if (!/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(host)) return { kind: "other", text: item };
  return { kind: "name", host, port };
}

function netText(item: NetItem): string {
  const port = "port" in item && item.port !== undefined ? `:${item.port}` : "";
  switch (item.kind) {
    case "name":
    case "ip4":
    case "ip6":
      return `${item.host}${port}`;
    case "wildcard":
      return `*.${item.base}${port}`;
    case "cidr":
      return `${ip4Text(item.net)}/${item.bits}${port}`;
    case "unix":
      return `unix:${item.path}`;
    case "other":
      return item.text;
    default: {
      const never: never = item;
      return String(never);
    }
  }
}

function nameWithin(name: string, base: string): boolean {
  return name === base || name.endsWith(`.${base}`);
}

function netCovers(held: NetItem, wanted: NetItem): boolean {
  if (held.kind === "other" || wanted.kind === "other") {
    return held.kind === "other" && wanted.kind === "other" && held.text === wanted.text;
  }
  if (held.kind === "unix" || wanted.kind === "unix") {
    return held.kind === "unix" && wanted.kind === "unix" && held.path === wanted.path;
  }
  if (held.port !== undefined && held.port !== wanted.port) return false;
  switch (held.kind) {
    case "cidr": {
      const mask = held.bits === 0 ? 0 : (~0 << (32 - held.bits)) >>> 0;
      if (wanted.kind === "ip4") return ((ip4(wanted.host)! & mask) >>> 0) === held.net;
      return wanted.kind === "cidr" && wanted.bits >= held.bits &&
        ((wanted.net & mask) >>> 0) === held.net;
    }
    case "wildcard":
      if (wanted.kind === "name") return nameWithin(wanted.host, held.base);
      return wanted.kind === "wildcard" && nameWithin(wanted.base, held.base);
    default:
      return wanted.kind === held.kind && wanted.host === held.host;
  }
}

/** Kinds whose items are paths. */
const PATHS: ReadonlySet<string> = new Set(["read", "write", "ffi"]);

/**
 * The canonical form of one permission item of kind `kind` (see the module doc).
 *
 * @param kind The permission kind (`read`, `net`, ...).
 * @param item The item as validated.
 * @param base Absolute folder relative paths resolve against.
 * @param fs The file system, to follow symbolic links (without it, paths are only collapsed).
 * @returns The canonical item, or `undefined` when it resolves to nothing (symbolic links loop).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { canonicalItem } from "./_canonical.ts";
 * assert.equal(canonicalItem("read", "data/../../..", "/srv/app"), "/");
 * assert.equal(canonicalItem("net", "API.Example.com.:443", "/"), "api.example.com:443");
 * assert.equal(canonicalItem("net", "[0:0::1]:80", "/"), "[::1]:80");
 * ```
 */
export function canonicalItem(
  kind: string,
  item: string,
  base: string,
  fs?: FileSystemView,
): string | undefined {
  if (PATHS.has(kind)) {
    const path = normalizePath(item, base);
    return fs ? realPath(path, fs) : path;
  }
  if (kind === "net" || kind === "import") {
    const parsed = parseNet(item, base, fs);
    return parsed.kind === "other" && item.startsWith("unix:") ? undefined : netText(parsed);
  }
  if (kind === "run") {
    const found = item.includes("/") ? normalizePath(item, base) : fs?.which?.(item);
    if (found === undefined) return item;
    return fs ? realPath(found, fs) : found;
  }
  return item;
}

/**
 * Whether canonical item `held` of kind `kind` grants all that canonical item `wanted` does.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { itemCovers } from "./_canonical.ts";
 * assert.ok(itemCovers("read", "/srv/app/data", "/srv/app/data/x"));
 * assert.ok(!itemCovers("read", "/srv/app/data", "/srv/app/database"));
 * assert.ok(itemCovers("net", "10.0.0.0/8", "10.1.2.3:5432"));
 * assert.ok(!itemCovers("net", "db.internal:5432", "db.internal"));
 * assert.ok(itemCovers("env", "AWS_*", "AWS_REGION"));
 * ```
 */
export function itemCovers(kind: string, held: string, wanted: string): boolean {
  if (PATHS.has(kind)) return pathWithin(wanted, held);
  if (kind === "net" || kind === "import") {
    return netCovers(parseNet(held, "/", undefined), parseNet(wanted, "/", undefined));
  }
  if (kind === "env" && held.endsWith("*")) {
    return (wanted.endsWith("*") ? wanted.slice(0, -1) : wanted).startsWith(held.slice(0, -1));
  }
  return held === wanted;
}
