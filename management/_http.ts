/**
 * The HTTP/1.1 server under the management API: one request per connection, every resource a
 * client holds bounded, and nothing a client does able to end the process.
 *
 * Why not `Deno.serve`: it takes no connection limit and no header timeout, so idle connections
 * from anyone who can reach the port pile up until the process runs out of file descriptors — and
 * then its accept error is an unhandled promise rejection that ends the whole runtime (20,000
 * idle connections did it). `node:http` under Deno stops accepting for good at the same point.
 * Here:
 *
 * - **Accepting never ends** but by `close()`: a failed accept is retried with a pause up to 1 s
 *   and reported at most once a second (`transports/_accept.ts`).
 * - **At most `maxConnections` (64) at once.** One more makes room by closing the oldest
 *   connection still *receiving* its request (head or body) — not by refusing the newcomer,
 *   which would let that many idle sockets renewed every few seconds lock an administrator out.
 *   Connections whose request is in (being answered, a log or event stream) are never closed
 *   for a newcomer; when all are such, the newcomer gets `503`.
 * - **Deadlines**: the request head within `headersTimeout` (10 s), the whole request within
 *   `requestTimeout` (30 s) of connecting; a head over 16 KiB is `431`, a body is read only as the
 *   handler asks for it (the app caps it at 1 MiB).
 * - **One request per connection** (`Connection: close`): no idle keep-alive connections to hold
 *   or time out. A response streams with chunked encoding; a client that hangs up ends it.
 *
 * @module
 */
import { acceptLoop } from "../transports/_accept.ts";

/** Largest request head (request line and headers) read, bytes. */
export const MAX_REQUEST_HEAD = 16 * 1024;
const MAX_HEADERS = 100;
const MAX_CHUNK_LINE = 1024;
/** How long a response's connection waits for the client to hang up after the last byte, ms. */
const LINGER = 2000;

/**
 * What the server knows of a request besides the request itself: who connected.
 *
 * @example
 * ```ts
 * import type { RequestInfo } from "./_http.ts";
 * const info: RequestInfo = { remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 50000 } };
 * ```
 */
export interface RequestInfo {
  /** The client's address. */
  remoteAddr: Deno.NetAddr;
}

/** Options of {@linkcode serveHttp}. */
export interface HttpServerOptions {
  /** Address to listen on. */
  hostname: string;
  /** Port (`0`: a free one). */
  port: number;
  /** Answers one request; `info.remoteAddr` is the client's address (for the audit log). */
  handler(request: Request, info: RequestInfo): Response | Promise<Response>;
  /** Connections open at once (default 64). */
  maxConnections?: number;
  /** Longest wait for a request head after connecting, ms (default 10 s). */
  headersTimeout?: number;
  /** Longest wait for the whole request (head and body) after connecting, ms (default 30 s). */
  requestTimeout?: number;
  /** Told of failed accepts (at most once a second) and of handlers that threw. */
  onError?(error: Error): void;
}

/** A running server. */
export interface HttpServer {
  /** Where it listens (with the real port). */
  readonly addr: Deno.NetAddr;
  /** Stops accepting, closes every connection, and resolves once they are all done. */
  close(): Promise<void>;
}

/** Thrown inside a connection to answer with `status` and close it. */
class Refusal extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/**
 * Serves `options.handler` over HTTP/1.1 on a socket, bounded as the module doc says.
 *
 * @param options Where to listen, the handler, the limits.
 * @returns The server: its address, and `close()`.
 * @throws {Deno.errors.AddrInUse} The port is taken (and other errors of `Deno.listen`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serveHttp } from "./_http.ts";
 * const server = serveHttp({
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   handler: (request) => new Response(`hello ${new URL(request.url).pathname}`),
 * });
 * const response = await fetch(`http://127.0.0.1:${server.addr.port}/there`);
 * assert.equal(await response.text(), "hello /there");
 * await server.close();
 * ```
 */
