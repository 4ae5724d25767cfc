/**
 * HTTP on a listener of its own: Kraken accepts each connection and serves it with one of Deno's
 * per-connection HTTP servers, so that stopping is graceful per connection, which `Deno.serve`'s
 * own `shutdown()` is not.
 *
 * Why: `Deno.serve(...).shutdown()` closes the listener and, at the same instant, every connection
 * it has accepted but read no request from yet — including one whose request is already on its
 * way (its client sees "connection closed before message completed") — and keep-alive connections
 * their clients are about to reuse. Here a draining replica stops accepting, then closes each
 * connection only at a clean point: after the response to its next request (sent with
 * `connection: close`, so the client knows), or once it has been idle for a while.
 *
 * Two servers (runtime/_serve_fast.ts picks one at isolate boot): by default Deno's internal
 * per-connection server, the one `Deno.serve` runs (~0.96× of a bare `Deno.serve`), which ends a
 * WebSocket at its upgrade; with `serve: { websocket: true }`, `Deno.serveHttp` (~0.5×), on which
 * WebSockets work (pinned by tests/serve/platform_test.ts).
 *
 * Bounds, so that idle or slowloris connections do not pile up: a new connection must send its
 * first request head within {@linkcode FIRST_REQUEST_MS}, and a keep-alive connection idle longer
 * than {@linkcode KEEPALIVE_IDLE_MS} is closed. Accepting survives failed accepts (out of file
 * descriptors): see `transports/_accept.ts`.
 *
 * @module
 */
import { type AcceptLoop, acceptLoop } from "../transports/_accept.ts";
import { httpErrorResponse } from "./http_errors.ts";
import type { FastServe, HttpConn, RequestEvent, ServeHttp } from "./_serve_fast.ts";

/** How long a connection may stay idle once its replica drains before it is closed anyway. */
export const DRAIN_IDLE_MS = 300;

/** How long a new connection may take to send its first request head, ms. */
export const FIRST_REQUEST_MS = 10_000;

/** How long a keep-alive connection may stay idle between requests, ms. */
export const KEEPALIVE_IDLE_MS = 60_000;

