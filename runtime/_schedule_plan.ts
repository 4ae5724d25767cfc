/**
 * The decisions of a schedule, pure: given when it fires (a `NextRun`), what it last fired, the
 * moment and its missed-tick policy, which tick fires now (if any), how many were missed, and when
 * to look again. No timer, no `Date.now()`: the runtime's scheduler (`_schedules.ts`) passes the
 * moment in, and tests pass a fake one.
 *
 * @module
 */
import type { MissedTicks } from "../config/model.ts";

/** When a schedule fires next: the first tick strictly after `after` (ms), `null` for never. */
export type NextTick = (after: number) => number | null;

/**
 * How late a tick may be found and still count as on time (ms): a timer fires a little late, and
 * more so on a loaded machine. A tick later than this was missed (the runtime was busy or asleep),
 * and the schedule's `missed:` policy decides.
 */
export const ON_TIME_MS = 1000;

/** At most this many missed ticks are counted at one wake-up (a longer sleep counts as this many). */
export const MAX_COUNTED = 1000;

/** A schedule's place in time. */
export interface TickState {
  /** The next tick not yet decided, ms since the epoch (`null`: it never fires again). */
  readonly next: number | null;
  /** The last tick it fired (its scheduled time), if any. */
  readonly last: number | null;
}

/** What to do at a wake-up. */
export interface TickDecision {
  /** The scheduled time of the tick to fire now, or `null`. */
  readonly fire: number | null;
  /** Ticks now in the past that will never fire (capped at {@linkcode MAX_COUNTED}). */
  readonly missed: number;
  /** The state after this decision. */
  readonly state: TickState;
}

/**
 * The first state of a schedule created at `now`: it never fires a tick from before it existed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { everyTick, firstState } from "./_schedule_plan.ts";
 * assert.deepEqual(firstState(everyTick(10_000), 12_345), { next: 20_000, last: null });
 * ```
 */
export function firstState(next: NextTick, now: number): TickState {
  return { next: next(now), last: null };
}

/**
 * Ticks every `ms` milliseconds, on multiples of it since the Unix epoch (so the same ticks
 * whenever and wherever the schedule is created).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { everyTick } from "./_schedule_plan.ts";
 * assert.equal(everyTick(10_000)(20_000), 30_000);
 * assert.equal(everyTick(10_000)(20_001), 30_000);
 * ```
 */
export function everyTick(ms: number): NextTick {
  return (after) => (Math.floor(after / ms) + 1) * ms;
}

/**
 * Decides a wake-up at `now`. Of the ticks due (scheduled at or before `now`), at most one fires:
 * the latest, if it is on time (within {@linkcode ON_TIME_MS}); if it is late, `run_once` fires it
 * all the same and `skip` fires none. Every other due tick is missed. The next tick is the first
 * after `now`.
 *
 * @example skip vs run_once after the runtime slept through three ticks
 * ```ts
 * import assert from "node:assert/strict";
 * import { decideTick, everyTick } from "./_schedule_plan.ts";
 * const every10s = everyTick(10_000);
 * const state = { next: 10_000, last: null };
 * const skip = decideTick(every10s, state, 35_000, "skip");
 * assert.deepEqual([skip.fire, skip.missed, skip.state.next], [null, 3, 40_000]);
 * const once = decideTick(every10s, state, 35_000, "run_once");
 * assert.deepEqual([once.fire, once.missed, once.state.last], [30_000, 2, 30_000]);
 * ```
 */
export function decideTick(
  next: NextTick,
  state: TickState,
  now: number,
  missed: MissedTicks,
): TickDecision {
  if (state.next === null || state.next > now) return { fire: null, missed: 0, state };
  const latest = latestDue(next, state.next, now);
  const due = countDue(next, state.next, now);
  const fire = now - latest <= ON_TIME_MS || missed === "run_once" ? latest : null;
  return {
    fire,
    missed: due - (fire === null ? 0 : 1),
    state: { next: next(now), last: fire ?? state.last },
  };
}

/** Ticks from `first` to `now` included, counted up to {@linkcode MAX_COUNTED}. */
function countDue(next: NextTick, first: number, now: number): number {
  let n = 0;
  for (let t: number | null = first; t !== null && t <= now && n < MAX_COUNTED; t = next(t)) n++;
  return n;
}

/**
 * The latest tick at or before `now`, knowing `first` is one: searched in windows before `now`
 * that double until one holds a tick, so a long sleep costs a few steps, not one per tick.
 */
function latestDue(next: NextTick, first: number, now: number): number {
  let window = ON_TIME_MS;
  let from = first;
  while (now - window > first) {
    const t = next(now - window - 1);
    if (t !== null && t <= now) {
      from = t;
      break;
    }
    window *= 2;
  }
  let latest = from;
  for (let t = next(latest); t !== null && t <= now; t = next(t)) latest = t;
  return latest;
}

/**
 * The id of a tick: the schedule's name and its scheduled time, the same wherever and however
 * often it is computed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tickId } from "./_schedule_plan.ts";
 * assert.equal(tickId("cleanup", 10_000), "cleanup@1970-01-01T00:00:10.000Z");
 * ```
 */
export function tickId(schedule: string, at: number): string {
  return `${schedule}@${new Date(at).toISOString()}`;
}