export function serveHttp(options: HttpServerOptions): HttpServer {
  const listener = Deno.listen({ hostname: options.hostname, port: options.port });
  const addr = listener.addr as Deno.NetAddr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  const base = `http://${host}:${addr.port}`;
  const max = options.maxConnections ?? 64;
  const report = (error: Error) => {
    try {
      options.onError?.(error);
    } catch {
      // a reporter that throws changes nothing here
    }
  };
  /** Open connections, oldest first. */
  const open = new Set<Connection>();
  const running = new Set<Promise<void>>();
  const accepting = acceptLoop(listener, (conn) => {
    if (open.size >= max) {
      let oldest: Connection | undefined;
      for (const c of open) {
        if (c.evictable) {
          oldest = c;
          break;
        }
      }
      if (!oldest) return busy(conn);
      oldest.close();
      open.delete(oldest);
    }
    const connection = new Connection(conn, base, options, report);
    open.add(connection);
    const done = connection.serve().catch(report).finally(() => {
      open.delete(connection);
      running.delete(done);
    });
    running.add(done);
  }, (error, more, pause) =>
    report(
      new Error(
        `cannot accept a connection: ${error.message}${
          more > 0 ? ` (and ${more} more failed in the last second)` : ""
        }; it keeps trying (every ${pause} ms now)`,
      ),
    ));
  return {
    addr,
    async close() {
      accepting.close();
      await accepting.done;
      for (const connection of open) connection.close();
      await Promise.all(running);
    },
  };
}

