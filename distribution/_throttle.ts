/**
 * A call made at once while calls are rare, and at most once per interval while they come fast:
 * a token bucket on an injected clock. The NATS bridge hands learnt routes to its runtime through
 * one, because the runtime then hands its whole routing table to each of its isolates: a runtime
 * whose announcements change all the time (or a flood of them) must not cost that every time.
 *
 * @module
 */
import type { TimerHandle, Timers } from "./_clock.ts";

/**
 * Calls `fire` when {@linkcode Throttle.request}ed: at once up to `burst` times in a row, then
 * once per `every` ms at most; requests meanwhile are folded into the next call.
 *
 * @example Ten at once, then one per 100 ms (timers fired by hand)
 * ```ts
 * import assert from "node:assert/strict";
 * import { Timers } from "./_clock.ts";
 * import { Throttle } from "./_throttle.ts";
 * const due: (() => void)[] = [];
 * const timers = new Timers({ now: () => 0, setTimer: (f) => due.push(f), clearTimer: () => {} });
 * let calls = 0;
 * const throttle = new Throttle(timers, { every: 100, burst: 10 }, () => calls++);
 * for (let i = 0; i < 50; i++) throttle.request();
 * assert.equal(calls, 10);
 * due.shift()!();
 * assert.equal(calls, 11, "the forty others, folded into one");
 * ```
 */
export class Throttle {
  readonly #timers: Timers;
  readonly #every: number;
  readonly #burst: number;
  readonly #fire: () => void;
  #tokens: number;
  #counted = -Infinity;
  #queued: TimerHandle | undefined;

  /**
   * A throttle with its burst full.
   * @param timers The owner's timers (cleared with them).
   * @param options `every`: ms between calls once the burst is spent; `burst`: calls at once.
   * @param fire What to call.
   */
  constructor(timers: Timers, options: { every: number; burst: number }, fire: () => void) {
    this.#timers = timers;
    this.#every = options.every;
    this.#burst = options.burst;
    this.#tokens = options.burst;
    this.#fire = fire;
  }

  /** Asks for a call: now if the burst allows, else folded into the one waiting. */
  request(): void {
    if (this.#queued) return;
    const now = this.#timers.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#counted) / this.#every);
    this.#counted = now;
    if (this.#tokens >= 1) {
      this.#tokens--;
      return this.#fire();
    }
    this.#queued = this.#timers.after((1 - this.#tokens) * this.#every, () => {
      this.#queued = undefined;
      this.#tokens = 0;
      this.#counted = this.#timers.now();
      this.#fire();
    });
  }
}
