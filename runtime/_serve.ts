/**
 * A serving instance's listener, in the isolate the instance runs in: HTTP through Deno's
 * per-connection servers (runtime/_serve_http.ts; the container's `fetch`, WebSocket upgrades
 * tracked with `websocket: true`, refused without), raw TCP through `Deno.listen` (its
 * `accept`, each connection tracked). Every replica listens with `reusePort`, so the kernel
 * spreads connections among them.
 *
 * Stopping is in two steps: {@linkcode Listener.drain} stops accepting and resolves when what was
 * in flight is done (HTTP requests answered, WebSocket and TCP handlers finished — the instance
 * aborts `ctx.signal` meanwhile so they close); {@linkcode Listener.close} ends whatever is still
 * open once `shutdown:` has run out (a WebSocket with 1001 "going away").
 *
 * @module
 */
import type { ServeSpec } from "../config/topology.ts";
import { acceptLoop } from "../transports/_accept.ts";
import { httpErrorResponse } from "./http_errors.ts";
import {
  closeQuietly,
  fastConnection,
  HttpConnections,
  serveHttpConnection,
} from "./_serve_http.ts";
import { bootHttpServer } from "./_serve_fast.ts";
import { CLOSE_GRACE_MS, type ServingEntry } from "./_serving_entry.ts";

export { CLOSE_GRACE_MS, RESERVED, type ServingEntry, servingEntry } from "./_serving_entry.ts";

/** What a listener reports to its instance. */
export interface ListenerEvents {
  /** A request or connection handler threw: logged, never a crash. */
  error(what: string, error: unknown): void;
  /** An HTTP request was answered (`failed`: by the error mapping). */
  answered?(failed: boolean): void;
}

/** Most bytes a served WebSocket may have queued unsent before it is closed (16 MiB). */
export const MAX_WS_BUFFERED = 16 * 1024 * 1024;

/** Most bytes all of one replica's served WebSockets may have queued unsent together (64 MiB). */
export const MAX_WS_BUFFERED_TOTAL = 64 * 1024 * 1024;

/** Closes a WebSocket whose client does not keep up (1008); what is sent to it later is dropped. */
function tooSlow(socket: WebSocket): void {
  socket.close(1008, "the client reads too slowly");
}

/**
 * Most bytes one incoming WebSocket message may take when `serve:` sets no `max_message` (1 MiB);
 * Deno's own bound is 64 MiB.
 */
export const DEFAULT_WS_MAX_MESSAGE = 1024 * 1024;

/**
 * The bytes a WebSocket message takes, exact at least up to `bound` (a long string's UTF-8 length
 * is counted only when its length alone cannot tell which side of `bound` it is on).
 */
function sizeOf(data: string | ArrayBufferLike | Blob | ArrayBufferView, bound: number): number {
  if (typeof data === "string") {
    return data.length * 3 <= bound || data.length > bound
      ? data.length
      : new TextEncoder().encode(data).byteLength;
  }
  if (data instanceof Blob) return data.size;
  return data.byteLength;
}

/** Sockets upgraded by `Deno.upgradeWebSocket`, by the request they answer (see `trackUpgrades`). */
const upgraded = new WeakMap<Request, WebSocket>();
/** Requests of containers on the fast path (`websocket: false`), by container: no upgrade there. */
const noUpgrade = new WeakMap<Request, string>();
/** The `max_message` bound of a served request's container, for the socket it may upgrade to. */
const messageBound = new WeakMap<Request, number>();
let tracking = false;

/**
 * Closes `socket` (1009, "message too big") at the first message over `max` bytes, before any
 * listener of the container sees it. Deno reads a whole message (up to its own 64 MiB) before the
 * `message` event and offers no earlier hook, so this bounds what the container handles and keeps,
 * not the one message Deno has already buffered.
 */
