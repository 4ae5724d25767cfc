/**
 * The listening side of `ws://` and `wss://`, spoken directly on the socket (RFC 6455, server
 * role, no extensions), so that what a peer sends is bounded **before** it is buffered: the HTTP
 * upgrade request is read up to {@linkcode MAX_UPGRADE_REQUEST} bytes, and each frame's length is
 * checked against the current bound before its payload is read — one handshake frame (4 KiB and
 * its length prefix) until the peer has proven the secret, the link's `max_frame` after. Frames
 * are read only as the link asks for bytes, so a peer sending faster than the link reads is held
 * back by TCP instead of queued in memory.
 *
 * Why not `Deno.serve`'s WebSocket: it buffers a whole message, up to 64 MiB, before the
 * application sees any of it — eight 60 MiB messages sent before authentication grew a listener
 * by 190 MiB here — and it delivers messages as events, without backpressure.
 *
 * @module
 */
import { AuthenticationError, FrameError } from "../protocol/errors.ts";
import { MAX_HANDSHAKE_FRAME } from "./authenticated.ts";
import type { ByteConnection } from "./transport.ts";

/** Largest HTTP upgrade request (request line and headers) read, bytes. */
export const MAX_UPGRADE_REQUEST = 8192;

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const CHUNK = 65536;
const encoder = new TextEncoder();

/** Close codes sent before closing the socket on a bad frame. */
const CLOSE = {
  normal: 1000,
  protocol: 1002,
  unsupported: 1003,
  policy: 1008,
  tooBig: 1009,
} as const;

/**
 * Control frames (pongs) a client may send before it has proven the secret; a ping before then
 * is refused outright: answering it is work done for a stranger.
 */
export const MAX_CONTROL_BEFORE_AUTH = 4;

/** Reads exact byte counts from a socket, with at most one chunk read ahead. */
class SocketReader {
  readonly #conn: Deno.Conn;
  #ahead: Uint8Array;

  constructor(conn: Deno.Conn, ahead: Uint8Array) {
    this.#conn = conn;
    this.#ahead = ahead;
  }

