/**
 * A clock for request deadlines that reads `performance.now()` at most once per millisecond of
 * wall time and once per microtask turn.
 *
 * Every request reads the clock for its deadline; under load, Deno's `performance.now()` (an op
 * into Rust, ~120 ns here) was the largest single item of an inline request's profile
 * (docs/performance.md). `Date.now()` is a V8 builtin at about half that cost but follows the
 * wall clock (it can jump), so it only tells whether the last reading may be reused: a reading is
 * reused while `Date.now()` still shows the millisecond it was taken in and the turn it was taken
 * in has not ended. A reading served is therefore never more than about 1 ms old (the resolution
 * `setTimeout` keeps deadlines to anyway), and a wall-clock step cannot make it older than the
 * current turn. A deadline counted from it starts at most that much earlier, never later.
 *
 * @module
 */

/**
 * Makes a clock over `read` that reuses a reading within one wall-clock millisecond and turn.
 *
 * @param read The monotonic clock (ms).
 * @param wall The wall clock (ms) that tells whether a millisecond went by.
 * @param schedule Queues the end-of-turn expiry (default `queueMicrotask`).
 * @returns The clock.
 */
export function turnClock(
  read: () => number = () => performance.now(),
  wall: () => number = Date.now,
  schedule: (fn: () => void) => void = queueMicrotask,
): () => number {
  let value = 0;
  let at = NaN; // the wall millisecond `value` was read in; NaN: read again
  const expire = () => {
    at = NaN;
  };
  return () => {
    const ms = wall();
    if (ms === at) return value;
    if (at !== at) schedule(expire); // NaN: no expiry pending for this turn yet
    at = ms;
    return value = read();
  };
}
