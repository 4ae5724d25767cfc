// The pure decisions of a schedule on a fake clock: which tick fires, which are missed, and the
// next one (runtime/_schedule_plan.ts), cron with seconds and time zones included.
import assert from "node:assert/strict";
import { cronNextRun } from "../../config/cron.ts";
import {
  decideTick,
  everyTick,
  firstState,
  type NextTick,
  ON_TIME_MS,
  type TickState,
} from "../../runtime/_schedule_plan.ts";

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | null) => ms === null ? null : new Date(ms).toISOString();

/** Wakes at each moment in turn, as the runtime's timer would; returns the ticks fired. */
function run(next: NextTick, start: number, wakes: number[], missed: "skip" | "run_once") {
  let state: TickState = firstState(next, start);
  const fired: number[] = [];
  let missedCount = 0;
  for (const now of wakes) {
    const d = decideTick(next, state, now, missed);
    if (d.fire !== null) fired.push(d.fire);
    missedCount += d.missed;
    state = d.state;
  }
  return { fired, missed: missedCount, state };
}

Deno.test("every: ticks fall on multiples of the period since the epoch, never before the schedule existed", () => {
  const next = everyTick(10_000);
  assert.deepEqual(firstState(next, 123_456), { next: 130_000, last: null });
  // Created exactly on a tick: that tick is not fired (it is not after the creation).
  assert.equal(firstState(next, 130_000).next, 140_000);
});

Deno.test("a timer that fires on time (or a little late) fires each tick once, in order", () => {
  const next = everyTick(10_000);
  const { fired, missed } = run(next, 5_000, [10_003, 20_000, 30_400, 30_500], "skip");
  assert.deepEqual(fired, [10_000, 20_000, 30_000]);
  assert.equal(missed, 0);
});

Deno.test("waking early or twice for one tick never fires it twice", () => {
  const next = everyTick(10_000);
  const { fired } = run(next, 0, [9_999, 10_000, 10_000, 10_001, 19_999], "run_once");
  assert.deepEqual(fired, [10_000]);
});

Deno.test("skip: after the runtime slept through ticks, none of them fires; the next one does", () => {
  const next = everyTick(10_000);
  const { fired, missed, state } = run(next, 0, [45_000, 50_010], "skip");
  assert.deepEqual(fired, [50_000]);
  assert.equal(missed, 4); // 10, 20, 30 and 40 s
  assert.equal(state.next, 60_000);
});

Deno.test("run_once: after the runtime slept through ticks, the latest fires once, not once per tick", () => {
  const next = everyTick(10_000);
  const { fired, missed, state } = run(next, 0, [45_000, 50_010], "run_once");
  assert.deepEqual(fired, [40_000, 50_000]);
  assert.equal(missed, 3); // 10, 20 and 30 s: covered by the one run at 45 s
  assert.equal(state.last, 50_000);
});

Deno.test(`skip: a tick found more than ON_TIME_MS (${ON_TIME_MS} ms) late is missed; within it, it fires`, () => {
  const next = everyTick(60_000);
  assert.equal(
    decideTick(next, { next: 60_000, last: null }, 60_000 + ON_TIME_MS, "skip").fire,
    60_000,
  );
  const late = decideTick(next, { next: 60_000, last: null }, 60_001 + ON_TIME_MS, "skip");
  assert.deepEqual([late.fire, late.missed, late.state.next], [null, 1, 120_000]);
});

Deno.test("a sleep of a year costs a bounded count, and run_once still fires the latest tick", () => {
  const next = everyTick(1000);
  const year = 365 * 24 * 3600 * 1000;
  const d = decideTick(next, { next: 1000, last: null }, year + 500, "run_once");
  assert.equal(d.fire, year);
  assert.equal(d.missed, 999); // counted up to 1000, one of them fired
  assert.equal(d.state.next, year + 1000);
});

Deno.test("cron with seconds: '*/15 * * * * *' fires at :00, :15, :30, :45 of every minute", async () => {
  const next = await cronNextRun("*/15 * * * * *");
  const start = at("2026-12-05T00:00:07Z");
  const wakes = [8, 15, 30, 45, 60, 75].map((s) => at("2026-12-05T00:00:00Z") + s * 1000);
  const { fired } = run(next, start, wakes, "skip");
  assert.deepEqual(fired.map(iso), [
    "2026-12-05T00:00:15.000Z",
    "2026-12-05T00:00:30.000Z",
    "2026-12-05T00:00:45.000Z",
    "2026-12-05T00:01:00.000Z",
    "2026-12-05T00:01:15.000Z",
  ]);
});

Deno.test("cron in a time zone: 09:00 Europe/Paris is 08:00 UTC in winter and 07:00 UTC in summer", async () => {
  const next = await cronNextRun("0 0 9 * * *", { timezone: "Europe/Paris" });
  assert.equal(iso(next(at("2026-01-15T12:00:00Z"))), "2026-01-16T08:00:00.000Z");
  assert.equal(iso(next(at("2026-07-15T12:00:00Z"))), "2026-07-16T07:00:00.000Z");
  // The same expression without a zone is read in UTC, whatever this machine's zone.
  const utc = await cronNextRun("0 0 9 * * *");
  assert.equal(iso(utc(at("2026-01-15T12:00:00Z"))), "2026-01-16T09:00:00.000Z");
});

Deno.test("cron skip vs run_once after a jump of the clock past three minutely ticks", async () => {
  const next = await cronNextRun("0 * * * * *");
  const state = firstState(next, at("2026-12-05T10:00:30Z"));
  const now = at("2026-12-05T10:03:20Z");
  const skip = decideTick(next, state, now, "skip");
  assert.deepEqual([skip.fire, skip.missed, iso(skip.state.next)], [
    null,
    3,
    "2026-12-05T10:04:00.000Z",
  ]);
  const once = decideTick(next, state, now, "run_once");
  assert.deepEqual([iso(once.fire), once.missed], ["2026-12-05T10:03:00.000Z", 2]);
});

Deno.test("a schedule with no next time leaves no next tick", () => {
  // cronNextRun refuses an expression that never fires at all (see config_test.ts); the plan
  // still handles a NextRun that has no time left.
  const next = () => null;
  const state = firstState(next, at("2026-01-01T00:00:00Z"));
  assert.equal(state.next, null);
  assert.equal(decideTick(next, state, at("2027-01-01T00:00:00Z"), "run_once").fire, null);
});
