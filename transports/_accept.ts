/**
 * Accepting connections without ever giving up, and reporting trouble without flooding a log.
 *
 * An accept can fail while the listener is fine: the process is out of file descriptors
 * (`EMFILE`, e.g. while a flood of idle connections holds them), the system is (`ENFILE`), or a
 * connection was reset before it was taken. A loop written `for await (const conn of listener)`
 * ends on the first such error, and the listener never accepts again — one flood, and no peer
 * can ever link. {@linkcode acceptLoop} retries instead, pausing between failures (10 ms, doubling
 * up to 1 s, back to nothing after a success) so that a descriptor shortage does not become a
 * spinning core; only closing the listener ends it.
 *
 * @module
 */

/** Longest pause between two failed accepts, ms. */
export const MAX_ACCEPT_PAUSE = 1000;

/** First pause after a failed accept, ms. */
const FIRST_PAUSE = 10;

/**
 * Reports a repeated event at most once a second: the first at once; those within the next second
 * are counted, and when it is over the last of them is reported with how many more it stands for.
 * A flood of refusals or failed accepts thus writes one log line a second, not one each, and every
 * event is accounted for (the sum of `1 + more` over the reports).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Throttle } from "./_accept.ts";
 * const reports: [string, number][] = [];
 * const throttle = new Throttle<string>((item, more) => reports.push([item, more]));
 * throttle.note("a"); // reported at once
 * throttle.note("b");
 * throttle.note("c");
 * assert.deepEqual(reports, [["a", 0]]);
 * throttle.close(); // what was held back is reported now (else a second after the first)
 * assert.deepEqual(reports, [["a", 0], ["c", 1]]);
 * ```
 */
export class Throttle<T> {
  readonly #report: (item: T, more: number) => void;
  readonly #now: () => number;
  #reportedAt = -Infinity;
  #held = 0;
  #last: T | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  /**
   * @param report Told of an event, and of how many more (held back since the last report) it
   *   stands for.
   * @param now The clock, ms (default `performance.now`).
   */
  constructor(
    report: (item: T, more: number) => void,
    now: () => number = () => performance.now(),
  ) {
    this.#report = report;
    this.#now = now;
  }

  /** Notes one event: reported now, or held back until its second is over (now, once closed). */
  note(item: T): void {
    const now = this.#now();
    if (this.#closed || (this.#held === 0 && now - this.#reportedAt >= 1_000)) {
      this.#reportedAt = now;
      return this.#call(item, 0);
    }
    this.#held++;
    this.#last = item;
    if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.#flush(), Math.max(0, this.#reportedAt + 1_000 - now));
      // A report due later must not keep the process alive.
      Deno.unrefTimer(this.#timer);
    }
  }

  /** Reports what is held back now and stops the timer; what is noted later is reported at once. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#flush();
  }

  #flush(): void {
    this.#timer = undefined;
    if (this.#held === 0) return;
    const more = this.#held - 1;
    const item = this.#last as T;
    this.#held = 0;
    this.#last = undefined;
    this.#reportedAt = this.#now();
    this.#call(item, more);
  }

  #call(item: T, more: number): void {
    try {
      this.#report(item, more);
    } catch {
      // a reporter that throws must not break whoever noted the event
    }
  }
}

/** ` (and 41 more refused in the last second)`, or nothing. */
export function andMore(more: number, what: string): string {
  return more > 0 ? ` (and ${more} more ${what})` : "";
}

/** A running accept loop. */
export interface AcceptLoop {
  /** Settles once the listener is closed and the loop has ended. */
  readonly done: Promise<void>;
  /** Closes the listener; the loop ends. */
  close(): void;
}

/**
 * Accepts connections from `listener` until it is closed, surviving failed accepts.
 *
 * @param listener The listening socket.
 * @param onConnection Takes each accepted connection (synchronously: the loop goes on at once).
 * @param onError Told of a failed accept, at most once a second ({@linkcode Throttle}), with how
 *   many more failed that it stands for and the current pause between tries; the loop goes on.
 * @returns The loop: `close()` closes the listener, `done` settles when the loop has ended.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { acceptLoop } from "./_accept.ts";
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const accepted = Promise.withResolvers<Deno.Conn>();
 * const loop = acceptLoop(listener, (conn) => accepted.resolve(conn), () => {});
 * const { port } = listener.addr as Deno.NetAddr;
 * const client = await Deno.connect({ hostname: "127.0.0.1", port });
 * (await accepted.promise).close();
 * client.close();
 * loop.close();
 * await loop.done;
 * ```
 */
export function acceptLoop(
  listener: Deno.Listener,
  onConnection: (conn: Deno.Conn) => void,
  onError: (error: Error, more: number, pause: number) => void,
): AcceptLoop {
  let closed = false;
  let wake = () => {};
  let pause = 0;
  const failures = new Throttle<Error>((error, more) => onError(error, more, pause));
  const done = (async () => {
    while (!closed) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (closed || error instanceof Deno.errors.BadResource) break;
        pause = Math.min(MAX_ACCEPT_PAUSE, Math.max(FIRST_PAUSE, pause * 2));
        failures.note(error instanceof Error ? error : new Error(String(error)));
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pause);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        continue;
      }
      pause = 0;
      try {
        onConnection(conn);
      } catch {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
    }
    failures.close();
  })();
  return {
    done,
    close() {
      if (closed) return;
      closed = true;
      try {
        listener.close();
      } catch {
        // already closed
      }
      wake();
    },
  };
}
