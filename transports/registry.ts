/**
 * Transports by URL scheme: how a link between two runtimes is listened for and dialed. Every
 * transport yields authenticated {@linkcode Link}s; the built-in ones are `tcp://host:port`,
 * `unix:///path/to.sock` and `memory://name` (in-process, for tests). Register your own with
 * {@linkcode registerTransport}.
 *
 * @module
 */
import { StreamLink } from "./stream_link.ts";
import type { Link } from "./link.ts";
import { authenticate } from "./authenticated.ts";
import { PendingConnections } from "./_pending.ts";

export { MAX_UNAUTHENTICATED } from "./_pending.ts";

/** What every transport's listen and dial take. */
export interface TransportOptions {
  /** The shared secret both sides must prove (never logged). */
  secret: string;
  /** Largest frame accepted once authenticated, bytes (default 16 MiB). */
  maxFrame?: number;
  /** Longest a handshake may take, ms (default 5000). */
  handshakeTimeout?: number;
  /**
   * TLS for `tcp://` (file paths): a listener needs `cert` and `key`; a dialer trusts the system's
   * roots plus `ca` (e.g. a self-signed certificate). The HMAC handshake still runs inside TLS.
   */
  tls?: { cert?: string; key?: string; ca?: string };
}

/** Options of `listen`. */
export interface ListenOptions extends TransportOptions {
  /** Called with each authenticated incoming link. */
  onLink(link: Link, peer: string): void;
  /** Called when an incoming connection fails to authenticate (it is closed). */
  onRefused?(error: Error, peer: string): void;
}

/** A listening endpoint. */
export interface Listener {
  /** Where it listens (with the real port when 0 was asked for). */
  readonly url: URL;
  /** Stops listening and closes the connections it accepted. */
  close(): Promise<void>;
}

/** A transport: listens for and dials authenticated links. */
export interface Transport {
  listen(url: URL, options: ListenOptions): Promise<Listener>;
  dial(url: URL, options: TransportOptions): Promise<Link>;
}

/** A raw duplex byte connection, what most transports have before the handshake. */
export interface ByteConnection {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
  close(): void;
  /**
   * Called once the peer has proven the secret, before any envelope is read: a connection may
   * then lift what bounds it before authentication (e.g. a WebSocket's largest message).
   */
  authenticated?(): void;
}

/**
 * Turns a raw byte connection into an authenticated link (the building block of stream-based
 * transports: a custom one needs only to produce `ByteConnection`s).
 *
 * @throws {AuthenticationError} When the handshake fails (the connection is closed).
 */
export async function linkOver(
  conn: ByteConnection,
  role: "listener" | "dialer",
  options: TransportOptions & {
    /** Aborting it fails the handshake at once (a listener evicting a waiting connection). */
    signal?: AbortSignal;
  },
): Promise<Link> {
  let streams;
  try {
    streams = await authenticate(conn.readable, conn.writable, {
      secret: options.secret,
      role,
      timeout: options.handshakeTimeout,
      signal: options.signal,
    });
    conn.authenticated?.();
  } catch (error) {
    try {
      conn.close();
    } catch {
      // already closed
    }
    throw error;
  }
  const link = new StreamLink(streams.readable, streams.writable, { maxFrame: options.maxFrame });
  link.closed.then(() => {
    try {
      conn.close();
    } catch {
      // already closed
    }
  });
  return link;
}

const transports = new Map<string, Transport>();

/**
 * Registers a transport for a URL scheme (`"quic:"` or `"quic"`), replacing any earlier one.
 *
 * @example A transport over anything that gives byte connections
 * ```ts ignore
 * import { linkOver, registerTransport } from "jsr:@kraken/kraken";
 * registerTransport("mine", {
 *   async listen(url, options) { ... accept, then options.onLink(await linkOver(conn, "listener", options), peer) ... },
 *   async dial(url, options) { return await linkOver(await myConnect(url), "dialer", options); },
 * });
 * ```
 */
export function registerTransport(scheme: string, transport: Transport): void {
  transports.set(scheme.endsWith(":") ? scheme : `${scheme}:`, transport);
}

/**
 * The transport for a URL.
 * @throws {TypeError} When no transport is registered for its scheme.
 */
