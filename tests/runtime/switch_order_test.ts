// A pair of workers gets its direct channel while one of them may still have messages on their
// way through the hub: per-sender order must hold across that switch (runtime/_switch.ts).
import assert from "node:assert/strict";
import type ordered from "../fixtures/ordered.ts";
import { withRuntime } from "../_helpers.ts";

const SENDERS = ["s0", "s1", "s2", "s3", "s4", "s5"];
const RECEIVERS = ["r0", "r1", "r2", "r3", "r4", "r5"];
const N = 400;

Deno.test("[worker] what one worker sends another arrives in the order sent across the switch to their direct port", async () => {
  const workers = [...SENDERS, ...RECEIVERS];
  await withRuntime({
    containers: Object.fromEntries(
      workers.map((n) => [n, { module: "./ordered.ts", mode: "worker" }]),
    ),
  }, async (rt) => {
    // Every sender streams to every receiver at once, from the very start: 36 pairs switch.
    const late = await Promise.all(
      SENDERS.map((s) =>
        rt.ref<typeof ordered>(s).request("stream", { to: RECEIVERS, n: N }, { timeout: 30_000 })
      ),
    );
    const reports = await Promise.all(
      RECEIVERS.map((r) => rt.ref<typeof ordered>(r).request("report", undefined)),
    );
    for (const report of reports) {
      assert.equal(report.taken, SENDERS.length * N);
      assert.deepEqual(report.outOfOrder, [], "a receiver took one sender's messages out of order");
    }
    assert.deepEqual(late.flat(), [], "a sender got one receiver's replies out of order");
    assert.ok(rt.tree().relayed > 0, "the first messages of each pair went through the hub");
  });
});
