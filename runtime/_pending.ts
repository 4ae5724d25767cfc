/**
 * Requests waiting for replies, with their deadlines kept by one timer.
 *
 * One timer for all requests (armed for the earliest deadline) instead of one per request: at a
 * million requests a second, per-request `setTimeout`/`clearTimeout` would cost more than the
 * request itself. The clock is injected so deadline logic is testable without waiting.
 *
 * The table is rebuilt every {@linkcode RENEW_EVERY} additions (see `#renew`): V8 allocates a
 * Map's next backing table in the generation of the one it replaces, so once a table has been
 * promoted (the table sat unchanged through two scavenges, e.g. while the node was idle), every
 * later one is born in old space, and each one left behind by a rehash holds the requests it had,
 * alive through the remembered set until the next full GC. Measured under load (worker mode,
 * `--trace-gc-nvp`): 6.5–7 MB surviving each scavenge of the host and 13–17 ms scavenges.
 *
 * @module
 */

/**
 * Additions after which the waiting-request table is rebuilt (at least four times its size apart,
 * so a large table costs O(1) per addition).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RENEW_EVERY } from "./_pending.ts";
 * assert.ok(RENEW_EVERY >= 1024);
 * ```
 */
export const RENEW_EVERY = 4096;

/** A request waiting for its reply. */
export interface Pending {
  /** Request id, unique per node. */
  readonly id: number;
  /** When it expires (clock milliseconds). */
  deadline: number;
}

/** Options of {@linkcode PendingRequests}. */
export interface PendingOptions<P extends Pending> {
  /** Called for each request whose deadline passed; it is already removed. */
  onExpire: (pending: P) => void;
  /** Current time in ms (default `performance.now`). */
  now?: () => number;
  /** Timer functions (default the global ones). */
  setTimer?: (fn: () => void, ms: number) => unknown;
  /** Clears a timer made by `setTimer`. */
  clearTimer?: (id: unknown) => void;
}

/** The table of waiting requests. */
export class PendingRequests<P extends Pending> {
  #map = new Map<number, P>();
  #adds = 0;
  readonly #onExpire: (pending: P) => void;
  readonly now: () => number;
  readonly #setTimer: (fn: () => void, ms: number) => unknown;
  readonly #clearTimer: (id: unknown) => void;
  #timer: unknown;
  #timerAt = Infinity;

  /** @param options Expiry callback and clock. */
  constructor(options: PendingOptions<P>) {
    this.#onExpire = options.onExpire;
    this.now = options.now ?? (() => performance.now());
    this.#setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.#clearTimer = options.clearTimer ?? ((id) => clearTimeout(id as number));
  }

  /** Requests waiting. */
  get size(): number {
    return this.#map.size;
  }

  /** Adds (or re-adds after changing its deadline) a request. */
  add(pending: P): void {
    if (++this.#adds >= RENEW_EVERY && this.#adds >= 4 * this.#map.size) this.#renew();
    this.#map.set(pending.id, pending);
    if (pending.deadline < this.#timerAt) this.#arm(pending.deadline);
  }

  /**
   * A fresh table with the same requests in the same order: born in the young generation, it and
   * those after it die there (see the module's note). Safe while nobody iterates: `values()` is
   * never held across an `add`.
   */
  #renew(): void {
    this.#adds = 0;
    this.#map = new Map(this.#map);
  }

  /** Removes and returns the request `id`, if still waiting. */
  take(id: number): P | undefined {
    const pending = this.#map.get(id);
    // The timer stays armed when the table empties: re-arming it for every request of a
    // one-at-a-time caller would cost more than the request; a sweep of nothing is cheap.
    if (pending) this.#map.delete(id);
    return pending;
  }

  /** Looks at request `id` without removing it. */
  get(id: number): P | undefined {
    return this.#map.get(id);
  }

  /** Every request waiting (a live view: copy it before changing the table). */
  values(): IterableIterator<P> {
    return this.#map.values();
  }

  /** Removes and returns every request (on close). */
  drain(): P[] {
    const all = [...this.#map.values()];
    this.#map.clear();
    this.#disarm();
    return all;
  }

  /** Expires due requests now (the timer calls this; tests with a fake clock may too). */
  sweep(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = this.now();
    const due: P[] = [];
    let next = Infinity;
    for (const pending of this.#map.values()) {
      if (pending.deadline <= now) due.push(pending);
      else if (pending.deadline < next) next = pending.deadline;
    }
    for (const pending of due) this.#map.delete(pending.id);
    if (next < Infinity) this.#arm(next);
    for (const pending of due) this.#onExpire(pending);
  }

  #arm(at: number): void {
    this.#disarm();
    this.#timerAt = at;
    this.#timer = this.#setTimer(() => this.sweep(), Math.max(0, at - this.now()));
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clearTimer(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }
}
