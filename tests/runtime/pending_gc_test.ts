// The waiting-request table does not keep settled requests alive: once its Map's backing table had
// been promoted, V8 allocated every later one in old space, and each one a rehash left behind held
// the requests it had through the next scavenges (measured under load: 6.5-7 MB surviving each
// scavenge of the host, 13-17 ms scavenges). The table is now rebuilt every RENEW_EVERY additions.
import assert from "node:assert/strict";
import { keptAfterChurn } from "../_gc_kept.ts";
import { PendingRequests, RENEW_EVERY } from "../../runtime/_pending.ts";

Deno.test("settled requests of a long-lived waiting-request table die in the young generation", async () => {
  // 40,000 requests of ~600 bytes went through; before the fix ~18 MB of them survived.
  const kept = await keptAfterChurn("pending");
  assert.ok(kept < 8_000_000, `${kept} bytes of settled requests survived two minor GCs`);
});

Deno.test("a rebuilt waiting-request table keeps every request, in order, with its deadline", () => {
  let now = 0;
  const expired: number[] = [];
  const table = new PendingRequests<{ id: number; deadline: number }>({
    onExpire: (pending) => void expired.push(pending.id),
    now: () => now,
    setTimer: () => 0,
    clearTimer() {},
  });
  // Five long waiters, then enough short-lived ones to rebuild the table twice.
  for (let id = 1; id <= 5; id++) table.add({ id, deadline: 1000 + id });
  for (let id = 6; id < 6 + 2 * RENEW_EVERY + 10; id++) {
    table.add({ id, deadline: 10 });
    table.take(id);
  }
  assert.deepEqual([...table.values()].map((p) => p.id), [1, 2, 3, 4, 5]);
  assert.equal(table.get(3)?.deadline, 1003);
  now = 1003;
  table.sweep();
  assert.deepEqual(expired, [1, 2, 3]);
  assert.equal(table.size, 2);
});
