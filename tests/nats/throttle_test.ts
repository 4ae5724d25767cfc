// Routes learnt over NATS reach the runtime through a throttle on the clock: at once while
// changes are rare, at most once per 100 ms while they come fast (one announcement changing over
// and over must not cost a hand-over of the whole table to every isolate each time).
import assert from "node:assert/strict";
import { Timers } from "../../distribution/_clock.ts";
import { Throttle } from "../../distribution/_throttle.ts";
import { FakeClock } from "../_fake_clock.ts";

function world() {
  const clock = new FakeClock();
  const timers = new Timers(clock);
  const calls: number[] = [];
  const throttle = new Throttle(timers, { every: 100, burst: 10 }, () => calls.push(clock.now()));
  return { clock, timers, calls, throttle };
}

Deno.test("rare changes are handed over at once, every one", async () => {
  const { clock, calls, throttle } = world();
  for (let i = 0; i < 30; i++) {
    throttle.request();
    assert.equal(calls.length, i + 1);
    await clock.advance(100);
  }
});

Deno.test("a flood of changes costs ten hand-overs at once, then one per 100 ms folding the others", async () => {
  const { clock, calls, throttle } = world();
  const start = clock.now();
  for (let ms = 0; ms < 1_000; ms++) {
    throttle.request();
    throttle.request();
    await clock.advance(1);
  }
  await clock.advance(100);
  assert.ok(calls[9] - start <= 5, "the burst: the first ten requests (two per ms) at once");
  assert.ok(calls.length >= 19 && calls.length <= 21, `${calls.length} hand-overs in 1.1 s`);
  for (let i = 11; i < calls.length; i++) assert.ok(calls[i] - calls[i - 1] >= 99);
  assert.ok(calls.at(-1)! >= start + 999, "the last change is handed over too");
});

Deno.test("after a quiet while the burst is back", async () => {
  const { clock, calls, throttle } = world();
  for (let i = 0; i < 11; i++) throttle.request();
  await clock.advance(100);
  assert.equal(calls.length, 11);
  await clock.advance(1_000);
  for (let i = 0; i < 10; i++) throttle.request();
  assert.equal(calls.length, 21);
});

Deno.test("a hand-over waiting when its owner closes never fires", async () => {
  const { clock, timers, calls, throttle } = world();
  for (let i = 0; i < 12; i++) throttle.request();
  timers.clear();
  await clock.advance(1_000);
  assert.equal(calls.length, 10);
});
