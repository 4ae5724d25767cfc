// The HTTP load client of bench/serve.ts, run as its own process so that it never shares an
// isolate with the server it measures: `connections` keep-alive HTTP/1.1 connections on raw
// Deno.connect, each sending one GET and reading its whole response before the next (no
// pipelining unless `pipeline` says how many requests leave in one write), for a warm-up then a fixed measured duration. It prints one JSON line
// (`HttpLoadResult`) and exits.
//
//   deno run -A bench/_http_load.ts '{"port":8080,"connections":64,"warmupMs":500,"durationMs":3000}'
//
// A request counts when it started and ended inside the measured window. Errors (a refused or
// reset connection, a malformed response, a status other than 2xx) are counted, and the
// connection is opened again.

/** What the client is told (one JSON argument). */
export interface HttpLoadOptions {
  hostname?: string;
  port: number;
  path?: string;
  connections: number;
  /** Requests written at once on a connection before its responses are read (default 1). */
  pipeline?: number;
  warmupMs: number;
  durationMs: number;
}

/** What one client run measured (its one stdout line). */
export interface HttpLoadResult {
  /** Requests answered with 2xx inside the measured window. */
  ok: number;
  /** Errors inside the measured window: connection failures, bad responses, non-2xx. */
  errors: number;
  /** ok per second over the measured window. */
  rps: number;
  /** Latency p50 and p99, ms. */
  p50: number;
  p99: number;
  /** The first error seen, for the report. */
  firstError?: string;
}

const CR = 13;
const LF = 10;

/** Index just past the first CRLFCRLF at or after `from`, or -1. */
function headerEnd(buf: Uint8Array, from: number, to: number): number {
  for (let i = from; i + 3 < to; i++) {
    if (buf[i] === CR && buf[i + 1] === LF && buf[i + 2] === CR && buf[i + 3] === LF) return i + 4;
  }
  return -1;
}

const latin1 = new TextDecoder("latin1");

/** One keep-alive connection's reader: reads whole responses, grows its buffer as needed. */
class ResponseReader {
  #conn: Deno.Conn;
  #buf = new Uint8Array(16 * 1024);
  #start = 0;
  #end = 0;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  async #fill(): Promise<void> {
    if (this.#end === this.#buf.length) {
      if (this.#start > 0) {
        this.#buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      } else {
        const bigger = new Uint8Array(this.#buf.length * 2);
        bigger.set(this.#buf);
        this.#buf = bigger;
      }
    }
    const n = await this.#conn.read(this.#buf.subarray(this.#end));
    if (n === null) throw new Error("connection closed by the server mid-response");
    this.#end += n;
  }

  /** Reads one response; returns its status. Supports content-length and chunked bodies. */
  async read(): Promise<number> {
    // Offsets are kept relative to #start: #fill may move the buffered bytes to the front.
    let headLength: number;
    let scanned = 0;
    for (;;) {
      const end = headerEnd(this.#buf, this.#start + scanned, this.#end);
      if (end >= 0) {
        headLength = end - this.#start;
        break;
      }
      scanned = Math.max(0, this.#end - this.#start - 3);
      await this.#fill();
    }
    const head = latin1.decode(this.#buf.subarray(this.#start, this.#start + headLength));
    const status = Number(head.slice(9, 12));
    if (!head.startsWith("HTTP/1.1 ") || !Number.isInteger(status)) {
      throw new Error(`not an HTTP/1.1 response: ${JSON.stringify(head.slice(0, 40))}`);
    }
    const length = head.match(/\r\ncontent-length:\s*(\d+)/i);
    if (length) {
      const total = headLength + Number(length[1]);
      while (this.#end - this.#start < total) await this.#fill();
      this.#start += total;
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      this.#start += headLength;
      await this.#skipChunks();
    } else {
      throw new Error(`a response with neither content-length nor chunked: ${head.slice(0, 60)}`);
    }
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return status;
  }

  async #skipChunks(): Promise<void> {
    for (;;) {
      let lineEnd: number;
      while ((lineEnd = this.#crlf()) < 0) await this.#fill();
      const size = parseInt(latin1.decode(this.#buf.subarray(this.#start, lineEnd)), 16);
      if (!Number.isFinite(size)) throw new Error("a malformed chunk size");
      this.#start = lineEnd + 2;
      while (this.#end - this.#start < size + 2) await this.#fill();
      this.#start += size + 2;
      if (size === 0) return;
    }
  }

  #crlf(): number {
    for (let i = this.#start; i + 1 < this.#end; i++) {
      if (this.#buf[i] === CR && this.#buf[i + 1] === LF) return i;
    }
    return -1;
  }
}

/** Runs the load described by `options` and returns what it measured. */
export async function httpLoad(options: HttpLoadOptions): Promise<HttpLoadResult> {
  const hostname = options.hostname ?? "127.0.0.1";
  const depth = options.pipeline ?? 1;
  const request = new TextEncoder().encode(
    `GET ${options.path ?? "/"} HTTP/1.1\r\nHost: ${hostname}:${options.port}\r\n\r\n`.repeat(
      depth,
    ),
  );
  const t0 = performance.now();
  const from = t0 + options.warmupMs;
  const until = from + options.durationMs;
  const latencies: number[] = [];
  let ok = 0;
  let errors = 0;
  let firstError: string | undefined;
  const fail = (error: unknown, at: number) => {
    if (at < from || at > until) return;
    errors++;
    firstError ??= error instanceof Error ? error.message : String(error);
  };

  async function connection(): Promise<void> {
    while (performance.now() < until) {
      let conn: Deno.TcpConn;
      try {
        conn = await Deno.connect({ hostname, port: options.port });
        conn.setNoDelay(true);
      } catch (error) {
        fail(error, performance.now());
        await new Promise((resolve) => setTimeout(resolve, 10)); // no spinning on a refusal
        continue;
      }
      const reader = new ResponseReader(conn);
      try {
        for (let sent = performance.now(); sent < until; sent = performance.now()) {
          await conn.write(request);
          for (let i = 0; i < depth; i++) {
            const status = await reader.read();
            const done = performance.now();
            if (sent < from || done > until) continue;
            if (status >= 200 && status < 300) {
              ok++;
              latencies.push(done - sent);
            } else fail(new Error(`status ${status}`), done);
          }
        }
      } catch (error) {
        fail(error, performance.now());
      } finally {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
    }
  }

  await Promise.all(Array.from({ length: options.connections }, connection));
  latencies.sort((a, b) => a - b);
  const q = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? NaN;
  return {
    ok,
    errors,
    rps: ok / (options.durationMs / 1000),
    p50: q(0.5),
    p99: q(0.99),
    ...(firstError ? { firstError } : {}),
  };
}

if (import.meta.main) {
  const result = await httpLoad(JSON.parse(Deno.args[0]) as HttpLoadOptions);
  console.log(JSON.stringify(result));
}
