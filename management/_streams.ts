/**
 * Long-lived responses of the management API: Server-Sent Events or NDJSON, fed by runtime
 * listeners, with bounded memory per client and a recent-log ring buffer.
 *
 * @module
 */
import type { Context } from "hono";
import { type SSEStreamingApi, stream, streamSSE } from "hono/streaming";

/**
 * How a stream is written: SSE (`text/event-stream`) or one JSON object per line.
 *
 * @example
 * ```ts
 * import type { StreamFormat } from "./_streams.ts";
 * const format: StreamFormat = "ndjson";
 * ```
 */
export type StreamFormat = "sse" | "ndjson";

/**
 * What {@linkcode streamResponse} needs.
 *
 * @example
 * ```ts
 * import type { StreamOptions } from "./_streams.ts";
 * const options: StreamOptions = { format: "sse", subscribe: (_push, end) => (end(), () => {}) };
 * ```
 */
export interface StreamOptions {
  /** `sse` (default) or `ndjson`. */
  format?: StreamFormat;
  /**
   * Starts feeding the stream: call `push(type, data)` per event and `end()` to finish it.
   * Returns the function that stops feeding (called once, however the stream ends).
   */
  subscribe(
    push: (type: string, data: Record<string, unknown>) => void,
    end: () => void,
  ): () => void;
  /** Ends the stream (the server is closing). */
  signal?: AbortSignal;
  /** Milliseconds between SSE keep-alive comments (default 15 s; 0: none). */
  heartbeat?: number;
  /**
   * Bytes queued for a client that does not read before it is cut off (default 1 MiB): a stuck
   * client must not grow the runtime's memory.
   */
  maxBuffered?: number;
}

/**
 * A streaming response made by hono's own helpers: `streamSSE` (each event `event: type`,
 * `data: <json>`, `id: n`) or `stream` for NDJSON (each line `{"type": type, ...data}`).
 *
 * What the helpers do not do is added here: the opening `: kraken` comment and keep-alive comments
 * (SSE comments, which `writeSSE` cannot write), ending when `signal` aborts or the client hangs
 * up, and cutting off a client that does not read once `maxBuffered` bytes wait for it (the
 * helpers queue every write without bound).
 *
 * @param c The hono context of the request.
 * @param options The format, the feed, the end signal and the limits.
 * @returns The response to return from the route.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Hono } from "hono";
 * import { streamResponse } from "./_streams.ts";
 * const app = new Hono();
 * app.get("/", (c) =>
 *   streamResponse(c, {
 *     format: "ndjson",
 *     heartbeat: 0,
 *     subscribe(push, end) {
 *       push("hello", { n: 1 });
 *       end();
 *       return () => {};
 *     },
 *   }));
 * const response = await app.request("/");
 * assert.equal(await response.text(), '{"type":"hello","n":1}\n');
 * ```
 */
export function streamResponse(c: Context, options: StreamOptions): Response {
  const format = options.format ?? "sse";
  c.header("cache-control", "no-cache");
  if (format === "ndjson") {
    c.header("content-type", "application/x-ndjson");
    return stream(c, (out) =>
      feed(out, options, (type, data) => {
        const line = `${JSON.stringify({ type, ...data })}\n`;
        return { size: line.length, written: out.write(line) };
      }));
  }
  let id = 0;
  return streamSSE(c, (out) =>
    feed(out, options, (type, data) => {
      const json = JSON.stringify(data);
      return {
        size: json.length + type.length + 32,
        written: out.writeSSE({ id: String(++id), event: type, data: json }),
      };
    }));
}

/** The part of hono's streaming API a feed uses. */
type StreamingApi = Pick<SSEStreamingApi, "write" | "abort" | "onAbort">;