  /** Exactly `n` bytes, or `null` when the stream ends first. */
  async exactly(n: number): Promise<Uint8Array | null> {
    if (this.#ahead.length >= n) {
      const out = this.#ahead.subarray(0, n);
      this.#ahead = this.#ahead.subarray(n);
      return out;
    }
    const out = new Uint8Array(n);
    let at = this.#ahead.length;
    out.set(this.#ahead);
    this.#ahead = new Uint8Array(0);
    while (at < n) {
      if (n - at >= CHUNK) {
        const got = await this.#conn.read(out.subarray(at)); // large: straight into place
        if (got === null) return null;
        at += got;
        continue;
      }
      // Read ahead a little for small reads (a waiting connection holds 4 KiB, not 64).
      const chunk = new Uint8Array(Math.min(CHUNK, Math.max(4096, n - at)));
      const got = await this.#conn.read(chunk);
      if (got === null) return null;
      const used = Math.min(got, n - at);
      out.set(chunk.subarray(0, used), at);
      at += used;
      this.#ahead = chunk.subarray(used, got);
    }
    return out;
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await conn.write(bytes.subarray(at));
}

/** A server frame header (servers never mask). */
function header(opcode: number, length: number): Uint8Array {
  if (length < 126) return new Uint8Array([0x80 | opcode, length]);
  if (length < 65536) return new Uint8Array([0x80 | opcode, 126, length >>> 8, length & 255]);
  const h = new Uint8Array(10);
  h[0] = 0x80 | opcode;
  h[1] = 127;
  new DataView(h.buffer).setBigUint64(2, BigInt(length));
  return h;
}

function closeFrame(code: number): Uint8Array {
  return new Uint8Array([0x88, 2, code >>> 8, code & 255]);
}

/**
 * Reads and answers the HTTP upgrade request on `conn`, then speaks WebSocket on it.
 *
 * @param conn An accepted connection (TCP or TLS).
 * @param options `path` the endpoint; `maxFrame` the link's largest frame (the bound after
 *   authentication); `signal` aborting closes the connection and rejects with its reason.
 * @returns Its bytes as a {@linkcode ByteConnection} (each binary message carries bytes of the
 *   link's frame stream); `authenticated()` lifts the bound to `maxFrame`.
 * @throws {FrameError} Not a WebSocket upgrade for `path`, or a request over
 *   {@linkcode MAX_UPGRADE_REQUEST} bytes (answered with 400, 404 or 426 first).
 */
export async function acceptWebSocket(
  conn: Deno.Conn,
  options: { path: string; maxFrame: number; signal: AbortSignal },
): Promise<ByteConnection> {
  const { signal } = options;
  const abort = () => {
    try {
      conn.close();
    } catch {
      // already closed
    }
  };
  signal.addEventListener("abort", abort, { once: true });
  let ahead: Uint8Array;
  try {
    ahead = await upgrade(conn, options.path);
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    if (error instanceof FrameError) throw error;
    throw new AuthenticationError(
      `the connection failed before its WebSocket upgrade: ${(error as Error).message}`,
    );
  } finally {
    signal.removeEventListener("abort", abort);
  }
  return frames(conn, ahead, options.maxFrame);
}

/** Reads the request head; answers 101 (resolving the bytes read past it) or an error. */
async function upgrade(conn: Deno.Conn, path: string): Promise<Uint8Array> {
  const buffer = new Uint8Array(MAX_UPGRADE_REQUEST);
  let length = 0;
  let end = -1;
  while (end < 0) {
    if (length === buffer.length) {
      await refuse(conn, "431 Request Header Fields Too Large");
      throw new FrameError(
        `a WebSocket upgrade request over ${MAX_UPGRADE_REQUEST} bytes was refused`,
      );
    }
    const got = await conn.read(buffer.subarray(length));
    if (got === null) throw new FrameError("the peer closed before its WebSocket upgrade");
    const from = Math.max(0, length - 3);
    length += got;
    for (let i = from; i + 3 < length; i++) {
      if (
        buffer[i] === 13 && buffer[i + 1] === 10 && buffer[i + 2] === 13 && buffer[i + 3] === 10
      ) {
        end = i;
        break;
      }
    }
  }
  const [requestLine, ...lines] = new TextDecoder().decode(buffer.subarray(0, end)).split("\r\n");
  const request = /^GET (\S+) HTTP\/1\.1$/.exec(requestLine);
  if (!request) {
    await refuse(conn, "400 Bad Request");
    throw new FrameError(
      `not a WebSocket upgrade request: ${JSON.stringify(requestLine.slice(0, 80))}`,
    );
  }
  if (request[1].split("?")[0] !== path) {
    await refuse(conn, "404 Not Found");
    throw new FrameError(
      `a WebSocket upgrade for ${JSON.stringify(request[1].slice(0, 80))}, not ${path}`,
    );
  }
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
  }
  const has = (name: string, token: string) =>
    (headers.get(name) ?? "").toLowerCase().split(",").some((t) => t.trim() === token);
  const key = headers.get("sec-websocket-key") ?? "";
  if (!has("upgrade", "websocket") || !has("connection", "upgrade") || !validKey(key)) {
    await refuse(conn, "400 Bad Request");
    throw new FrameError("an HTTP request without a valid WebSocket upgrade");
  }
  if (headers.get("sec-websocket-version") !== "13") {
    await refuse(conn, "426 Upgrade Required", "Sec-WebSocket-Version: 13\r\n");
    throw new FrameError(
      `a WebSocket upgrade of version ${headers.get("sec-websocket-version") ?? "none"}, not 13`,
    );
  }
  const digest = await crypto.subtle.digest("SHA-1", encoder.encode(key + GUID));
  const accept = btoa(String.fromCharCode(...new Uint8Array(digest)));
  await writeAll(
    conn,
    encoder.encode(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
    ),
  );
  return buffer.slice(end + 4, length);
}

function validKey(key: string): boolean {
  try {
    return atob(key).length === 16;
  } catch {
    return false;
  }
}

async function refuse(conn: Deno.Conn, status: string, extra = ""): Promise<void> {
  await writeAll(
    conn,
    encoder.encode(`HTTP/1.1 ${status}\r\n${extra}Connection: close\r\nContent-Length: 0\r\n\r\n`),
  ).catch(() => {});
}

/** The WebSocket on an upgraded connection, as bytes of binary messages. */
function frames(conn: Deno.Conn, ahead: Uint8Array, maxFrame: number): ByteConnection {
  const reader = new SocketReader(conn, ahead);
  // One handshake frame with its length prefix before authentication; a link frame after.
  let limit = 4 + MAX_HANDSHAKE_FRAME;
  let authenticated = false;
  let closed = false;
  // Frames leave one at a time: a pong or a close never lands inside a data frame.
  let sending = Promise.resolve();
  const send = (...parts: Uint8Array[]) => {
    sending = sending.then(async () => {
      for (const part of parts) await writeAll(conn, part);
    });
    return sending;
  };
  // Only the latest ping is answered (RFC 6455 allows it): at most one pong waits to be written,
  // carrying the payload of the last ping read before it leaves — a client that pings without
  // reading queues nothing. While a pong waits, no further frame is read (`pull` below), so such
  // a client is held back by TCP, not buffered.
  let ping: Uint8Array | null = null;
  let pongQueued = false;
  /** Settles once the last pong queued is written (or failed); `null` when none is pending. */
  let backlog: Promise<void> | null = null;
  const pong = (payload: Uint8Array) => {
    ping = payload;
    if (pongQueued) return;
    pongQueued = true;
    const written = sending.then(async () => {
      const latest = ping!;
      ping = null;
      pongQueued = false;
      await writeAll(conn, header(10, latest.length));
      await writeAll(conn, latest);
    });
    sending = written;
    const settled = written.then(() => {}, () => {});
    backlog = settled;
    settled.then(() => {
      if (backlog === settled) backlog = null;
    });
  };
  let controlBeforeAuth = 0;
  const close = () => {
    if (closed) return;
    closed = true;
    // After the frames already queued (a close frame telling why), whether or not they got out.
    sending.finally(() => {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }).catch(() => {});
  };
  /** Fails with `error` after telling the peer why (close `code`). */
  const fail = (code: number, error: FrameError): never => {
    send(closeFrame(code)).catch(() => {});
    close();
    throw error;
  };
  let inMessage = false;
  let messageSize = 0;
  const readable = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        while (true) {
          // Writes are backed up (the client does not read its pongs): read nothing more until
          // they are out.
          while (backlog) await backlog;
          const head = await reader.exactly(2);
          if (head === null) return void (close(), controller.close());
          const fin = (head[0] & 0x80) !== 0;
          const opcode = head[0] & 0x0f;
          if ((head[0] & 0x70) !== 0) {
            fail(CLOSE.protocol, new FrameError("a WebSocket frame with reserved bits set"));
          }
          if ((head[1] & 0x80) === 0) {
            fail(CLOSE.protocol, new FrameError("an unmasked WebSocket frame from a client"));
          }
          let length = head[1] & 0x7f;
          if (length >= 126) {
            const ext = await reader.exactly(length === 126 ? 2 : 8);
            if (ext === null) return void (close(), controller.close());
            const view = new DataView(ext.buffer, ext.byteOffset, ext.length);
            length = length === 126
              ? view.getUint16(0)
              : view.getUint32(0) * 2 ** 32 + view.getUint32(4);
          }
          const control = opcode >= 8;
          if (control && (!fin || length > 125)) {
            fail(CLOSE.protocol, new FrameError("a WebSocket control frame over 125 bytes"));
          }
          if (opcode === 1 || (opcode === 0 && !inMessage) || (opcode === 2 && inMessage)) {
            fail(
              opcode === 1 ? CLOSE.unsupported : CLOSE.protocol,
              new FrameError(
                opcode === 1
                  ? "a text WebSocket message: links carry binary messages"
                  : "a WebSocket message fragmented out of order",
              ),
            );
          }
          if (!control && opcode > 2) {
            fail(CLOSE.protocol, new FrameError(`a WebSocket frame of unknown opcode ${opcode}`));
          }
          if (!control && messageSize + length > limit) {
            fail(
              CLOSE.tooBig,
              new FrameError(
                `a WebSocket message of ${
                  messageSize + length
                } bytes exceeds the maximum of ${limit} bytes ${
                  authenticated ? "(the link's max_frame)" : "before authentication"
                }`,
              ),
            );
          }
          if (control && opcode !== 8 && !authenticated) {
            if (opcode === 9) {
              fail(CLOSE.policy, new FrameError("a WebSocket ping before authentication"));
            }
            if (++controlBeforeAuth > MAX_CONTROL_BEFORE_AUTH) {
              fail(
                CLOSE.policy,
                new FrameError(
                  `more than ${MAX_CONTROL_BEFORE_AUTH} WebSocket control frames before authentication`,
                ),
              );
            }
          }
          const mask = await reader.exactly(4);
          const payload = mask && await reader.exactly(length);
          if (!mask || !payload) return void (close(), controller.close());
          for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
          if (opcode === 8) {
            // The peer closes: answer with the same code (or 1000), then hang up.
            const code = payload.length >= 2 ? (payload[0] << 8) | payload[1] : CLOSE.normal;
            send(closeFrame(code)).catch(() => {});
            close();
            return controller.close();
          }
          if (opcode === 9) {
            pong(payload);
            continue;
          }
          if (opcode === 10) continue;
          inMessage = !fin;
          messageSize = fin ? 0 : messageSize + length;
          if (payload.length === 0) continue;
          return controller.enqueue(payload);
        }
      } catch (error) {
        close();
        // Before authentication every refusal is typed (what a listener counts and reports).
        throw error instanceof FrameError || authenticated ? error : new AuthenticationError(
          `the WebSocket connection failed during the handshake: ${(error as Error).message}`,
        );
      }
    },
    cancel() {
      close();
    },
  }, { highWaterMark: 0 });
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      // Small messages leave in one write; large ones without copying the payload.
      if (chunk.length >= CHUNK) return send(header(2, chunk.length), chunk);
      const h = header(2, chunk.length);
      const frame = new Uint8Array(h.length + chunk.length);
      frame.set(h);
      frame.set(chunk, h.length);
      return send(frame);
    },
  });
  return {
    readable,
    writable,
    close,
    authenticated() {
      authenticated = true;
      limit = 4 + maxFrame;
    },
  };
}
