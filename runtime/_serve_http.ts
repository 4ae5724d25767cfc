/**
 * HTTP on a listener of its own: Kraken accepts each connection and hands it to Deno's HTTP
 * server (the same native server `Deno.serve` runs, one per connection), so that stopping can be
 * graceful per connection, which `Deno.serve`'s own `shutdown()` is not.
 *
 * Why: `Deno.serve(...).shutdown()` closes the listener and, at the same instant, every connection
 * with no request under way — including one accepted a moment ago whose request is already on its
 * way (its client sees "connection closed before message completed"), and keep-alive connections
 * their clients are about to reuse. Here a draining replica stops accepting, then closes each
 * connection only at a clean point: after the response to its next request (sent with
 * `connection: close`, so the client knows), or once it has been idle for a while.
 *
 * @module
 */
import { httpErrorResponse } from "./http_errors.ts";

/** How long a connection may stay idle once its replica drains before it is closed anyway. */
export const DRAIN_IDLE_MS = 300;

type Handler = (request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => unknown;

/** Deno's native HTTP server on one accepted connection (what `Deno.serve` runs per listener). */
type ServeOnConnection = (
  conn: Deno.Conn,
  signal: AbortSignal | undefined,
  handler: (request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => Promise<Response>,
  onError: (error: unknown) => Response,
  onListen: () => void,
) => { finished: Promise<void>; shutdown(): Promise<void> };

/** Deno's per-connection HTTP server, where this Deno has it (`null`: use `Deno.serve`). */
export function nativeServeOnConnection(): ServeOnConnection | null {
  const key = Object.getOwnPropertySymbols(Deno).find((s) => s.description === "Deno.internal");
  const internal = key ? (Deno as unknown as Record<symbol, Record<string, unknown>>)[key] : null;
  const fn = internal?.serveHttpOnConnection;
  return typeof fn === "function" ? fn as ServeOnConnection : null;
}

/** One accepted connection and where it stands. */
interface Connection {
  server: { finished: Promise<void>; shutdown(): Promise<void> };
  /** Requests under way on it. */
  active: number;
  /** When it last went idle (or was accepted). */
  idleSince: number;
  closing: boolean;
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
    conn.server.shutdown().catch(() => {});
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
    const conn: Connection = {
      server: null as unknown as Connection["server"],
      active: 0,
      idleSince: performance.now(),
      closing: false,
    };
    const handler = this.#handler;
    const events = this.#events;
    conn.server = this.#serve(tcp, undefined, async (request, info) => {
      conn.active++;
      try {
        const response = await handler(request, info);
        if (!(response instanceof Response)) {
          throw new TypeError(
            `fetch returned ${response === null ? "null" : typeof response}, not a Response`,
          );
        }
        if (response.status === 101) events.upgraded(request);
        events.answered();
        // While draining, the client learns with this response that the connection ends here.
        return this.#draining && response.status !== 101 ? closing(response) : response;
      } catch (error) {
        events.error(error);
        const response = httpErrorResponse(error);
        if (this.#draining) response.headers.set("connection", "close");
        return response;
      } finally {
        conn.active--;
        conn.idleSince = performance.now();
      }
    }, (error) => {
      events.error(error);
      return httpErrorResponse(error);
    }, () => {});
    this.#open.add(conn);
    conn.server.finished.catch(() => {}).finally(() => {
      this.#open.delete(conn);
      if (this.#open.size === 0 && this.#draining) {
        this.#stopSweep();
        this.#drained?.();
      }
    });
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
