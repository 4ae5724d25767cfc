/**
 * The `ws://` and `wss://` transports' implementation (`ws.ts` loads it on first use): links over
 * WebSocket. Each binary WebSocket message carries bytes of the link's frame stream; the handshake
 * and framing are the same as over TCP. The
 * listening side speaks RFC 6455 itself on a plain or TLS socket (`_ws_server.ts`) so that every
 * message is bounded before it is buffered (4 KiB before authentication, `max_frame` after) and
 * read only as fast as the link consumes it; the dialing side uses the `ws` package (loaded only
 * when a `ws://` URL is dialed; isolates stay light).
 *
 * @module
 */
import type { ByteConnection, Listener, ListenOptions, TransportOptions } from "./transport.ts";
import { authenticatedLink } from "./link_over.ts";
import { netPeer, socketListener } from "./_socket.ts";
import type { Link } from "./link.ts";
import { DEFAULT_MAX_FRAME } from "../protocol/framing.ts";
import { acceptWebSocket } from "./_ws_server.ts";

/** Byte streams over a WebSocket-like object (binary messages in, binary messages out). */
function bytesOver(
  send: (bytes: Uint8Array) => void,
  close: () => void,
): { conn: ByteConnection; push(data: ArrayBuffer | Uint8Array): void; end(): void } {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let ended = false;
  const readable = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    // The link cancels its reader when it closes; a message already on its way must then be
    // dropped, not enqueued into a cancelled stream (which throws, uncaught, from an event).
    cancel() {
      ended = true;
    },
  });
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      send(chunk);
    },
  });
  return {
    conn: { readable, writable, close },
    push(data) {
      if (ended) return;
      try {
        controller.enqueue(data instanceof Uint8Array ? data : new Uint8Array(data));
      } catch {
        ended = true; // the stream errored or closed under us: nothing left to read this
      }
    },
    end() {
      if (ended) return;
      ended = true;
      try {
        controller.close();
      } catch {
        // already closed
      }
    },
  };
}

/**
 * Listens for WebSocket links at `url` (its path is the endpoint, `/` by default): RFC 6455 on a
 * plain or TLS socket (`transports/_ws_server.ts`), every message bounded before it is read, and
 * at most `MAX_UNAUTHENTICATED` (128) connections waiting to authenticate, as on `tcp://`.
 */
export function listenWebSocket(url: URL, options: ListenOptions): Promise<Listener> {
  const path = url.pathname || "/";
  const where = { hostname: url.hostname || "127.0.0.1", port: Number(url.port || 0) };
  const tls = options.tls;
  let listener: Deno.Listener;
  if (url.protocol === "wss:") {
    if (!tls?.cert || !tls.key) throw new TypeError("a wss:// listener needs tls.cert and tls.key");
    listener = Deno.listenTls({
      ...where,
      cert: Deno.readTextFileSync(tls.cert),
      key: Deno.readTextFileSync(tls.key),
    });
  } else listener = Deno.listen(where);
  const real = new URL(url.href);
  real.port = String((listener.addr as Deno.NetAddr).port);
  const maxFrame = options.maxFrame ?? DEFAULT_MAX_FRAME;
  return Promise.resolve(socketListener(
    listener,
    real,
    options,
    (conn) => ({ name: "websocket", address: netPeer(conn).address }),
    (conn, signal) => acceptWebSocket(conn, { path, maxFrame, signal }),
  ));
}

/** What the dialer uses of a `ws` client. */
interface WsClient {
  send(data: Uint8Array): void;
  close(): void;
  on(event: "message", listener: (data: unknown, isBinary: boolean) => void): void;
  on(event: "open" | "close", listener: () => void): void;
  on(event: "error", listener: (error: Error) => void): void;
}

/**
 * Dials a WebSocket link; resolves once authenticated.
 *
 * The dialing side uses the `ws` package rather than Deno's built-in `WebSocket`: Deno's client
 * leaves Nagle's algorithm on and writes a masked frame's header and payload apart, so pipelined
 * messages of ~1–16 KiB (exactly what a batched link sends) each wait ~40 ms for a delayed ACK.
 * `ws` sets TCP_NODELAY. Measured here: 100 requests in flight went from 2.3k to >100k req/s.
 */
export async function dialWebSocket(url: URL, options: TransportOptions): Promise<Link> {
  // Typed here by what it is used for: the library then type-checks in an app whose own import
  // map has no `@types/ws` (a checkout used by path), and the npm package is loaded only on use.
  const { default: WebSocketClient } = await import("ws") as unknown as {
    default: new (url: string, options: Record<string, unknown>) => WsClient;
  };
  // wss:// trusts the system's roots plus the topology's CA (e.g. a self-signed certificate).
  const ca = url.protocol === "wss:" && options.tls?.ca
    ? Deno.readTextFileSync(options.tls.ca)
    : undefined;
  return new Promise((resolve, reject) => {
    const ws = new WebSocketClient(url.href, {
      perMessageDeflate: false,
      ...(ca ? { ca } : {}),
      handshakeTimeout: options.handshakeTimeout ?? 5_000,
    });
    const pipe = bytesOver((bytes) => ws.send(bytes), () => ws.close());
    ws.on("message", (data: unknown, isBinary: boolean) => {
      if (!isBinary) return ws.close(); // text frames are not ours
      // With ws's default binaryType ("nodebuffer") a message is a Buffer: a Uint8Array already.
      pipe.push(data as Uint8Array);
    });
    ws.on("close", () => pipe.end());
    ws.on("error", (error: Error) => {
      pipe.end();
      reject(new Error(`cannot open a WebSocket to ${url.href}: ${error.message}`));
    });
    ws.on("open", () => authenticatedLink(pipe.conn, "dialer", options).then(resolve, reject));
  });
}