export function transportFor(url: URL): Transport {
  const transport = transports.get(url.protocol);
  if (!transport) {
    throw new TypeError(
      `no transport for "${url.protocol}//" (known: ${
        [...transports.keys()].map((s) => `${s}//`).join(", ")
      })`,
    );
  }
  return transport;
}

/** Listens on `url` with the transport of its scheme. */
export async function listen(url: string | URL, options: ListenOptions): Promise<Listener> {
  const u = new URL(url);
  return await transportFor(u).listen(u, options);
}

/** Dials `url` with the transport of its scheme; resolves once authenticated. */
export async function dial(url: string | URL, options: TransportOptions): Promise<Link> {
  const u = new URL(url);
  return await transportFor(u).dial(u, options);
}

// ---- built-in: tcp:// and unix:// ---------------------------------------------------------------

/**
 * Serves links on a listening socket: each accepted connection is (optionally upgraded, then)
 * authenticated, while at most {@linkcode MAX_UNAUTHENTICATED} wait for their handshake at once
 * (`transports/_pending.ts`: the oldest of the busiest address makes room) and none waits longer
 * than the handshake timeout.
 *
 * @param listener The socket listener.
 * @param url Where it listens (as reported).
 * @param options Listen options.
 * @param peer What to call a connection's peer, and its address (host, without port) for the bound.
 * @param upgrade Turns an accepted connection into the byte connection to authenticate (default
 *   the connection itself); aborting `signal` must make it reject.
 */
export function socketListener(
  listener: Deno.Listener,
  url: URL,
  options: ListenOptions,
  peer: (conn: Deno.Conn) => { name: string; address: string },
  upgrade: (conn: Deno.Conn, signal: AbortSignal) => Promise<ByteConnection> = (conn) =>
    Promise.resolve(conn),
): Listener {
  const open = new Set<Deno.Conn>();
  const pending = new PendingConnections({ timeout: options.handshakeTimeout ?? 5000 });
  const accepting = (async () => {
    for await (const conn of listener) {
      // Batches leave as soon as they are ready; Nagle would hold a second one for a delayed ACK.
      if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
      open.add(conn);
      const { name, address } = peer(conn);
      const slot = pending.admit(address);
      const done = () => open.delete(conn);
      upgrade(conn, slot.signal)
        .then((bytes) => linkOver(bytes, "listener", { ...options, signal: slot.signal }))
        .then(
          (link) => {
            slot.settle();
            link.closed.then(done);
            options.onLink(link, name);
          },
          (error: Error) => {
            slot.settle();
            done();
            try {
              conn.close();
            } catch {
              // already closed
            }
            options.onRefused?.(error, name);
          },
        );
    }
  })().catch(() => {});
  return {
    url,
    async close() {
      try {
        listener.close();
      } catch {
        // already closed
      }
      pending.clear();
      for (const conn of open) {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
      await accepting;
    },
  };
}

/** A TCP peer: `host:port`, counted by host. */
export function netPeer(conn: Deno.Conn): { name: string; address: string } {
  const a = conn.remoteAddr as Deno.NetAddr;
  return { name: `${a.hostname}:${a.port}`, address: a.hostname };
}

registerTransport("tcp", {
  listen(url, options) {
    const where = { hostname: url.hostname || "127.0.0.1", port: Number(url.port || 0) };
    let listener: Deno.Listener;
    if (options.tls) {
      const { cert, key } = options.tls;
      if (!cert || !key) throw new TypeError("a TLS listener needs tls.cert and tls.key");
      listener = Deno.listenTls({
        ...where,
        cert: Deno.readTextFileSync(cert),
        key: Deno.readTextFileSync(key),
      });
    } else listener = Deno.listen(where);
    const addr = listener.addr as Deno.NetAddr;
    const real = new URL(`tcp://${addr.hostname}:${addr.port}`);
    return Promise.resolve(socketListener(listener, real, options, netPeer));
  },
  async dial(url, options) {
    const where = { hostname: url.hostname, port: Number(url.port) };
    if (options.tls) {
      const ca = options.tls.ca;
      const conn = await Deno.connectTls({
        ...where,
        ...(ca ? { caCerts: [Deno.readTextFileSync(ca)] } : {}),
      });
      try {
        await conn.handshake(); // certificate problems surface here, before the HMAC handshake
      } catch (error) {
        conn.close();
        throw error;
      }
      return linkOver(conn, "dialer", options);
    }
    const conn = await Deno.connect(where);
    conn.setNoDelay(true);
    return linkOver(conn, "dialer", options);
  },
});

registerTransport("unix", {
  listen(url, options) {
    const listener = Deno.listen({ transport: "unix", path: decodeURIComponent(url.pathname) });
    return Promise.resolve(
      socketListener(listener, url, options, () => ({ name: "unix", address: "unix" })),
    );
  },
  async dial(url, options) {
    const conn = await Deno.connect({ transport: "unix", path: decodeURIComponent(url.pathname) });
    return linkOver(conn, "dialer", options);
  },
});

// ---- built-in: ws:// and wss:// (loaded on first use: hono is an npm package) ---------------------

for (const scheme of ["ws", "wss"]) {
  registerTransport(scheme, {
    async listen(url, options) {
      const { listenWebSocket } = await import("./websocket.ts");
      return await listenWebSocket(url, options);
    },
    async dial(url, options) {
      const { dialWebSocket } = await import("./websocket.ts");
      return await dialWebSocket(url, options);
    },
  });
}

// ---- built-in: memory:// (in-process) -------------------------------------------------------------

const memoryListeners = new Map<string, ListenOptions>();

function pipe(): [ByteConnection, ByteConnection] {
  const ab = new TransformStream<Uint8Array, Uint8Array>();
  const ba = new TransformStream<Uint8Array, Uint8Array>();
  const end = (t: TransformStream<Uint8Array, Uint8Array>) => {
    t.writable.close().catch(() => {});
  };
  return [
    { readable: ba.readable, writable: ab.writable, close: () => end(ab) },
    { readable: ab.readable, writable: ba.writable, close: () => end(ba) },
  ];
}

registerTransport("memory", {
  listen(url, options) {
    const name = url.host + url.pathname;
    if (memoryListeners.has(name)) throw new Error(`memory://${name} is already listened on`);
    memoryListeners.set(name, options);
    return Promise.resolve({
      url,
      close() {
        memoryListeners.delete(name);
        return Promise.resolve();
      },
    });
  },
  async dial(url, options) {
    const name = url.host + url.pathname;
    const listener = memoryListeners.get(name);
    if (!listener) throw new Error(`nothing listens on memory://${name}`);
    const [mine, theirs] = pipe();
    linkOver(theirs, "listener", listener).then(
      (link) => listener.onLink(link, "memory"),
      (error: Error) => listener.onRefused?.(error, "memory"),
    );
    return await linkOver(mine, "dialer", options);
  },
});