type Handler = (request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => unknown;

/** How long connections may wait (tests shorten them). */
export interface HttpBounds {
  /** For the first request head of a new connection, ms (default {@linkcode FIRST_REQUEST_MS}). */
  firstRequestMs?: number;
  /** Between two requests of a keep-alive connection, ms (default {@linkcode KEEPALIVE_IDLE_MS}). */
  idleMs?: number;
}

/** One accepted connection and where it stands. */
export interface Connection {
  /** Ends the connection at a clean point (the server's own way). */
  end(): void;
  /** Requests under way on it. */
  active: number;
  /** Requests it has begun. */
  requests: number;
  /** When it last went idle (or was accepted). */
  idleSince: number;
  /** It is being closed. */
  closing: boolean;
  /** A request on it was upgraded (a WebSocket now owns it). */
  upgraded: boolean;
}

/** What a per-connection server is given: how to answer, and where to report its requests. */
export interface Hooks {
  /** The connection's record (the server counts its requests there). */
  readonly conn: Connection;
  /** Answers one request (never rejects: failures become the error mapping's response). */
  respond(
    request: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ): Response | Promise<Response>;
  /** The server failed a request itself (a malformed one). */
  failed(error: unknown): Response;
}

/** Serves one accepted connection; settles once it has ended. */
export type ServeConnection = (tcp: Deno.TcpConn, hooks: Hooks) => Promise<void>;

/** What the HTTP listener tells its owner. */
export interface HttpEvents {
  /** A request failed (answered by the error mapping). */
  error(error: unknown): void;
  /** An accept failed (at most once a second, with how many more it stands for); retried. */
  acceptFailed(error: Error, more: number, pause: number): void;
  /** A response went out (for the figures). */
  answered(): void;
  /** A request was upgraded to this WebSocket. */
  upgraded(request: Request): void;
}

/** The fast path: Deno's internal per-connection server (see runtime/_serve_fast.ts). */
export function fastConnection(serve: FastServe): ServeConnection {
  return async (tcp, hooks) => {
    const { conn } = hooks;
    const server = serve(
      tcp,
      undefined,
      (request, info) => {
        conn.active++;
        conn.requests++;
        const answer = hooks.respond(request, info);
        if (!(answer instanceof Promise)) {
          conn.active--;
          conn.idleSince = performance.now();
          return answer;
        }
        return answer.finally(() => {
          conn.active--;
          conn.idleSince = performance.now();
        });
      },
      hooks.failed,
      () => {},
    );
    conn.end = () => void server.shutdown().catch(() => {});
    await server.finished.catch(() => {});
  };
}

/** `Deno.serveHttp` per connection (WebSocket upgrades work). */
export function serveHttpConnection(serve: ServeHttp): ServeConnection {
  return async (tcp, hooks) => {
    const { conn } = hooks;
    const http: HttpConn = serve(tcp);
    conn.end = () => closeQuietly(http);
    const info = { remoteAddr: tcp.remoteAddr } as Deno.ServeHandlerInfo<Deno.NetAddr>;
    const responses = new Set<Promise<void>>();
    while (true) {
      let event: RequestEvent | null;
      try {
        event = await http.nextRequest();
      } catch {
        break; // the connection failed or was closed
      }
      if (!event) break;
      conn.active++;
      conn.requests++;
      const sent: Promise<void> = event.respondWith(hooks.respond(event.request, info))
        .catch(() => {}) // the client went away
        .finally(() => {
          conn.active--;
          conn.idleSince = performance.now();
          responses.delete(sent);
        });
      responses.add(sent);
    }
    await Promise.all(responses);
    // An upgraded connection lives on as its WebSocket: closing it here would end that too.
    if (!conn.upgraded) closeQuietly(http);
  };
}

/** HTTP served on `listener`, one native server per accepted connection. */
export class HttpConnections {
  readonly #serve: ServeConnection;
  readonly #handler: Handler;
  readonly #events: HttpEvents;
  readonly #firstRequestMs: number;
  readonly #idleMs: number;
  readonly #open = new Set<Connection>();
  readonly #accepting: AcceptLoop;
  #draining = false;
  #sweep: ReturnType<typeof setInterval> | null = null;
  #drained: (() => void) | null = null;

  /**
   * Starts accepting on `listener`, serving each connection with `serve` and each request with
   * `handler`; `bounds` shortens the waits (tests).
   */
  constructor(
    listener: Deno.TcpListener,
    serve: ServeConnection,
    handler: Handler,
    events: HttpEvents,
    bounds: HttpBounds = {},
  ) {
    this.#serve = serve;
    this.#handler = handler;
    this.#events = events;
    this.#firstRequestMs = bounds.firstRequestMs ?? FIRST_REQUEST_MS;
    this.#idleMs = bounds.idleMs ?? KEEPALIVE_IDLE_MS;
    // A failed accept (out of file descriptors) pauses and retries; only close() ends the loop.
    this.#accepting = acceptLoop(
      listener,
      (conn) => this.#take(conn as Deno.TcpConn),
      (error, more, pause) => {
        if (!this.#draining) events.acceptFailed(error, more, pause);
      },
    );
    this.#startSweep(Math.min(this.#firstRequestMs, this.#idleMs) / 4);
  }

  /** Open connections. */
  get size(): number {
    return this.#open.size;
  }

  /**
   * Stops accepting, then closes every connection at a clean point (after its next response, or
   * once idle {@linkcode DRAIN_IDLE_MS}); resolves when all are closed.
   */
  async drain(): Promise<void> {
    this.#draining = true;
    this.#accepting.close();
    await this.#accepting.done;
    this.#stopSweep();
    if (this.#open.size === 0) return;
    const done = new Promise<void>((resolve) => (this.#drained = resolve));
    this.#startSweep(DRAIN_IDLE_MS / 4);
    this.#closeIdle();
    await done;
  }

  /** Closes what is still open, now. */
  close(): void {
    this.#draining = true;
    this.#accepting.close();
    for (const conn of this.#open) this.#shutdown(conn);
    this.#stopSweep();
  }

  #closeIdle(): void {
    const now = performance.now();
    for (const conn of this.#open) {
      if (conn.active > 0 || conn.upgraded) continue;
      const limit = this.#draining
        ? DRAIN_IDLE_MS
        : conn.requests === 0
        ? this.#firstRequestMs
        : this.#idleMs;
      if (now - conn.idleSince >= limit) this.#shutdown(conn);
    }
  }

  #shutdown(conn: Connection): void {
    if (conn.closing) return;
    conn.closing = true;
    conn.end();
  }

  #startSweep(period: number): void {
    this.#sweep = setInterval(() => this.#closeIdle(), Math.max(10, Math.min(1000, period)));
    // The bounds must not keep an isolate alive on their own.
    Deno.unrefTimer(this.#sweep);
  }

  #stopSweep(): void {
    if (this.#sweep !== null) clearInterval(this.#sweep);
    this.#sweep = null;
  }

  #take(tcp: Deno.TcpConn): void {
    // Accepted, even if the drain began meanwhile: its request is on its way; it is served,
    // then closed cleanly like every other connection.
    // Deno.serve sets TCP_NODELAY on what it accepts; a connection accepted here has Nagle on, and
    // the responses to pipelined requests after the first would wait for the client's delayed ACK.
    tcp.setNoDelay(true);
    const conn: Connection = {
      end: () => closeQuietly(tcp),
      active: 0,
      requests: 0,
      idleSince: performance.now(),
      closing: false,
      upgraded: false,
    };
    this.#open.add(conn);
    const hooks: Hooks = {
      conn,
      respond: (request, info) => this.#respond(conn, request, info),
      failed: (error) => {
        this.#events.error(error);
        return httpErrorResponse(error);
      },
    };
    this.#serve(tcp, hooks).catch(() => {}).finally(() => {
      this.#open.delete(conn);
      if (this.#open.size === 0 && this.#draining) {
        this.#stopSweep();
        this.#drained?.();
      }
    });
  }

  /**
   * Answers one request. A handler that answers at once (no promise) is answered at once: no
   * promise is made per request on that path, which the fast server's throughput feels.
   */
  #respond(
    conn: Connection,
    request: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ): Response | Promise<Response> {
    let result: unknown;
    try {
      result = this.#handler(request, info);
    } catch (error) {
      return this.#failed(error);
    }
    if (result instanceof Promise) {
      return result.then(
        (response) => this.#answered(conn, request, response),
        (error) => this.#failed(error),
      );
    }
    return this.#answered(conn, request, result);
  }

  #answered(conn: Connection, request: Request, response: unknown): Response {
    if (!(response instanceof Response)) {
      return this.#failed(
        new TypeError(
          `fetch returned ${response === null ? "null" : typeof response}, not a Response`,
        ),
      );
    }
    if (response.status === 101) {
      conn.upgraded = true;
      this.#events.upgraded(request);
    }
    this.#events.answered();
    // While draining, the client learns with this response that the connection ends here.
    return this.#draining && response.status !== 101 ? closing(response) : response;
  }

  #failed(error: unknown): Response {
    this.#events.error(error);
    const response = httpErrorResponse(error);
    if (this.#draining) response.headers.set("connection", "close");
    return response;
  }
}

/** Closes `closable`, which may be closed already. */
export function closeQuietly(closable: { close(): void }): void {
  try {
    closable.close();
  } catch {
    // already closed
  }
}

/** `response` with `connection: close` (its headers may be immutable: a fetch() response's are). */
function closing(response: Response): Response {
  try {
    response.headers.set("connection", "close");
    return response;
  } catch {
    const headers = new Headers(response.headers);
    headers.set("connection", "close");
    return new Response(response.body, {
      status: response.status,
      statusText: response.statusText,
      headers,
    });
  }
}
