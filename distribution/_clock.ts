/**
 * Time for distribution's decisions — when a silent peer is unreachable, when an away runtime is
 * gone, when to redial, when a lost agent's containers move — taken from an injected
 * {@linkcode Clock} (the supervisor runner's), so tests move it by hand. Bounds on real I/O (a
 * NATS drain at shutdown) stay on real timers: they wait for sockets, not for a decision.
 *
 * @module
 */
import type { Clock } from "../supervisor/runner.ts";

export type { Clock };

/** This isolate's clock and timers. */
export const SYSTEM_CLOCK: Clock = {
  now: () => performance.now(),
  setTimer: (fire, ms) => setTimeout(fire, ms),
  clearTimer: (timer) => clearTimeout(timer as number),
};

/** A handle to one timer of a {@linkcode Timers}. */
export type TimerHandle = { readonly id: number };

/**
 * The timers of one owner on one clock: each can be cancelled, and `clear()` cancels every one
 * still pending (on close), so nothing fires after its owner is gone.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Timers } from "./_clock.ts";
 * const due: (() => void)[] = [];
 * const timers = new Timers({
 *   now: () => 0,
 *   setTimer: (fire) => due.push(fire),
 *   clearTimer: () => {},
 * });
 * let fired = 0;
 * timers.after(10, () => fired++);
 * due[0]();
 * assert.equal(fired, 1);
 * ```
 */
export class Timers {
  readonly #clock: Clock;
  readonly #pending = new Map<number, unknown>();
  /** Sleepers, woken early by `clear()`. */
  readonly #wakers = new Map<number, () => void>();
  #next = 1;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Now, on this clock. */
  now(): number {
    return this.#clock.now();
  }

  /** Calls `fire` once after `ms`. */
  after(ms: number, fire: () => void): TimerHandle {
    const handle = { id: this.#next++ };
    this.#pending.set(
      handle.id,
      this.#clock.setTimer(() => {
        if (this.#pending.delete(handle.id)) fire();
      }, ms),
    );
    return handle;
  }

  /** Calls `fire` every `ms` until cancelled. */
  every(ms: number, fire: () => void): TimerHandle {
    const handle = { id: this.#next++ };
    const tick = () => {
      if (!this.#pending.has(handle.id)) return;
      this.#pending.set(handle.id, this.#clock.setTimer(tick, ms));
      fire();
    };
    this.#pending.set(handle.id, this.#clock.setTimer(tick, ms));
    return handle;
  }

  /** Resolves after `ms`, or at once when the timers are cleared meanwhile. */
  sleep(ms: number): Promise<void> {
    return this.#sleep(ms).done;
  }

  /**
   * Waits for `promise` to settle or `ms` to pass, whichever comes first (or for `clear()`); the
   * timer is cancelled either way.
   */
  async bound(promise: Promise<unknown>, ms: number): Promise<void> {
    const sleeper = this.#sleep(ms);
    try {
      await Promise.race([promise.then(() => {}, () => {}), sleeper.done]);
    } finally {
      sleeper.wake();
    }
  }

  #sleep(ms: number): { done: Promise<void>; wake: () => void } {
    let wake!: () => void;
    const done = new Promise<void>((resolve) => {
      wake = () => {
        this.#wakers.delete(handle.id);
        this.cancel(handle);
        resolve();
      };
    });
    const handle = this.after(ms, wake);
    this.#wakers.set(handle.id, wake);
    return { done, wake };
  }

  /** Cancels a timer (nothing happens if it fired or was cancelled already). */
  cancel(handle: TimerHandle | undefined): void {
    if (!handle || !this.#pending.has(handle.id)) return;
    const timer = this.#pending.get(handle.id);
    this.#pending.delete(handle.id);
    this.#clock.clearTimer(timer);
  }

  /** Cancels every pending timer; sleepers wake at once. */
  clear(): void {
    for (const timer of this.#pending.values()) this.#clock.clearTimer(timer);
    this.#pending.clear();
    const wakers = [...this.#wakers.values()];
    this.#wakers.clear();
    for (const wake of wakers) wake();
  }
}
