/**
 * `management.listen`: `host:port`, `port` or `:port`, the host defaulting to 127.0.0.1.
 *
 * @module
 */

const HOST_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const EXPECTED = `expected "host:port", "port" or ":port" such as 127.0.0.1:9090`;

/**
 * The parts of a listen address and the address normalised, or what is wrong with it (never
 * throws: the validator puts the problem in a `TopologyError`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readListen } from "./_listen.ts";
 * const read = readListen(":9090");
 * assert.ok("listen" in read);
 * assert.equal(read.listen, "127.0.0.1:9090");
 * assert.ok("problem" in readListen("x:99999"));
 * ```
 */
export function readListen(
  value: unknown,
): { hostname: string; port: number; listen: string } | { problem: string } {
  if (typeof value === "number" && !(Number.isInteger(value) && value >= 0)) {
    return { problem: `expected a port from 0 to 65535, got number ${value}` };
  }
  const text = typeof value === "number" ? String(value) : value;
  if (typeof text !== "string" || text.trim() === "") {
    return { problem: `${EXPECTED}, got ${kind(value)}` };
  }
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(text.trim());
  if (scheme) {
    // A URL (http://127.0.0.1:9090): the API is always plain HTTP here; only the address counts.
    return {
      problem: `${EXPECTED}, got "${text}"; write the address without a scheme: ${scheme[1]}`,
    };
  }
  const m = /^(?:(\[[^\]]*\]|[^:[\]]*):)?([^:]*)$/.exec(text.trim());
  if (!m) {
    const ipv6 = text.split(":").length > 2 ? "; an IPv6 host goes in brackets: [::1]:9090" : "";
    return { problem: `${EXPECTED}, got "${text}"${ipv6}` };
  }
  const [, hostPart = "", portPart] = m;
  if (!/^\d+$/.test(portPart)) {
    if (m[1] === undefined) {
      // No colon at all: a host name alone (localhost), which leaves the port unsaid.
      return {
        problem: `${EXPECTED}, got "${text}", which has no port: write ${text.trim()}:9090`,
      };
    }
    return { problem: `${EXPECTED}, got "${text}", whose port "${portPart}" is not a number` };
  }
  const port = Number(portPart);
  if (port > 65535) {
    return { problem: `expected a port from 0 to 65535, got ${port} in "${text}"` };
  }
  const hostname = hostPart === "" ? "127.0.0.1" : hostPart.replace(/^\[(.*)\]$/, "$1");
  const ipv6 = hostPart.startsWith("[");
  if (ipv6 ? !isIpv6(hostname) : !isHost(hostname)) {
    return {
      problem: `expected a host name or IP address before ":", got "${hostPart}" in "${text}"`,
    };
  }
  return { hostname, port, listen: `${ipv6 ? `[${hostname}]` : hostname}:${port}` };
}

/**
 * Splits a `management.listen` address (as `ManagementSpec.listen` holds it, or as written)
 * into the hostname and port `Deno.serve` takes. An IPv6 host comes back without its brackets.
 *
 * @param listen `"127.0.0.1:9090"`, `"[::1]:9090"`, `"9090"` or `":9090"` (host 127.0.0.1).
 * @returns The hostname and the port (0 lets the system choose).
 * @throws {TypeError} When it is not such an address, saying what is wrong.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseListenAddress } from "./topology.ts";
 * const { hostname, port } = parseListenAddress("127.0.0.1:9090");
 * assert.equal(hostname, "127.0.0.1");
 * assert.equal(port, 9090);
 * assert.equal(parseListenAddress(":0").hostname, "127.0.0.1");
 * ```
 */
export function parseListenAddress(listen: string): { hostname: string; port: number } {
  const read = readListen(listen);
  if ("problem" in read) throw new TypeError(`listen address: ${read.problem}`);
  return { hostname: read.hostname, port: read.port };
}

function isHost(host: string): boolean {
  if (/^[\d.]+$/.test(host)) {
    const parts = host.split(".");
    return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
  }
  return host.length <= 253 && host.split(".").every((label) => HOST_LABEL.test(label));
}

function isIpv6(host: string): boolean {
  if (!/^[0-9A-Fa-f:.]+$/.test(host) || !host.includes(":")) return false;
  try {
    new URL(`http://[${host}]/`);
    return true;
  } catch {
    return false;
  }
}

function kind(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null (an empty value)";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "string") return "an empty string";
  return typeof value === "object" ? "a map" : `${typeof value} ${String(value)}`;
}
