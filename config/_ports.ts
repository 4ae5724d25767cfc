/**
 * Who listens where in a topology: every container's `serve:` address, `management.listen` and
 * `transports.listen`. Two that overlap (same TCP port, hostnames equal or either a wildcard) are a
 * `TopologyError` — they would split the traffic silently, or fail late; a `net` grant that would
 * let a sandboxed container listen on another's `serve:` address is a warning (Deno's `net` grant
 * does not tell connecting from listening). Pure: no `Deno.*` here.
 *
 * @module
 */
import type { ContainerSpec } from "./model.ts";

/** Stands for every interface (`0.0.0.0`, `::`, an empty hostname as Deno reads it). */
const ANY = "*";

function host(hostname: string): string {
  return hostname.toLowerCase().replace(/^\[(.*)\]$/, "$1");
}

/**
 * The addresses a hostname listens on, each in one canonical spelling, so that aliases compare
 * equal: IPv4 in any form the URL parser reads (`127.000.000.001`, `0x7f.1`), IPv6 compressed, an
 * IPv4-mapped IPv6 address as its IPv4 one, `localhost` as both loopbacks, wildcards as {@link ANY}.
 * Other names are compared by name (resolving them is not this pure function's to do).
 */
function addresses(hostname: string): string[] {
  const name = host(hostname);
  if (name === "") return [ANY];
  if (name === "localhost") return ["127.0.0.1", "::1"];
  let canonical = name;
  try {
    canonical = host(new URL(`http://${name.includes(":") ? `[${name}]` : name}/`).hostname);
  } catch {
    // not a hostname a URL can hold: compared as written
  }
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (mapped) {
    const [hi, lo] = [parseInt(mapped[1], 16), parseInt(mapped[2], 16)];
    canonical = [hi >> 8, hi & 255, lo >> 8, lo & 255].join(".");
  }
  return canonical === "0.0.0.0" || canonical === "::" ? [ANY] : [canonical];
}

/**
 * Whether two TCP listeners would share a port: the same port (0, one picked, never collides)
 * and hostnames equal or either a wildcard.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { overlaps } from "./_ports.ts";
 * assert.ok(overlaps({ hostname: "0.0.0.0", port: 80 }, { hostname: "127.0.0.1", port: 80 }));
 * assert.ok(!overlaps({ hostname: "127.0.0.1", port: 80 }, { hostname: "127.0.0.2", port: 80 }));
 * assert.ok(!overlaps({ hostname: "0.0.0.0", port: 0 }, { hostname: "0.0.0.0", port: 0 }));
 * // Aliases of one address overlap:
 * assert.ok(overlaps({ hostname: "localhost", port: 80 }, { hostname: "127.000.000.001", port: 80 }));
 * assert.ok(overlaps({ hostname: "::ffff:127.0.0.1", port: 80 }, { hostname: "127.0.0.1", port: 80 }));
 * assert.ok(overlaps({ hostname: "0:0:0:0:0:0:0:0", port: 80 }, { hostname: "::1", port: 80 }));
 * ```
 */
export function overlaps(
  a: { hostname: string; port: number },
  b: { hostname: string; port: number },
): boolean {
  if (a.port === 0 || a.port !== b.port) return false;
  const x = addresses(a.hostname);
  const y = addresses(b.hostname);
  return x.includes(ANY) || y.includes(ANY) || x.some((address) => y.includes(address));
}

/**
 * The address a `transports.listen` URL (`tcp://` or `ws://`) listens on, if it names one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { transportsAddress } from "./_ports.ts";
 * assert.deepEqual(transportsAddress("tcp://127.0.0.1:7070"), { hostname: "127.0.0.1", port: 7070 });
 * assert.deepEqual(transportsAddress("ws://[::1]"), { hostname: "::1", port: 80 });
 * ```
 */
export function transportsAddress(listen: string): { hostname: string; port: number } | null {
  let url: URL;
  try {
    url = new URL(listen);
  } catch {
    return null;
  }
  const defaults: Record<string, number> = { "ws:": 80, "wss:": 443 };
  const port = url.port === "" ? defaults[url.protocol] : Number(url.port);
  if (port === undefined || !Number.isInteger(port)) return null;
  return { hostname: host(url.hostname), port };
}

/**
 * What a `net` grant lets its holder listen on that overlaps `serve` (whose owner is another
 * container): `true` (every address), or a `host` or `host:port` item on the same port whose host
 * is equal or a wildcard (or `serve`'s is). `undefined` when nothing does.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { listenGrantOn } from "./_ports.ts";
 * const api = { hostname: "0.0.0.0", port: 8080, protocol: "http" as const };
 * assert.equal(listenGrantOn(["127.0.0.1:8080"], api), "127.0.0.1:8080");
 * assert.equal(listenGrantOn(["127.0.0.1:9090"], api), undefined);
 * ```
 */
