// The runtime's scheduler (runtime/_schedules.ts) on a fake clock: one timer per schedule, state
// kept when a schedule is given again unchanged, replanned when changed, timers cleared when it
// goes, outcomes as events.
import assert from "node:assert/strict";
import type { ScheduleSpec } from "../../mod.ts";
import { everyTick } from "../../runtime/_schedule_plan.ts";
import { MAX_SLEEP_MS, Schedules } from "../../runtime/_schedules.ts";
import type { ScheduleEvent } from "../../runtime/types.ts";
import { FakeClock } from "../_fake_clock.ts";

const cleanup: ScheduleSpec = {
  name: "cleanup",
  every: 10_000,
  to: "cleaner",
  topic: "c",
  missed: "skip",
};

function scheduler(fail: (tick: string) => Error | null = () => null) {
  const clock = new FakeClock(5_000);
  const delivered: string[] = [];
  const events: ScheduleEvent[] = [];
  const schedules = new Schedules({
    clock,
    nextTick: (spec) => Promise.resolve(everyTick(spec.every!)),
    deliver: (_spec, tick) => {
      delivered.push(tick);
      const error = fail(tick);
      return error ? Promise.reject(error) : Promise.resolve("ok");
    },
    emit: (event) => events.push(event),
    log: () => {},
  });
  return { clock, delivered, events, schedules };
}

const at = (s: number) => `cleanup@${new Date(s * 1000).toISOString()}`;

Deno.test("each tick is delivered once, on its time, with its tick id; the snapshot shows next and last", async () => {
  const { clock, delivered, events, schedules } = scheduler();
  await schedules.set([cleanup]);
  assert.equal(schedules.snapshot()[0].next, new Date(10_000).toISOString());
  await clock.advance(30_000); // to 35 s
  assert.deepEqual(delivered, [at(10), at(20), at(30)]);
  assert.deepEqual(events.map((e) => e.outcome), ["ok", "ok", "ok"]);
  const [snap] = schedules.snapshot();
  assert.deepEqual([snap.fired, snap.missedTicks, snap.next], [
    3,
    0,
    new Date(40_000).toISOString(),
  ]);
  assert.equal(snap.last?.tick, at(30));
  assert.equal(snap.last?.outcome, "ok");
  schedules.close();
  assert.equal(clock.pending, 0);
});

Deno.test("set() with the schedule unchanged keeps its state; changed, it is planned anew; left out, its timer goes", async () => {
  const { clock, delivered, schedules } = scheduler();
  await schedules.set([cleanup]);
  await clock.advance(6_000); // 11 s: the 10 s tick fired
  await schedules.set([{ ...cleanup }]); // an apply that keeps it
  assert.equal(schedules.snapshot()[0].fired, 1);
  assert.equal(clock.pending, 1, "one timer, not two");
  await clock.advance(10_000); // 21 s
  assert.deepEqual(delivered, [at(10), at(20)]);
  await schedules.set([{ ...cleanup, every: 4_000 }]); // changed: from now (21 s) on
  assert.equal(schedules.snapshot()[0].fired, 0);
  assert.equal(schedules.snapshot()[0].next, new Date(24_000).toISOString());
  await clock.advance(4_000); // 25 s
  assert.deepEqual(delivered, [at(10), at(20), at(24)]);
  await schedules.set([]);
  assert.equal(clock.pending, 0);
  await clock.advance(60_000);
  assert.equal(delivered.length, 3);
});

Deno.test("a tick whose delivery fails is a failed event with the error, and the next tick still fires", async () => {
  const { clock, delivered, events, schedules } = scheduler((tick) =>
    tick === at(10) ? new RangeError("target threw") : null
  );
  await schedules.set([cleanup]);
  await clock.advance(16_000); // 21 s
  assert.deepEqual(delivered, [at(10), at(20)]);
  const failed = events[0];
  assert.ok(failed.outcome === "failed");
  assert.equal(failed.tick, at(10));
  assert.deepEqual(failed.error, { name: "RangeError", message: "target threw" });
  assert.equal(schedules.snapshot()[0].last?.outcome, "ok");
  // Counted by outcome (what kraken_schedule_ticks_total serves).
  const [snap] = schedules.snapshot();
  assert.deepEqual([snap.okTicks, snap.failedTicks, snap.fired], [1, 1, 2]);
  schedules.close();
});

Deno.test(`a timer never sleeps more than ${MAX_SLEEP_MS} ms, so a far tick is re-checked on the clock`, async () => {
  const { clock, delivered, schedules } = scheduler();
  await schedules.set([{ ...cleanup, every: 3_600_000 }]);
  await clock.advance(MAX_SLEEP_MS);
  assert.equal(clock.pending, 1); // woke, found nothing due, slept again
  await clock.advance(3_600_000);
  assert.deepEqual(delivered, [`cleanup@${new Date(3_600_000).toISOString()}`]);
  schedules.close();
});

Deno.test("remove() stops a schedule; close() stops them all and later outcomes are not reported", async () => {
  const { clock, events, schedules } = scheduler();
  await schedules.put(cleanup);
  await schedules.put({ ...cleanup, name: "other" });
  assert.equal(schedules.remove("other"), true);
  assert.equal(schedules.remove("other"), false);
  assert.deepEqual(schedules.specs().map((s) => s.name), ["cleanup"]);
  await clock.advance(5_000); // the 10 s tick is delivered
  schedules.close();
  assert.equal(clock.pending, 0);
  const count = events.length;
  await clock.advance(30_000);
  assert.equal(events.length, count);
});