/** Every connection is taken by one that answers: say so, briefly, and hang up. */
function busy(conn: Deno.Conn): void {
  const body = '{"error":{"type":"Unavailable","message":"too many connections; try again"}}';
  const bytes = new TextEncoder().encode(
    "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n" +
      `content-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
  );
  // Small enough for the socket's buffer: written at once or never.
  conn.write(bytes).catch(() => {}).finally(() => {
    try {
      conn.close();
    } catch {
      // already closed
    }
  });
}

/** The bytes of one connection, read one at a time (a body, then a watch for the client's end). */
class Source {
  readonly #conn: Deno.Conn;
  #ahead: Uint8Array = new Uint8Array(0);
  #reading: Promise<unknown> = Promise.resolve();

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Puts back bytes read past the request head. */
  unread(bytes: Uint8Array): void {
    this.#ahead = bytes;
  }

  /** The next bytes (at most `max`), or `null` at the end; reads never overlap. */
  next(max = 65536): Promise<Uint8Array | null> {
    const read = this.#reading.then(async () => {
      if (this.#ahead.length > 0) {
        const out = this.#ahead.subarray(0, max);
        this.#ahead = this.#ahead.subarray(out.length);
        return out;
      }
      const buffer = new Uint8Array(Math.min(max, 65536));
      const n = await this.#conn.read(buffer);
      return n === null ? null : buffer.subarray(0, n);
    });
    this.#reading = read.catch(() => {});
    return read;
  }

  /** A line ending in CRLF (without it), at most `max` bytes. */
  async line(max: number): Promise<string> {
    let text = "";
    while (true) {
      const chunk = await this.next(1);
      if (chunk === null) throw new Refusal(400, "the request body ended early");
      const c = chunk[0];
      if (c === 10) return text.endsWith("\r") ? text.slice(0, -1) : text;
      text += String.fromCharCode(c);
      if (text.length > max) throw new Refusal(400, "a chunk size line is too long");
    }
  }
}

/** One accepted connection: one request read, answered, then closed. */
class Connection {
  readonly #conn: Deno.Conn;
  readonly #base: string;
  readonly #options: HttpServerOptions;
  readonly #report: (error: Error) => void;
  readonly #source: Source;
  /**
   * Still receiving its request (head or body), or lingering after its response: what room for
   * a newcomer is made of. A connection being answered (a stream, say) is never closed for one.
   */
  evictable = true;
  #closed = false;
  #timers: ReturnType<typeof setTimeout>[] = [];

  constructor(
    conn: Deno.Conn,
    base: string,
    options: HttpServerOptions,
    report: (error: Error) => void,
  ) {
    this.#conn = conn;
    this.#base = base;
    this.#options = options;
    this.#report = report;
    this.#source = new Source(conn);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#timers.forEach(clearTimeout);
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }

  async serve(): Promise<void> {
    const headDeadline = setTimeout(() => this.close(), this.#options.headersTimeout ?? 10_000);
    let receiving = true;
    const requestDeadline = setTimeout(() => {
      if (receiving) this.close();
    }, this.#options.requestTimeout ?? 30_000);
    this.#timers.push(headDeadline, requestDeadline);
    let request: Request;
    let version: string;
    try {
      ({ request, version } = await this.#readRequest(() => {
        receiving = this.evictable = false;
        clearTimeout(requestDeadline);
      }));
      clearTimeout(headDeadline);
    } catch (error) {
      if (error instanceof Refusal && !this.#closed) {
        await this.#respond(
          Response.json({ error: { type: "BadRequest", message: error.message } }, {
            status: error.status,
          }),
          "GET",
          "HTTP/1.1",
        ).catch(() => {});
      }
      return this.close();
    }
    let response: Response;
    try {
      response = await this.#options.handler(request, {
        remoteAddr: this.#conn.remoteAddr as Deno.NetAddr,
      });
    } catch (error) {
      this.#report(error instanceof Error ? error : new Error(String(error)));
      response = Response.json({ error: { type: "Error", message: "internal error" } }, {
        status: 500,
      });
    }
    // Whatever the handler left unread of the body is not read for it now.
    receiving = this.evictable = false;
    clearTimeout(requestDeadline);
    await this.#respond(response, request.method, version).catch(() => {});
    this.close();
  }

  /** Reads the request head; the body is read as the handler reads it (`bodyDone` at its end). */
  async #readRequest(bodyDone: () => void): Promise<{ request: Request; version: string }> {
    const buffer = new Uint8Array(MAX_REQUEST_HEAD);
    let length = 0;
    let end = -1;
    while (end < 0) {
      if (length === buffer.length) {
        throw new Refusal(431, `the request head is over ${MAX_REQUEST_HEAD} bytes`);
      }
      const n = await this.#conn.read(buffer.subarray(length));
      if (n === null) throw new Error("the client closed before its request was complete");
      const from = Math.max(0, length - 3);
      length += n;
      for (let i = from; i + 3 < length; i++) {
        if (
          buffer[i] === 13 && buffer[i + 1] === 10 && buffer[i + 2] === 13 && buffer[i + 3] === 10
        ) {
          end = i;
          break;
        }
      }
    }
    this.#source.unread(buffer.slice(end + 4, length));
    const [line, ...lines] = new TextDecoder("latin1").decode(buffer.subarray(0, end)).split(
      "\r\n",
    );
    const parts = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\/\S*) (HTTP\/1\.[01])$/.exec(line);
    if (!parts) throw new Refusal(400, "the request line is not METHOD /path HTTP/1.1");
    const [, method, target, version] = parts;
    if (lines.length > MAX_HEADERS) throw new Refusal(431, `more than ${MAX_HEADERS} headers`);
    const headers = new Headers();
    try {
      for (const header of lines) {
        const colon = header.indexOf(":");
        if (colon <= 0 || header[0] === " " || header[0] === "\t") {
          throw new Refusal(400, "a malformed header line");
        }
        headers.append(header.slice(0, colon), header.slice(colon + 1).trim());
      }
    } catch (error) {
      throw error instanceof Refusal ? error : new Refusal(400, "a malformed header line");
    }
    const body = this.#body(headers, bodyDone);
    if (headers.get("expect")?.toLowerCase() === "100-continue" && body) {
      await writeAll(this.#conn, new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n"));
    }
    let request: Request;
    try {
      request = new Request(`${this.#base}${target}`, {
        method,
        headers,
        ...(body && method !== "GET" && method !== "HEAD" ? { body } : {}),
      });
    } catch {
      throw new Refusal(400, "the request line or headers are not valid");
    }
    if (!body || method === "GET" || method === "HEAD") bodyDone();
    return { request, version };
  }

  /** The request body as a stream read on demand, or `null` when it has none. */
  #body(headers: Headers, done: () => void): ReadableStream<Uint8Array> | null {
    const encoding = headers.get("transfer-encoding");
    const declared = headers.get("content-length");
    if (encoding !== null) {
      if (encoding.toLowerCase() !== "chunked" || declared !== null) {
        throw new Refusal(400, "only a chunked body (without content-length) is understood");
      }
      return this.#chunked(done);
    }
    if (declared === null) return null;
    if (!/^\d{1,15}$/.test(declared)) throw new Refusal(400, "a malformed content-length");
    let left = Number(declared);
    if (left === 0) return null;
    const source = this.#source;
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        const chunk = await source.next(Math.min(left, 65536));
        if (chunk === null) return controller.error(new Error("the request body ended early"));
        left -= chunk.length;
        controller.enqueue(chunk.slice());
        if (left === 0) {
          done();
          controller.close();
        }
      },
    }, { highWaterMark: 0 });
  }

  #chunked(done: () => void): ReadableStream<Uint8Array> {
    const source = this.#source;
    let left = 0;
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          if (left === 0) {
            const size = (await source.line(MAX_CHUNK_LINE)).split(";")[0].trim();
            if (!/^[0-9a-fA-F]{1,8}$/.test(size)) throw new Refusal(400, "a malformed chunk size");
            left = parseInt(size, 16);
            if (left === 0) {
              // Trailers, if any, up to the empty line.
              for (let i = 0; (await source.line(MAX_CHUNK_LINE)) !== ""; i++) {
                if (i >= MAX_HEADERS) throw new Refusal(400, "too many trailers");
              }
              done();
              return controller.close();
            }
          }
          const chunk = await source.next(Math.min(left, 65536));
          if (chunk === null) throw new Refusal(400, "the request body ended early");
          left -= chunk.length;
          if (left === 0 && await source.line(2) !== "") {
            throw new Refusal(400, "a chunk is longer than its size");
          }
          controller.enqueue(chunk.slice());
        } catch (error) {
          controller.error(error);
        }
      },
    }, { highWaterMark: 0 });
  }

  /** Writes `response` (chunked, unless the client spoke HTTP/1.0), ending early if it hangs up. */
  async #respond(response: Response, method: string, version: string): Promise<void> {
    const status = response.status;
    const bodyless = method === "HEAD" || status === 204 || status === 304 || !response.body;
    const chunked = !bodyless && version === "HTTP/1.1";
    let head = `HTTP/1.1 ${status} ${response.statusText || REASONS[status] || ""}\r\n`;
    for (const [name, value] of response.headers) {
      if (name === "content-length" || name === "transfer-encoding" || name === "connection") {
        continue;
      }
      head += `${name}: ${value}\r\n`;
    }
    if (chunked) head += "transfer-encoding: chunked\r\n";
    else if (bodyless && status !== 204 && status !== 304) head += "content-length: 0\r\n";
    head += "connection: close\r\n\r\n";
    const encoder = new TextEncoder();
    await writeAll(this.#conn, encoder.encode(head));
    // The client's end, watched while the body streams: a stream it left must stop feeding it.
    const reader = bodyless ? null : response.body!.getReader();
    let hungUp = false;
    const watching = (async () => {
      while (!this.#closed) {
        const chunk = await this.#source.next().catch(() => null);
        if (chunk === null) break;
      }
      hungUp = true;
      reader?.cancel().catch(() => {});
    })();
    if (reader) {
      try {
        while (!hungUp) {
          const { value, done } = await reader.read();
          if (done) break;
          if (value.length === 0) continue;
          if (!chunked) {
            await writeAll(this.#conn, value);
            continue;
          }
          const size = encoder.encode(`${value.length.toString(16)}\r\n`);
          const piece = new Uint8Array(size.length + value.length + 2);
          piece.set(size);
          piece.set(value, size.length);
          piece.set([13, 10], size.length + value.length);
          await writeAll(this.#conn, piece);
        }
        if (chunked && !hungUp) await writeAll(this.#conn, encoder.encode("0\r\n\r\n"));
      } finally {
        reader.cancel().catch(() => {});
      }
    } else response.body?.cancel().catch(() => {});
    // Let the client read all of it before the socket goes: closing with its bytes unread would
    // reset the connection, and a reset can lose the response on its way.
    try {
      (this.#conn as Deno.TcpConn).closeWrite();
    } catch {
      // already closed
    }
    this.evictable = true; // all of it is out: the client's to read, not a slot to hold
    let linger: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([watching, new Promise((r) => (linger = setTimeout(r, LINGER)))]);
    clearTimeout(linger);
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await conn.write(bytes.subarray(at));
}

const REASONS: Record<number, string> = {
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  400: "Bad Request",
  401: "Unauthorized",
  404: "Not Found",
  409: "Conflict",
  413: "Content Too Large",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
};
