/**
 * A container's `serve:` block: the address every replica listens on (`port`, `hostname`) and
 * what it serves there (`protocol`), and what follows from it — the `net` grant for that address
 * and Deno's unstable `net` feature (`reusePort`). Pure: no `Deno.*` here.
 *
 * @module
 */
import { readListen } from "./_listen.ts";
import { describe, isMap } from "./_describe.ts";
import { TOPOLOGY_VALUES } from "./_shape.ts";
import type { Path, Reader } from "./_reader.ts";
import type { ServeSpec } from "./model.ts";
import type { Permissions } from "./permissions.ts";
import type { UnstableFeature } from "./unstable.ts";

/** `hostname` when `serve:` leaves it out: every interface, as `Deno.serve`'s own default. */
export const SERVE_HOSTNAME = "0.0.0.0";

/** The largest `max_message:`: Deno's own bound on a WebSocket message (64 MiB). */
export const MAX_WS_MESSAGE = 64 * 1024 * 1024;

/**
 * Reads `serve:`: a port alone (`serve: 8080`) or
 * `{ port, hostname?, protocol?, websocket?, max_message? }` (`websocket` appears in the result
 * only when `true`, `maxMessage` only when `max_message:` is given, which needs `websocket: true`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Reader } from "./_reader.ts";
 * import { readServe } from "./_read_serve.ts";
 * const read = new Reader({ baseUrl: "file:///app/" });
 * assert.deepEqual(readServe(read, 8080, ["serve"]), { port: 8080, hostname: "0.0.0.0", protocol: "http" });
 * assert.throws(() => readServe(read, { port: 70000 }, ["serve"]), /0 to 65535/);
 * assert.equal(
 *   readServe(read, { port: 8080, websocket: true, max_message: "64KiB" }, ["serve"])?.maxMessage,
 *   65536,
 * );
 * ```
 */
export function readServe(r: Reader, input: unknown, path: Path): ServeSpec | undefined {
  if (input === undefined) return undefined;
  if (!isMap(input)) {
    return { port: port(r, input, path), hostname: SERVE_HOSTNAME, protocol: "http" };
  }
  const s = r.block(input, path, "serve");
  if (s.port === undefined) {
    r.missing(
      [...path, "port"],
      "the port every replica listens on, 0 to 65535 (0: one the runtime picks)",
    );
  }
  const spec: ServeSpec = {
    port: port(r, s.port, [...path, "port"]),
    hostname: s.hostname === undefined
      ? SERVE_HOSTNAME
      : hostname(r, s.hostname, [...path, "hostname"]),
    protocol: r.oneOf(s.protocol, [...path, "protocol"], TOPOLOGY_VALUES.protocol, "http"),
  };
  const maxMessage = s.max_message === undefined
    ? undefined
    : messageSize(r, s.max_message, [...path, "max_message"]);
  if (s.websocket === undefined && maxMessage === undefined) return spec;
  const websocket = s.websocket === undefined
    ? false
    : flag(r, s.websocket, [...path, "websocket"]);
  if (spec.protocol === "tcp") {
    const key = s.websocket === undefined ? "max_message" : "websocket";
    r.fail(
      [...path, key],
      `${key}: applies to protocol: http only (WebSocket upgrades of its fetch), and this container serves protocol: tcp (raw connections); remove ${key}: or serve http`,
      "key",
    );
  }
  if (maxMessage !== undefined && !websocket) {
    r.fail(
      [...path, "max_message"],
      "max_message: bounds incoming WebSocket messages, which need websocket: true; add websocket: true or remove max_message:",
      "key",
    );
  }
  if (!websocket) return spec;
  return maxMessage === undefined ? { ...spec, websocket } : { ...spec, websocket, maxMessage };
}

/** `max_message:`: a size from 1 KiB to Deno's 64 MiB. */
function messageSize(r: Reader, value: unknown, path: Path): number {
  const n = r.size(value, path, 0);
  if (n > MAX_WS_MESSAGE) {
    r.fail(
      path,
      `expected a size from 1KiB to 64MiB (Deno's own bound on a WebSocket message) such as 64KiB, got ${
        describe(value)
      }`,
    );
  }
  return n;
}

/** `true` or `false` (the strings too: they may come from `${VAR}`). */
function flag(r: Reader, value: unknown, path: Path): boolean {
  if (value === true || value === "true") return true;
  if (value === false || value === "false") return false;
  return r.fail(
    path,
    `expected true (WebSocket upgrades work, through Deno.serveHttp) or false (the fast path, no upgrades), got ${
      describe(value)
    }`,
  );
}

function port(r: Reader, value: unknown, path: Path): number {
  const n = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 65535) {
    r.fail(
      path,
      `expected a port from 0 to 65535 (0: one the runtime picks, shared by every replica), got ${
        describe(value)
      }`,
    );
  }
  return n;
}

function hostname(r: Reader, value: unknown, path: Path): string {
  const text = typeof value === "string" ? value.trim() : "";
  const read = readListen(`${text.includes(":") && !text.startsWith("[") ? `[${text}]` : text}:0`);
  if (text === "" || "problem" in read) {
    r.fail(
      path,
      `expected a host name or IP address to listen on, such as 0.0.0.0, 127.0.0.1 or ::1, got ${
        describe(value)
      }`,
    );
  }
  return read.hostname;
}

/**
 * The `net` item that lets a container listen where `serve` says: `host:port`, an IPv6 host in
 * brackets. Port 0 has no item of its own: the runtime derives it once it has picked the port.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serveGrantItem } from "./_read_serve.ts";
 * assert.equal(serveGrantItem({ port: 8080, hostname: "0.0.0.0", protocol: "http" }), "0.0.0.0:8080");
 * assert.equal(serveGrantItem({ port: 8080, hostname: "::1", protocol: "http" }), "[::1]:8080");
 * ```
 */
export function serveGrantItem(serve: ServeSpec): string {
  const host = serve.hostname.includes(":") ? `[${serve.hostname}]` : serve.hostname;
  return `${host}:${serve.port}`;
}

/**
 * `permissions` with the `net` item of `serve` added (unless `net` already covers it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { withServeGrant } from "./_read_serve.ts";
 * const serve = { port: 8080, hostname: "127.0.0.1", protocol: "http" as const };
 * assert.deepEqual(withServeGrant({}, serve).net, ["127.0.0.1:8080"]);
 * assert.equal(withServeGrant({ net: true }, serve).net, true);
 * ```
 */
export function withServeGrant(permissions: Permissions, serve: ServeSpec): Permissions {
  const item = serveGrantItem(serve);
  const net = permissions.net;
  if (net === true || (Array.isArray(net) && net.includes(item))) return permissions;
  return { ...permissions, net: [...(net ?? []), item] };
}

/**
 * The unstable features of a serving container: its own plus `net` (`reusePort`, with which every
 * replica listens on the same port).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { withServeUnstable } from "./_read_serve.ts";
 * assert.deepEqual(withServeUnstable(["kv"]), ["kv", "net"]);
 * ```
 */
export function withServeUnstable(unstable: readonly UnstableFeature[]): UnstableFeature[] {
  return unstable.includes("net") ? [...unstable] : [...unstable, "net"];
}