/** Feeds `out` until the feed ends, the signal aborts, the client leaves or stops reading. */
function feed(
  out: StreamingApi,
  options: StreamOptions,
  write: (
    type: string,
    data: Record<string, unknown>,
  ) => { size: number; written: Promise<unknown> },
): Promise<void> {
  const heartbeat = options.heartbeat ?? 15_000;
  const maxBuffered = options.maxBuffered ?? 1 << 20;
  return new Promise<void>((resolve) => {
    let done = false;
    let queued = 0; // characters written but not yet taken by the client
    const pending = new Set<Promise<unknown>>();
    let timer: ReturnType<typeof setInterval> | undefined;
    let unsubscribe: (() => void) | null = null;
    const finish = (cutOff = false) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      options.signal?.removeEventListener("abort", onAbort);
      unsubscribe?.();
      // A client that does not read is dropped with what is queued for it; any other end lets
      // the queue drain first (the helper closes the stream once this promise resolves).
      if (cutOff) out.abort();
      // writeSSE writes after a few microtasks: the helper closes the stream once this resolves,
      // so wait until every write is taken (or dropped, if the client left) not to lose the last.
      resolve(Promise.all(pending).then(() => {}));
    };
    const onAbort = () => finish();
    const account = (size: number, written: Promise<unknown>) => {
      queued += size;
      pending.add(written);
      written.then(() => {
        queued -= size;
        pending.delete(written);
      });
      if (queued > maxBuffered) finish(true);
    };
    const comment = (text: string) => {
      if (!done) account(text.length, out.write(text));
    };
    if (options.signal?.aborted) return finish();
    options.signal?.addEventListener("abort", onAbort);
    out.onAbort(() => finish());
    if ((options.format ?? "sse") === "sse") {
      // Tells the client the stream is open even before the first event.
      comment(": kraken\n\n");
      if (heartbeat > 0) timer = setInterval(() => comment(": keep-alive\n\n"), heartbeat);
    }
    const push = (type: string, data: Record<string, unknown>) => {
      if (done) return;
      const { size, written } = write(type, data);
      account(size, written);
    };
    const stop = options.subscribe(push, () => finish());
    if (done) stop();
    else unsubscribe = stop;
  });
}

/**
 * One line of the log history.
 *
 * @example
 * ```ts
 * import type { LogLine } from "./_streams.ts";
 * const line: LogLine = { time: 0, level: "info", source: "api#0.1", container: "api", message: "ready" };
 * ```
 */
export interface LogLine {
  /** Milliseconds since the epoch. */
  time: number;
  /** `debug`, `info`, `warn`, `error`. */
  level: string;
  /** `runtime`, or the instance that logged it (`name#replica.incarnation`). */
  source: string;
  /** The container that logged it, or `runtime`. */
  container: string;
  /** The text. */
  message: string;
}

/**
 * The container an instance id belongs to: `api#0.3` → `api`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { containerOf } from "./_streams.ts";
 * assert.equal(containerOf("api#0.3"), "api");
 * assert.equal(containerOf("runtime"), "runtime");
 * ```
 */
export function containerOf(source: string): string {
  const hash = source.indexOf("#");
  return hash === -1 ? source : source.slice(0, hash);
}

/**
 * The longest log message kept in the history or streamed, characters: a container printing one
 * enormous line must not make the history (`capacity` lines) hold gigabytes. A longer message is
 * cut here and says how much was left out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_LOG_MESSAGE } from "./_streams.ts";
 * assert.equal(MAX_LOG_MESSAGE, 16 * 1024);
 * ```
 */
export const MAX_LOG_MESSAGE = 16 * 1024;

/**
 * The last `capacity` log lines (each message at most {@linkcode MAX_LOG_MESSAGE} characters), and
 * listeners for new ones.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LogHistory } from "./_streams.ts";
 * const history = new LogHistory(2);
 * for (const message of ["a", "b", "c"]) {
 *   history.add({ time: 0, level: "info", source: "api#0.1", container: "api", message });
 * }
 * assert.equal(history.recent("api", 10).map((l) => l.message).join(), "b,c");
 * ```
 */
export class LogHistory {
  readonly #capacity: number;
  readonly #lines: LogLine[] = [];
  readonly #listeners = new Set<(line: LogLine) => void>();

  /** @param capacity Lines kept (older ones are dropped). */
  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  /** Records a line (its message cut to {@linkcode MAX_LOG_MESSAGE}) and hands it to the listeners. */
  add(line: LogLine): void {
    if (line.message.length > MAX_LOG_MESSAGE) {
      const more = line.message.length - MAX_LOG_MESSAGE;
      line = {
        ...line,
        message: `${line.message.slice(0, MAX_LOG_MESSAGE)}… (${more} more characters)`,
      };
    }
    this.#lines.push(line);
    if (this.#lines.length > this.#capacity) this.#lines.shift();
    for (const listener of this.#listeners) listener(line);
  }

  /** The last `count` lines of `container` (every container when `undefined`), oldest first. */
  recent(container: string | undefined, count: number): LogLine[] {
    if (count <= 0) return [];
    const lines = container === undefined
      ? this.#lines
      : this.#lines.filter((l) => l.container === container);
    return lines.slice(-count);
  }

  /** Whether any kept line came from `container`. */
  has(container: string): boolean {
    return this.#lines.some((l) => l.container === container);
  }

  /** Observes new lines; returns the function that stops observing. */
  listen(listener: (line: LogLine) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
