/**
 * HTTP on a listener of its own: Kraken accepts each connection and serves it with Deno's
 * per-connection HTTP server (`Deno.serveHttp`, which WebSocket upgrades work on), so that stopping
 * is graceful per connection, which `Deno.serve`'s own `shutdown()` is not.
 *
 * Why: `Deno.serve(...).shutdown()` closes the listener and, at the same instant, every connection
 * it has accepted but read no request from yet — including one whose request is already on its
 * way (its client sees "connection closed before message completed") — and keep-alive connections
 * their clients are about to reuse. Here a draining replica stops accepting, then closes each
 * connection only at a clean point: after the response to its next request (sent with
 * `connection: close`, so the client knows), or once it has been idle for a while.
 *
 * The price: `Deno.serveHttp` answers about half of what `Deno.serve` does (bench/serve.ts,
 * `bare:http-conn`), whoever calls it. Deno's faster servers cannot stand in (Deno 2.9.6, both
 * pinned by tests/serve/platform_test.ts): `Deno.serve` owns its listening socket, so it cannot
 * stop accepting without `shutdown()`, which drops the connections above; and its per-connection
 * server (`Deno[Deno.internal].serveHttpOnConnection`, ~0.7× of `Deno.serve`) closes its server
 * resource as soon as the connection's HTTP side ends — which it does when a WebSocket upgrade
 * completes, so the WebSocket dies with it (close code 1005).
 *
 * @module
 */
import { httpErrorResponse } from "./http_errors.ts";

/** How long a connection may stay idle once its replica drains before it is closed anyway. */
export const DRAIN_IDLE_MS = 300;

type Handler = (request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => unknown;

/** One request on a connection served by `Deno.serveHttp`. */
interface RequestEvent {
  readonly request: Request;
  respondWith(response: Response | Promise<Response>): Promise<void>;
}

/** A connection served by `Deno.serveHttp`. */
interface HttpConn {
  nextRequest(): Promise<RequestEvent | null>;
  close(): void;
}

/** Deno's per-connection HTTP server. */
export type ServeOnConnection = (conn: Deno.Conn) => HttpConn;

/**
 * Deno's per-connection HTTP server, where this Deno has it (`null`: use `Deno.serve`). Deno 2
 * keeps `Deno.serveHttp` at run time though its types no longer list it.
 */
export function nativeServeOnConnection(): ServeOnConnection | null {
  const fn = (Deno as unknown as { serveHttp?: unknown }).serveHttp;
  return typeof fn === "function" ? (conn) => (fn as ServeOnConnection).call(Deno, conn) : null;
}

/** One accepted connection and where it stands. */
interface Connection {
  http: HttpConn;
  /** Requests under way on it. */
  active: number;
  /** When it last went idle (or was accepted). */
  idleSince: number;
  closing: boolean;
  /** A request on it was upgraded (a WebSocket now owns it). */
  upgraded: boolean;
}

/** What the HTTP listener tells its owner. */
export interface HttpEvents {
  /** A request failed (answered by the error mapping). */
  error(error: unknown): void;
  /** A response went out (for the figures). */
  answered(): void;
  /** A request was upgraded to this WebSocket. */
  upgraded(request: Request): void;
}

/** HTTP served on `listener`, one native server per accepted connection. */
export class HttpConnections {
  readonly #listener: Deno.TcpListener;
  readonly #serve: ServeOnConnection;
  readonly #handler: Handler;
  readonly #events: HttpEvents;
  readonly #open = new Set<Connection>();
  readonly #accepting: Promise<void>;
  #draining = false;
  #sweep: ReturnType<typeof setInterval> | null = null;
  #drained: (() => void) | null = null;

  constructor(
    listener: Deno.TcpListener,
    serve: ServeOnConnection,
    handler: Handler,
    events: HttpEvents,
  ) {
    this.#listener = listener;
    this.#serve = serve;
    this.#handler = handler;
    this.#events = events;
    this.#accepting = this.#acceptLoop();
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
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    await this.#accepting;
    if (this.#open.size === 0) return;
    const done = new Promise<void>((resolve) => (this.#drained = resolve));
    this.#sweep = setInterval(() => this.#closeIdle(), DRAIN_IDLE_MS / 4);
    this.#closeIdle();
    await done;
  }

  /** Closes what is still open, now. */
  close(): void {
    this.#draining = true;
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    for (const conn of this.#open) this.#shutdown(conn);
    this.#stopSweep();
  }

  #closeIdle(): void {
    const now = performance.now();
    for (const conn of this.#open) {
      if (conn.active === 0 && now - conn.idleSince >= DRAIN_IDLE_MS) this.#shutdown(conn);
    }
  }

  #shutdown(conn: Connection): void {
    if (conn.closing) return;
    conn.closing = true;
    try {
      conn.http.close();
    } catch {
      // already closed
    }
  }

  #stopSweep(): void {
    if (this.#sweep !== null) clearInterval(this.#sweep);
    this.#sweep = null;
  }

  async #acceptLoop(): Promise<void> {
    while (!this.#draining) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch {
        return; // closed (draining), or the listener failed: either way no more accepts
      }
      // Accepted, even if the drain began meanwhile: its request is on its way; it is served,
      // then closed cleanly like every other connection.
      this.#take(conn);
    }
  }

  #take(tcp: Deno.TcpConn): void {
    // Deno.serve sets TCP_NODELAY on what it accepts; a connection accepted here has Nagle on, and
    // the responses to pipelined requests after the first would wait for the client's delayed ACK.
    tcp.setNoDelay(true);
    const conn: Connection = {
      http: this.#serve(tcp),
      active: 0,
      idleSince: performance.now(),
      closing: false,
      upgraded: false,
    };
    this.#open.add(conn);
    const info = { remoteAddr: tcp.remoteAddr } as Deno.ServeHandlerInfo<Deno.NetAddr>;
    this.#serveConn(conn, info).finally(() => {
      this.#open.delete(conn);
      if (this.#open.size === 0 && this.#draining) {
        this.#stopSweep();
        this.#drained?.();
      }
    });
  }

  /** Serves the requests of one connection until it ends (or is closed while draining). */
  async #serveConn(conn: Connection, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Promise<void> {
    const responses = new Set<Promise<void>>();
    while (true) {
      let event: RequestEvent | null;
      try {
        event = await conn.http.nextRequest();
      } catch {
        break; // the connection failed or was closed
      }
      if (!event) break;
      conn.active++;
      const sent = event.respondWith(this.#respond(conn, event.request, info))
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
    if (conn.upgraded) return;
    try {
      conn.http.close();
    } catch {
      // already closed
    }
  }

  async #respond(
    conn: Connection,
    request: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ): Promise<Response> {
    try {
      const response = await this.#handler(request, info);
      if (!(response instanceof Response)) {
        throw new TypeError(
          `fetch returned ${response === null ? "null" : typeof response}, not a Response`,
        );
      }
      if (response.status === 101) {
        conn.upgraded = true;
        this.#events.upgraded(request);
      }
      this.#events.answered();
      // While draining, the client learns with this response that the connection ends here.
      return this.#draining && response.status !== 101 ? closing(response) : response;
    } catch (error) {
      this.#events.error(error);
      const response = httpErrorResponse(error);
      if (this.#draining) response.headers.set("connection", "close");
      return response;
    }
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
