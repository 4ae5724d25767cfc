/**
 * The management API on a socket: {@linkcode serveManagement} serves {@linkcode managementApp}
 * over HTTP/1.1 (`_http.ts`: connections, header and request times bounded; accept errors never
 * end the process), bound to the loopback interface unless told otherwise.
 *
 * The runtime never imports this module (`kraken start` does, when the topology has a
 * `management:` block), so an application that does not want the API does not load hono.
 *
 * @example Serving until `kraken shutdown`
 * ```ts
 * import assert from "node:assert/strict";
 * import { Runtime } from "jsr:@kraken/kraken";
 * import { serveManagement } from "jsr:@kraken/kraken/management";
 * const rt = await Runtime.start({ containers: {} }, { logLevel: "silent" });
 * const api = await serveManagement(rt, { listen: "127.0.0.1:0", token: "s3cret" });
 * console.log(`management API on ${api.url}`);
 *
 * // What `kraken shutdown` sends:
 * const headers = { authorization: "Bearer s3cret" };
 * const res = await fetch(new URL("v1/shutdown", api.url), { method: "POST", headers });
 * assert.equal(res.status, 202);
 * await res.body?.cancel();
 *
 * assert.equal(await rt.closed, null); // a clean shutdown
 * await api.close();
 * ```
 *
 * @module
 */
import { parseListenAddress } from "../config/topology.ts";
import type { Runtime } from "../runtime/runtime.ts";
import { managementApp, type ManagementAppOptions } from "./app.ts";
import { type HttpServer, serveHttp } from "./_http.ts";

export {
  type Authenticate,
  EVENT_TYPES,
  type EventType,
  type ManagementApp,
  managementApp,
  type ManagementAppOptions,
} from "./app.ts";
export type { ErrorBody } from "./error_body.ts";

/**
 * Where the management API listens when `listen` is not given.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_LISTEN } from "./server.ts";
 * assert.ok(DEFAULT_LISTEN.startsWith("127.0.0.1:"));
 * ```
 */
export const DEFAULT_LISTEN = "127.0.0.1:9090";

/**
 * Options of {@linkcode serveManagement}.
 *
 * @example
 * ```ts
 * import type { ServeManagementOptions } from "./server.ts";
 * const options: ServeManagementOptions = { listen: ":0", token: "s3cret" };
 * ```
 */
export interface ServeManagementOptions {
  /**
   * `host:port`, `:port` or `port` (host `127.0.0.1`); `[::1]:port` for IPv6; port `0` picks a
   * free one. Default {@linkcode DEFAULT_LISTEN}. Anything but loopback exposes the API to the
   * network: only the token protects it, so put TLS in front.
   */
  listen?: string;
  /** The bearer token every request must carry (non-empty; never logged). */
  token: string;
  /** Milliseconds between SSE keep-alive comments (default 15 s). */
  heartbeat?: number;
  /** Another way in than the token, tried first (e.g. a session cookie); see `managementApp`. */
  authenticate?: ManagementAppOptions["authenticate"];
  /** Log lines from before the server started (e.g. while the runtime booted), oldest first. */
  backlog?: ManagementAppOptions["backlog"];
  /**
   * Connections open at once (default 64): one more closes the oldest still sending its request
   * (or gets `503` when every one is being answered, e.g. streams).
   */
  maxConnections?: number;
  /** Longest wait for a request's head after connecting, ms (default 10 s). */
  headersTimeout?: number;
  /** Longest wait for a whole request (head and body) after connecting, ms (default 30 s). */
  requestTimeout?: number;
  /**
   * Told of trouble the server itself meets: failed accepts (e.g. out of file descriptors; at
   * most one report a second, and it keeps accepting) and errors that escaped the app. Default: a
   * line on stderr.
   */
  onError?: (error: Error) => void;
}

/**
 * A running management server.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Runtime } from "jsr:@kraken/kraken";
 * import { type ManagementServer, serveManagement } from "jsr:@kraken/kraken/management";
 * const rt = await Runtime.start({ containers: {} }, { logLevel: "silent" });
 * const api: ManagementServer = await serveManagement(rt, { listen: ":0", token: "s3cret" });
 * assert.equal(api.url.hostname, "127.0.0.1"); // loopback unless told otherwise
 * await api.close();
 * await api.close(); // safe twice
 * await rt.shutdown();
 * ```
 */
export interface ManagementServer {
  /** Its base URL, with the real port (`http://127.0.0.1:9090/`). */
  readonly url: URL;
  /** Ends open event and log streams and stops listening. Safe to call more than once. */
  close(): Promise<void>;
}

/**
 * Serves the management API of `rt` over HTTP until `close()` (or until the runtime shuts down,
 * which ends open streams; the socket stays open until `close()`).
 *
 * @param rt The running runtime.
 * @param options `listen` address and the bearer `token`.
 * @returns Where it listens, and how to stop it.
 * @throws {TypeError} An empty token or a malformed `listen`.
 * @throws {Deno.errors.AddrInUse} The port is taken.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Runtime } from "jsr:@kraken/kraken";
 * import { serveManagement } from "jsr:@kraken/kraken/management";
 * const rt = await Runtime.start({ containers: {} }, { logLevel: "silent" });
 * const api = await serveManagement(rt, { listen: "127.0.0.1:0", token: "s3cret" });
 * const res = await fetch(new URL("v1/tree", api.url), { headers: { authorization: "Bearer s3cret" } });
 * assert.equal((await res.json()).supervisor.state, "running");
 * await api.close();
 * await rt.shutdown();
 * ```
 */
export function serveManagement(
  rt: Runtime,
  options: ServeManagementOptions,
): Promise<ManagementServer> {
  try {
    return Promise.resolve(listen(rt, options));
  } catch (error) {
    return Promise.reject(error);
  }
}

function listen(rt: Runtime, options: ServeManagementOptions): ManagementServer {
  const { hostname, port } = parseListenAddress(options.listen ?? DEFAULT_LISTEN);
  const closing = new AbortController();
  const app = managementApp(rt, options.token, {
    signal: closing.signal,
    heartbeat: options.heartbeat,
    backlog: options.backlog,
    authenticate: options.authenticate,
  });
  let server: HttpServer;
  try {
    server = serveHttp({
      hostname,
      port,
      handler: app.fetch,
      maxConnections: options.maxConnections,
      headersTimeout: options.headersTimeout,
      requestTimeout: options.requestTimeout,
      // What escapes the app may happen before authentication: the client hears only "internal
      // error"; the details go to whoever runs the server.
      onError: options.onError ??
        ((error) => console.error(`kraken: management API: ${error.message}`)),
    });
  } catch (error) {
    closing.abort();
    throw error;
  }
  const addr = server.addr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  let closed: Promise<void> | null = null;
  return {
    url: new URL(`http://${host}:${addr.port}/`),
    close() {
      closed ??= (async () => {
        // Open streams would keep shutdown() waiting for ever: end them first.
        closing.abort();
        await server.close();
      })();
      return closed;
    },
  };
}
