/**
 * Which per-connection HTTP server this isolate has, reached once when this module is evaluated —
 * at isolate boot, before any container module is imported — so that container code that later
 * replaces `Deno[Deno.internal]` or `Deno.serveHttp` cannot change what the runtime serves with.
 *
 * The fast path is `Deno[Deno.internal].serveHttpOnConnection(conn, signal, handler, onError,
 * onListen)`: the native server `Deno.serve` runs, on one connection Kraken accepted (~0.96× of a
 * bare `Deno.serve`). It is internal: checked on Deno 2.9.6 (five arguments, returning
 * `{ finished, shutdown }`; `shutdown()` ends an idle connection, one halfway through a request
 * head included, and lets a request under way finish). If a Deno release renames it or changes
 * that shape, {@linkcode chooseHttpServer} finds no function and HTTP falls back to
 * `Deno.serveHttp` (~0.5×); a changed signature would instead fail every request, which
 * tests/serve (http_test, nodelay_test) catch at once. It ends a WebSocket at its upgrade, hence
 * `serve: { websocket: true }` for containers that upgrade.
 *
 * @module
 */

/** A served connection of the fast path. */
export interface FastConnection {
  /** Settles once the connection has ended. */
  readonly finished: Promise<void>;
  /** Ends the connection once the request under way (if any) is answered. */
  shutdown(): Promise<void>;
}

/** Deno's internal per-connection HTTP server (the fast path). */
export type FastServe = (
  conn: Deno.Conn,
  signal: AbortSignal | undefined,
  handler: (
    request: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ) => Response | Promise<Response>,
  onError: (error: unknown) => Response,
  onListen: () => void,
) => FastConnection;

/** One request on a connection served by `Deno.serveHttp`. */
export interface RequestEvent {
  /** The request. */
  readonly request: Request;
  /** Sends the response; settles once it is out (or the client went away). */
  respondWith(response: Response | Promise<Response>): Promise<void>;
}

/** A connection served by `Deno.serveHttp`. */
export interface HttpConn {
  /** The next request on the connection; `null` once it has ended. */
  nextRequest(): Promise<RequestEvent | null>;
  /** Closes the connection. */
  close(): void;
}

/** `Deno.serveHttp` (Deno 2 keeps it at run time though its types no longer list it). */
export type ServeHttp = (conn: Deno.Conn) => HttpConn;

/** The HTTP servers an isolate may have, fastest first. */
export type HttpServerChoice =
  | { kind: "fast"; serve: FastServe }
  | { kind: "conn"; serve: ServeHttp }
  | { kind: "serve" };

/**
 * The server to use for a container, from what `deno` (the `Deno` namespace) offers: with
 * `websocket: false`, the fast path if present, else `Deno.serveHttp`, else `Deno.serve`; with
 * `websocket: true`, `Deno.serveHttp`, else `Deno.serve` (both keep a WebSocket past its upgrade).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chooseHttpServer } from "./_serve_fast.ts";
 * assert.equal(chooseHttpServer({ serveHttp: () => {} }, false).kind, "conn");
 * assert.equal(chooseHttpServer({}, false).kind, "serve");
 * ```
 */
export function chooseHttpServer(deno: object, websocket: boolean): HttpServerChoice {
  const namespace = deno as Record<string | symbol, unknown>;
  if (!websocket) {
    const key = Object.getOwnPropertySymbols(deno).find((s) => s.description === "Deno.internal");
    const internal = key === undefined ? undefined : namespace[key];
    const fast = typeof internal === "object" && internal !== null
      ? (internal as Record<string, unknown>).serveHttpOnConnection
      : undefined;
    if (typeof fast === "function") return { kind: "fast", serve: fast as FastServe };
  }
  const serveHttp = namespace.serveHttp;
  if (typeof serveHttp === "function") {
    return { kind: "conn", serve: (conn) => (serveHttp as ServeHttp).call(deno, conn) };
  }
  return { kind: "serve" };
}

/** What this isolate had at boot, for containers without and with `websocket: true`. */
const AT_BOOT = {
  fast: chooseHttpServer(Deno, false),
  websocket: chooseHttpServer(Deno, true),
};

/**
 * The server chosen at isolate boot for a container serving with `websocket`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bootHttpServer } from "./_serve_fast.ts";
 * assert.notEqual(bootHttpServer(true).kind, "fast");
 * ```
 */
export function bootHttpServer(websocket: boolean): HttpServerChoice {
  return websocket ? AT_BOOT.websocket : AT_BOOT.fast;
}