function boundMessages(socket: WebSocket, max: number): void {
  // Added at the upgrade, before the container can add its own: it runs first, and
  // stopImmediatePropagation keeps the message from every listener after it (onmessage included).
  socket.addEventListener("message", (event) => {
    if (sizeOf(event.data, max) <= max) return;
    event.stopImmediatePropagation();
    socket.close(1009, `message too big: expected at most ${max} bytes`);
  });
}

/**
 * Wraps this isolate's `Deno.upgradeWebSocket` once, so the listener learns which socket a request
 * was upgraded to, however the container called it (hono's `upgradeWebSocket` calls it too).
 */
function trackUpgrades(): void {
  if (tracking) return;
  tracking = true;
  const original = Deno.upgradeWebSocket;
  Object.defineProperty(Deno, "upgradeWebSocket", {
    configurable: true,
    enumerable: true,
    writable: true,
    value: function upgradeWebSocket(request: Request, options?: Deno.UpgradeWebSocketOptions) {
      const container = noUpgrade.get(request);
      if (container !== undefined) {
        // The fast path's server would end the WebSocket at its upgrade (close code 1005).
        throw new TypeError(
          `container "${container}" serves with \`websocket: false\`; a WebSocket upgrade needs \`serve: { websocket: true }\` in the topology`,
        );
      }
      const result = original(request, options);
      const max = messageBound.get(request);
      if (max !== undefined) boundMessages(result.socket, max);
      upgraded.set(request, result.socket);
      return result;
    },
  });
}

/** One replica's listener (HTTP or TCP) on the container's `serve:` address. */
export class Listener {
  /** The address it listens on (port 0 resolved). */
  readonly addr: { hostname: string; port: number };
  readonly #server: Deno.HttpServer<Deno.NetAddr> | null;
  readonly #tcp: Deno.TcpListener | null;
  readonly #sockets = new Set<WebSocket>();
  readonly #conns = new Map<Deno.TcpConn, Promise<void>>();
  #accepting: Promise<void> = Promise.resolve();
  #http: HttpConnections | null = null;
  #draining = false;

  private constructor(
    addr: { hostname: string; port: number },
    server: Deno.HttpServer<Deno.NetAddr> | null,
    tcp: Deno.TcpListener | null,
  ) {
    this.addr = addr;
    this.#server = server;
    this.#tcp = tcp;
  }

  /**
   * Listens on `spec`'s address with `reusePort` and serves `entry` there.
   * @throws {TypeError} When `entry` lacks what `spec.protocol` needs (`fetch` or `accept`).
   */
  static async open(
    spec: ServeSpec,
    entry: ServingEntry,
    events: ListenerEvents,
    container: string,
  ): Promise<Listener> {
    if (spec.protocol === "tcp") {
      const accept = entry.accept;
      if (typeof accept !== "function") throw missing(container, "accept", "tcp");
      const tcp = Deno.listen({
        hostname: spec.hostname,
        port: spec.port,
        transport: "tcp",
        reusePort: true,
      });
      const listener = new Listener(tcp.addr, null, tcp);
      listener.#accepting = listener.#acceptLoop(tcp, accept, events);
      return listener;
    }
    const fetch = entry.fetch;
    if (typeof fetch !== "function") throw missing(container, "fetch", "http");
    trackUpgrades();
    const server = bootHttpServer(spec.websocket === true);
    if (server.kind === "serve") return await Listener.#denoServe(spec, fetch, events);
    const tcp = Deno.listen({
      hostname: spec.hostname,
      port: spec.port,
      transport: "tcp",
      reusePort: true,
    });
    const listener: Listener = new Listener(tcp.addr, null, null);
    const maxMessage = spec.maxMessage ?? DEFAULT_WS_MAX_MESSAGE;
    const handler = server.kind === "fast"
      ? (request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => {
        noUpgrade.set(request, container);
        return fetch(request, info);
      }
      : (request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => {
        messageBound.set(request, maxMessage);
        return fetch(request, info);
      };
    listener.#http = new HttpConnections(
      tcp,
      server.kind === "fast" ? fastConnection(server.serve) : serveHttpConnection(server.serve),
      handler,
      {
        error: (error) => events.error("fetch", error),
        acceptFailed: (error, more, pause) =>
          events.error("accept", acceptFailure(error, more, pause)),
        answered: () => events.answered?.(false),
        upgraded: (request) => {
          const socket = upgraded.get(request);
          if (socket) listener.#track(socket);
        },
      },
    );
    return listener;
  }

  /** Where Deno lacks a per-connection server: `Deno.serve` (whose shutdown is less graceful). */
  static async #denoServe(
    spec: ServeSpec,
    fetch: NonNullable<ServingEntry["fetch"]>,
    events: ListenerEvents,
  ): Promise<Listener> {
    let self: Listener | null = null;
    // Upgraded in the turn between listening and this object being made.
    const early: WebSocket[] = [];
    const listening = Promise.withResolvers<void>();
    const server = Deno.serve({
      hostname: spec.hostname,
      port: spec.port,
      reusePort: true,
      onListen: () => listening.resolve(),
      onError: (error) => {
        events.error("fetch", error);
        return httpErrorResponse(error);
      },
    }, async (request, info) => {
      messageBound.set(request, spec.maxMessage ?? DEFAULT_WS_MAX_MESSAGE);
      const response = await fetch(request, info as Deno.ServeHandlerInfo<Deno.NetAddr>);
      if (!(response instanceof Response)) {
        throw new TypeError(
          `fetch returned ${response === null ? "null" : typeof response}, not a Response`,
        );
      }
      const socket = upgraded.get(request);
      if (socket) {
        if (self) self.#track(socket);
        else early.push(socket);
      }
      events.answered?.(false);
      return response;
    });
    await listening.promise;
    self = new Listener(server.addr, server, null);
    for (const socket of early) self.#track(socket);
    return self;
  }

