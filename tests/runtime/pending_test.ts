// Deadlines of waiting requests, driven by a fake clock and fake timers.
import assert from "node:assert/strict";
import { type Pending, PendingRequests } from "../../runtime/_pending.ts";
import { pickReplica } from "../../protocol/balancer.ts";

function fakeTimers() {
  let now = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  let next = 1;
  return {
    now: () => now,
    setTimer: (fn: () => void, ms: number) => {
      timers.set(next, { at: now + ms, fn });
      return next++;
    },
    clearTimer: (id: unknown) => void timers.delete(id as number),
    advance(ms: number) {
      now += ms;
      for (const [id, t] of [...timers]) {
        if (t.at <= now) {
          timers.delete(id);
          t.fn();
        }
      }
    },
    get armed() {
      return timers.size;
    },
  };
}

Deno.test("PendingRequests expires each request at its deadline with a single timer", () => {
  const clock = fakeTimers();
  const expired: number[] = [];
  const table = new PendingRequests<Pending>({ onExpire: (p) => expired.push(p.id), ...clock });
  table.add({ id: 1, deadline: 100 });
  table.add({ id: 2, deadline: 50 });
  table.add({ id: 3, deadline: 300 });
  assert.equal(clock.armed, 1);
  clock.advance(60);
  assert.deepEqual(expired, [2]);
  assert.equal(table.take(1)?.id, 1);
  clock.advance(100);
  assert.deepEqual(expired, [2]);
  clock.advance(200);
  assert.deepEqual(expired, [2, 3]);
  assert.equal(table.size, 0);
  assert.equal(clock.armed, 0, "no timer stays armed after a sweep with nothing waiting");
});

Deno.test("pickReplica(): round robin cycles, key_hash is stable per key, random stays in range", () => {
  const state = { turn: 0, random: 0 };
  assert.deepEqual([0, 1, 2, 3].map(() => pickReplica("round_robin", 3, state)), [0, 1, 2, 0]);
  const a = pickReplica("key_hash", 5, { turn: 0, random: 0, key: "user-1" });
  for (let i = 0; i < 10; i++) {
    assert.equal(pickReplica("key_hash", 5, { turn: i, random: 0.3, key: "user-1" }), a);
  }
  assert.equal(pickReplica("random", 4, { turn: 0, random: 0.999 }), 3);
});
