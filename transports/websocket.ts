/**
 * The `ws://` and `wss://` transports: links over WebSocket, served by hono's `upgradeWebSocket` on
 * `Deno.serve` (so the same server can later carry the management API). Each binary WebSocket
 * message carries bytes of the link's frame stream; the handshake and framing are the same as over
 * TCP. Loaded only when a `ws://` URL is used (hono is an npm package; isolates stay light).
 *
 * @module
 */
import { Hono } from "hono";
import { upgradeWebSocket } from "hono/deno";
import type { ByteConnection, Listener, ListenOptions, TransportOptions } from "./registry.ts";
import { linkOver } from "./registry.ts";
import type { Link } from "./link.ts";

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

/** Listens for WebSocket links at `url` (its path is the endpoint, `/` by default). */
export function listenWebSocket(url: URL, options: ListenOptions): Promise<Listener> {
  const app = new Hono();
  const path = url.pathname || "/";
  const sockets = new Set<{ close(): void }>();
  app.get(
    path,
    upgradeWebSocket(() => {
      let pipe: ReturnType<typeof bytesOver> | null = null;
      return {
        onOpen(_event, ws) {
          const socket = { close: () => ws.close() };
          sockets.add(socket);
          pipe = bytesOver((bytes) => ws.send(bytes as Uint8Array<ArrayBuffer>), () => {
            sockets.delete(socket);
            ws.close();
          });
          linkOver(pipe.conn, "listener", options).then(
            (link) => options.onLink(link, "websocket"),
            (error: Error) => options.onRefused?.(error, "websocket"),
          );
        },
        onMessage(event) {
          const data = event.data;
          if (typeof data === "string") return pipe?.conn.close(); // text frames are not ours
          if (data instanceof Blob) {
            data.arrayBuffer().then((b) => pipe?.push(b));
          } else pipe?.push(data as ArrayBuffer);
        },
        onClose() {
          pipe?.end();
        },
        onError() {
          pipe?.end();
        },
      };
    }),
  );
  const tls = options.tls;
  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname: url.hostname || "127.0.0.1",
      port: Number(url.port || 0),
      ...(url.protocol === "wss:" && tls?.cert && tls.key
        ? { cert: Deno.readTextFileSync(tls.cert), key: Deno.readTextFileSync(tls.key) }
        : {}),
      onListen(addr) {
        const real = new URL(url.href);
        real.port = String((addr as Deno.NetAddr).port);
        resolve({
          url: real,
          async close() {
            for (const socket of sockets) socket.close();
            await server.shutdown();
          },
        });
      },
    }, app.fetch);
  });
}

/** Dials a WebSocket link; resolves once authenticated. */
export function dialWebSocket(url: URL, options: TransportOptions): Promise<Link> {
  return new Promise((resolve, reject) => {
    // wss:// trusting a private CA (e.g. a self-signed certificate): Deno's WebSocket takes an
    // HTTP client with the extra root.
    const ca = url.protocol === "wss:" ? options.tls?.ca : undefined;
    const client = ca ? Deno.createHttpClient({ caCerts: [Deno.readTextFileSync(ca)] }) : null;
    const ws = client
      ? new WebSocket(url.href, { client } as unknown as string[])
      : new WebSocket(url.href);
    ws.binaryType = "arraybuffer";
    ws.addEventListener("close", () => client?.close());
    const pipe = bytesOver((bytes) => ws.send(bytes), () => ws.close());
    ws.onmessage = (event) => {
      if (typeof event.data === "string") ws.close();
      else pipe.push(event.data as ArrayBuffer);
    };
    ws.onclose = () => pipe.end();
    ws.onerror = () => {
      pipe.end();
      reject(new Error(`cannot open a WebSocket to ${url.href}`));
    };
    ws.onopen = () => linkOver(pipe.conn, "dialer", options).then(resolve, reject);
  });
}