  /** Open WebSockets and TCP connections. */
  get connections(): number {
    return this.#sockets.size + this.#conns.size + (this.#http?.size ?? 0);
  }

  /**
   * Stops accepting (new connections go to the other replicas) and resolves once the requests in
   * flight are answered and every WebSocket and TCP handler is done.
   */
  async drain(): Promise<void> {
    this.#draining = true;
    if (this.#http) {
      await Promise.all([this.#http.drain(), this.#socketsClosed()]);
      return;
    }
    if (this.#server) {
      await Promise.all([this.#server.shutdown(), this.#socketsClosed()]);
      return;
    }
    try {
      this.#tcp?.close();
    } catch {
      // already closed
    }
    await this.#accepting;
    await Promise.all(this.#conns.values());
  }

  /**
   * Ends what is still open: WebSockets with 1001 "going away", TCP connections closed. Resolves
   * once the sockets have closed (their close frames are out before the isolate may end), or
   * after {@linkcode CLOSE_GRACE_MS} at most.
   */
  async close(): Promise<void> {
    this.#draining = true;
    this.#http?.close();
    for (const socket of this.#sockets) {
      try {
        socket.close(1001, "going away");
      } catch {
        // already closing
      }
    }
    for (const conn of this.#conns.keys()) closeQuietly(conn);
    this.#conns.clear();
    if (this.#tcp) {
      try {
        this.#tcp.close();
      } catch {
        // already closed
      }
    }
    if (this.#sockets.size === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#socketsClosed(),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS))),
    ]);
    clearTimeout(timer);
  }

  #track(socket: WebSocket): void {
    if (socket.readyState === WebSocket.CLOSED) return;
    this.#sockets.add(socket);
    // A client that never reads would have every message sent to it queued in this process: past
    // MAX_WS_BUFFERED unsent bytes the socket is closed (1008) and further sends are dropped; a
    // message larger than that is refused before it is queued. Many clients each under that cap
    // are bounded together: past MAX_WS_BUFFERED_TOTAL unsent in this replica, the sockets furthest
    // behind are closed first.
    const send = socket.send.bind(socket);
    socket.send = (data) => {
      if (socket.readyState !== WebSocket.OPEN) return send(data);
      if (sizeOf(data, MAX_WS_BUFFERED) > MAX_WS_BUFFERED) return tooSlow(socket);
      send(data);
      const queued = socket.bufferedAmount;
      this.#wsQueued += queued - (this.#wsLast.get(socket) ?? 0);
      this.#wsLast.set(socket, queued);
      if (queued > MAX_WS_BUFFERED) tooSlow(socket);
      if (this.#wsQueued > MAX_WS_BUFFERED_TOTAL) this.#shedWebSockets();
    };
    socket.addEventListener("close", () => {
      this.#wsQueued -= this.#wsLast.get(socket) ?? 0;
      this.#wsLast.delete(socket);
      this.#sockets.delete(socket);
      if (this.#sockets.size === 0) this.#allClosed?.();
    });
  }

  /** Unsent bytes of this replica's WebSockets as of their last sends (an overestimate: see below). */
  #wsQueued = 0;
  #wsLast = new Map<WebSocket, number>();

  /**
   * Past the total: counts again (queues drain between sends, so the running sum only ever
   * overestimates), then closes the sockets furthest behind until the rest fit.
   */
  #shedWebSockets(): void {
    const open = [...this.#wsLast.keys()].filter((s) => s.readyState === WebSocket.OPEN);
    let total = 0;
    for (const socket of this.#wsLast.keys()) {
      const queued = socket.readyState === WebSocket.OPEN ? socket.bufferedAmount : 0;
      this.#wsLast.set(socket, queued);
      total += queued;
    }
    this.#wsQueued = total;
    open.sort((a, b) => b.bufferedAmount - a.bufferedAmount);
    for (const socket of open) {
      if (this.#wsQueued <= MAX_WS_BUFFERED_TOTAL) break;
      this.#wsQueued -= socket.bufferedAmount;
      this.#wsLast.set(socket, 0);
      tooSlow(socket);
    }
  }

  #allClosed: (() => void) | null = null;

  #socketsClosed(): Promise<void> {
    if (this.#sockets.size === 0) return Promise.resolve();
    return new Promise((resolve) => (this.#allClosed = resolve));
  }

  /**
   * Accepts until the listener is closed. A failed accept (out of file descriptors while clients
   * hold connections open) never ends the loop: it pauses (10 ms doubling to 1 s) and tries again,
   * reported at most once a second — one flood must not leave the port deaf, nor spin a core.
   */
  #acceptLoop(
    tcp: Deno.TcpListener,
    accept: (conn: Deno.TcpConn) => unknown,
    events: ListenerEvents,
  ): Promise<void> {
    return acceptLoop(tcp, (conn) => {
      if (this.#draining) return closeQuietly(conn);
      const socket = conn as Deno.TcpConn;
      this.#conns.set(socket, this.#serveConn(socket, accept, events));
    }, (error, more, pause) => {
      if (!this.#draining) events.error("accept", acceptFailure(error, more, pause));
    }).done;
  }

  /** One connection's life: its handler's promise; a throw closes that connection and is logged. */
  async #serveConn(
    conn: Deno.TcpConn,
    accept: (conn: Deno.TcpConn) => unknown,
    events: ListenerEvents,
  ): Promise<void> {
    try {
      await accept(conn);
    } catch (error) {
      if (!this.#draining) events.error("accept", error);
      closeQuietly(conn);
    } finally {
      this.#conns.delete(conn);
    }
  }
}

/** A failed accept as logged: retried, not fatal. */
function acceptFailure(error: Error, more: number, pause: number): Error {
  return new Error(
    `${error.message}${
      more > 0 ? ` (and ${more} more failed accepts)` : ""
    }; retrying every ${pause} ms`,
  );
}

function missing(container: string, key: string, protocol: string): TypeError {
  return new TypeError(
    `container "${container}" serves ${protocol} (serve: in the topology) but its factory returned no "${key}" function; expected { ${key}(${
      key === "fetch" ? "request, info" : "conn"
    }) { … }, …topics }${
      key === "fetch" ? " or an object with a fetch() method, such as a hono app" : ""
    }`,
  );
}