export function listenGrantOn(
  net: true | readonly string[] | undefined,
  serve: { hostname: string; port: number },
): string | undefined {
  if (net === undefined || serve.port === 0) return undefined;
  if (net === true) return "net: true";
  for (const item of net) {
    const m = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(item);
    if (!m) continue;
    const port = m[2] === undefined ? serve.port : Number(m[2]);
    if (overlaps({ hostname: m[1], port }, serve)) return item;
  }
  return undefined;
}

/** Every container of `containers` and its descendants, depth first. */
function* walk(containers: readonly ContainerSpec[]): Generator<ContainerSpec> {
  for (const c of containers) {
    yield c;
    yield* walk(c.children);
  }
}

/**
 * The warnings for sandboxed (worker or process) containers whose `net` grant would let them
 * listen on another container's `serve:` address: Deno's grant does not tell connecting from
 * listening, so a grant to call a served port also lets its holder listen there.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateTopology } from "./topology.ts";
 * import { listenGrantWarnings } from "./_ports.ts";
 * const t = validateTopology({ containers: {
 *   api: { module: "./api.ts", serve: 8080 },
 *   web: { module: "./web.ts", mode: "process", permissions: { net: ["127.0.0.1:8080"] } },
 * } }, { baseUrl: "file:///app/" });
 * assert.match(listenGrantWarnings(t.containers)[0], /container "web".*"127\.0\.0\.1:8080".*"api"/);
 * ```
 */
export function listenGrantWarnings(containers: readonly ContainerSpec[]): string[] {
  const all = [...walk(containers)];
  const out: string[] = [];
  for (const holder of all) {
    if (holder.mode !== "worker" && holder.mode !== "process") continue;
    for (const served of all) {
      if (served === holder || !served.serve) continue;
      const item = listenGrantOn(holder.permissions.net, served.serve);
      if (item === undefined) continue;
      const address = `${served.serve.hostname}:${served.serve.port}`;
      out.push(
        `${holder.mode} container "${holder.name}" has net grant "${item}", which lets it listen on ${address}, the serve: address of container "${served.name}" (Deno's net grant does not tell connecting from listening)${
          holder.serve
            ? ""
            : holder.unstable.includes("net")
            ? `; with unstable: [net] and no serve: of its own it may even join that port with reusePort and take a share of "${served.name}"'s clients`
            : ""
        }; if it only calls "${served.name}", prefer request/reply over the runtime, or a grant on another address (see docs/security.md)`,
      );
    }
  }
  return out;
}

/**
 * Who already listens where a container about to be spawned into a running topology would serve:
 * another container's `serve:` (on the same host), `management.listen` or `transports.listen`;
 * `null` when nobody does. The whole-topology check runs when a file is validated; this one runs
 * for what is added later (`rt.spawn`, `kraken spawn`). `portOf` gives the port a running container
 * listens on (its `port: 0` resolved).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateContainer, validateTopology } from "./topology.ts";
 * import { listenerClash } from "./_ports.ts";
 * const options = { baseUrl: "file:///app/" };
 * const t = validateTopology({ containers: { api: { module: "./api.ts", serve: 8080 } } }, options);
 * const evil = validateContainer("evil", { module: "./e.ts", serve: { port: 8080, hostname: "localhost" } }, options);
 * assert.match(listenerClash(evil, t) ?? "", /container "api"/);
 * ```
 */
export function listenerClash(
  spec: ContainerSpec,
  topology: {
    containers: readonly ContainerSpec[];
    management?: { listen: string };
    transports?: { listen?: string };
  },
  portOf: (name: string) => number | undefined = () => undefined,
): string | null {
  const serve = spec.serve;
  if (!serve || serve.port === 0) return null;
  for (const other of walk(topology.containers)) {
    if (other.name === spec.name || !other.serve) continue;
    const sameHost = (other.mode === "remote") === (spec.mode === "remote") &&
      (spec.mode !== "remote" || other.host === spec.host);
    // `port: 0` was resolved when it started: the port it listens on is what counts.
    const theirs = { hostname: other.serve.hostname, port: portOf(other.name) ?? other.serve.port };
    if (sameHost && overlaps(serve, theirs)) {
      return `container "${other.name}" (${theirs.hostname}:${theirs.port})`;
    }
  }
  if (spec.mode === "remote") return null;
  const management = topology.management?.listen;
  if (management) {
    const at = management.lastIndexOf(":");
    const address = { hostname: management.slice(0, at), port: Number(management.slice(at + 1)) };
    if (overlaps(serve, address)) return `management.listen (${management})`;
  }
  const listen = topology.transports?.listen;
  const transports = listen ? transportsAddress(listen) : null;
  if (transports && overlaps(serve, transports)) return `transports.listen (${listen})`;
  return null;
}
