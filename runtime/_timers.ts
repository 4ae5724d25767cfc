/**
 * Timers owned by one container incarnation (`ctx.setTimeout`, `ctx.setInterval`): every one of
 * them is cleared when the incarnation ends, whatever the reason (failure, stop, restart).
 *
 * An inline container shares the host's isolate and its global timers: a plain `setInterval`
 * started by an incarnation outlives it (the runtime cannot tell whose it is), keeps running after
 * a restart and keeps the process alive after shutdown. These timers cannot: they belong to the
 * incarnation, and their callbacks run through it, so a callback that throws fails it like a
 * handler would.
 *
 * @module
 */

type TimerId = ReturnType<typeof setTimeout>;

/** Runs a due callback on behalf of the incarnation (it decides whether, and catches failures). */
export type TimerRunner = (callback: () => unknown) => void;

/** The timers of one incarnation. */
export class OwnedTimers {
  readonly #run: TimerRunner;
  readonly #live = new Map<TimerId, "timeout" | "interval">();
  #ended = false;

  /** @param run Runs a callback when its timer comes due. */
  constructor(run: TimerRunner) {
    this.#run = run;
  }

  /** Timers still pending. */
  get size(): number {
    return this.#live.size;
  }

  /**
   * Calls `callback` once after `ms` milliseconds, unless cancelled or the incarnation ended.
   * @returns A function that cancels it (idempotent).
   * @throws {TypeError} `callback` is not a function.
   * @throws {RangeError} `ms` is not a finite number >= 0.
   */
  setTimeout(callback: () => unknown, ms: number): () => void {
    check("setTimeout", callback, ms);
    if (this.#ended) return () => {};
    const id = setTimeout(() => {
      this.#live.delete(id);
      this.#run(callback);
    }, ms);
    this.#live.set(id, "timeout");
    return () => this.#clear(id);
  }

  /**
   * Calls `callback` every `ms` milliseconds until cancelled or the incarnation ended.
   * @returns A function that cancels it (idempotent).
   * @throws {TypeError} `callback` is not a function.
   * @throws {RangeError} `ms` is not a finite number >= 0.
   */
  setInterval(callback: () => unknown, ms: number): () => void {
    check("setInterval", callback, ms);
    if (this.#ended) return () => {};
    const id = setInterval(() => this.#run(callback), ms);
    this.#live.set(id, "interval");
    return () => this.#clear(id);
  }

  /** Clears every timer; later ones are not started (the incarnation is over). */
  end(): void {
    this.#ended = true;
    for (const id of [...this.#live.keys()]) this.#clear(id);
  }

  #clear(id: TimerId): void {
    const kind = this.#live.get(id);
    if (kind === undefined) return;
    this.#live.delete(id);
    if (kind === "timeout") clearTimeout(id);
    else clearInterval(id);
  }
}

function check(name: string, callback: unknown, ms: unknown): void {
  if (typeof callback !== "function") {
    throw new TypeError(`ctx.${name} takes a callback function, got ${typeof callback}`);
  }
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) {
    throw new RangeError(
      `ctx.${name}: the delay must be a finite number of milliseconds >= 0, got ${String(ms)}`,
    );
  }
}
