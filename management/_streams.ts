/**
 * Long-lived responses of the management API: Server-Sent Events or NDJSON, fed by runtime
 * listeners, with bounded memory per client and a recent-log ring buffer.
 *
 * @module
 */

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

const encoder = new TextEncoder();

/**
 * A streaming `Response`. In SSE each event is `id: n`, `event: type`, `data: <json>`; in NDJSON
 * each line is `{"type": type, ...data}`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { streamResponse } from "./_streams.ts";
 * const response = streamResponse({
 *   format: "ndjson",
 *   heartbeat: 0,
 *   subscribe(push, end) {
 *     push("hello", { n: 1 });
 *     end();
 *     return () => {};
 *   },
 * });
 * assert.equal((await response.text()), '{"type":"hello","n":1}\n');
 * ```
 */
export function streamResponse(options: StreamOptions): Response {
  const format = options.format ?? "sse";
  const heartbeat = options.heartbeat ?? 15_000;
  let finish = () => {};
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      let done = false;
      let id = 0;
      let timer: ReturnType<typeof setInterval> | undefined;
      let unsubscribe: (() => void) | null = null;
      finish = () => {
        if (done) return;
        done = true;
        clearInterval(timer);
        options.signal?.removeEventListener("abort", finish);
        unsubscribe?.();
        try {
          controller.close();
        } catch {
          // already cancelled by the client
        }
      };
      const write = (text: string) => {
        if (done) return;
        controller.enqueue(encoder.encode(text));
        // The queue is over its limit: this client does not read. Cut it off.
        if ((controller.desiredSize ?? 0) < 0) finish();
      };
      const push = (type: string, data: Record<string, unknown>) => {
        write(
          format === "ndjson"
            ? `${JSON.stringify({ type, ...data })}\n`
            : `id: ${++id}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`,
        );
      };
      if (options.signal?.aborted) return finish();
      options.signal?.addEventListener("abort", finish);
      if (format === "sse") {
        // Tells the client the stream is open even before the first event.
        write(": kraken\n\n");
        if (heartbeat > 0) timer = setInterval(() => write(": keep-alive\n\n"), heartbeat);
      }
      const stop = options.subscribe(push, () => finish());
      if (done) stop();
      else unsubscribe = stop;
    },
    cancel() {
      finish();
    },
  }, new ByteLengthQueuingStrategy({ highWaterMark: options.maxBuffered ?? 1 << 20 }));
  return new Response(body, {
    headers: {
      "content-type": format === "ndjson" ? "application/x-ndjson" : "text/event-stream",
      "cache-control": "no-cache",
    },
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
