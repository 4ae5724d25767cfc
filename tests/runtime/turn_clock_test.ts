// The request clock: one reading of performance.now() serves every request of a turn, and time
// still moves within a long synchronous stretch and from one turn to the next.
import assert from "node:assert/strict";
import { turnClock } from "../../runtime/_turn_clock.ts";
import { withRuntime } from "../_helpers.ts";

function countingClock() {
  let reads = 0;
  let t = 0;
  return {
    read: () => (reads++, t += 1),
    get reads() {
      return reads;
    },
  };
}

Deno.test("readings in one turn and one wall millisecond share one clock reading", () => {
  const c = countingClock();
  const now = turnClock(c.read, () => 5);
  const values = Array.from({ length: 10 }, () => now());
  assert.equal(c.reads, 1);
  assert.ok(values.every((v) => v === values[0]));
});

Deno.test("the clock is read again in the next turn, even in the same wall millisecond", async () => {
  const c = countingClock();
  const now = turnClock(c.read, () => 5);
  const first = now();
  await Promise.resolve();
  await Promise.resolve();
  const second = now();
  assert.equal(c.reads, 2);
  assert.ok(second > first);
});

Deno.test("the clock is read again within a turn once a wall millisecond went by", () => {
  const c = countingClock();
  let wall = 5;
  const now = turnClock(c.read, () => wall);
  const first = now();
  wall = 6;
  const second = now();
  wall = 2; // a wall-clock step back is a change too
  const third = now();
  assert.equal(c.reads, 3);
  assert.ok(first < second && second < third);
});

Deno.test("a turn clock never runs backwards against performance.now", async () => {
  const now = turnClock();
  let last = now();
  for (let i = 0; i < 1_000; i++) {
    if (i % 100 === 0) await Promise.resolve();
    const v = now();
    assert.ok(v >= last);
    assert.ok(v <= performance.now());
    last = v;
  }
});

Deno.test("requests issued in one turn read performance.now a few times, not once each", async () => {
  await withRuntime(
    { containers: { echo: { module: "./echo.ts", mode: "inline" } } },
    async (rt) => {
      const ref = rt.ref("echo");
      await ref.request("echo", 0); // routes known, handler warm
      const real = performance.now;
      let reads = 0;
      performance.now = () => (reads++, real.call(performance));
      let replies: Promise<unknown>[];
      try {
        replies = Array.from({ length: 100 }, (_, i) => ref.request("echo", i));
      } finally {
        performance.now = real;
      }
      assert.deepEqual(await Promise.all(replies), Array.from({ length: 100 }, (_, i) => i));
      // One reading per wall millisecond the loop spans, plus the handler's sampled timing.
      assert.ok(reads <= 20, `performance.now read ${reads} times for 100 requests`);
    },
  );
});

Deno.test("a request issued after a long synchronous stretch still gets its whole timeout", async () => {
  await withRuntime(
    { containers: { echo: { module: "./echo.ts", mode: "worker" } } },
    async (rt) => {
      const ref = rt.ref("echo");
      await ref.request("echo", 0);
      const first = ref.request("echo", "first"); // takes a reading at the start of this turn
      const busyUntil = performance.now() + 150;
      while (performance.now() < busyUntil) { /* the turn goes on, synchronously */ }
      const started = performance.now();
      await assert.rejects(ref.request("slow", { ms: 1_000 }, { timeout: 200 }), {
        name: "TimeoutError",
      });
      const waited = performance.now() - started;
      assert.ok(waited >= 198, `timed out after ${waited.toFixed(0)} ms of a 200 ms timeout`);
      assert.equal(await first, "first");
    },
  );
});
