// A standby root and `placement: spread` together, with real processes (the scenario:
// _standby_spread.ts). The spread container's replicas run where history put them (1 on node-b,
// 3 on node-c, where the policy alone would give 2 and 2), a caller on node-c sends it retried
// requests, and the leading root is SIGKILLed: the standby reads the placement table and places
// every group where it runs, so each agent adopts it in place — same processes, nothing fenced,
// no request lost — and then places what it is asked to.
import assert from "node:assert/strict";
import { natsTest } from "../nats/_nats_server.ts";
import { spreadHandOver } from "./_standby_spread.ts";

natsTest(
  "spread replicas and a standby root: the leading root SIGKILLed under retried load — every group adopted in place on its agent (same processes), 0 requests lost, the standby placing again within 3 s",
  async () => {
    const r = await spreadHandOver();
    console.log(
      `spread + standby: root-a SIGKILLed → root-b placing again (spawn answered) after ${
        Math.round(r.placing)
      } ms; ${r.calls} calls y -> x through the hand-over, ${r.failed} failed, longest gap between replies ${r.longestGap} ms`,
    );
    assert.ok(r.refusedWhileStandby, "root-b placed while root-a led");
    assert.deepEqual(r.before, { b: 1, c: 4 }, "1 replica of x on node-b; 3 and y on node-c");
    assert.ok(r.adopted, `not adopted in place:\n${r.standbyLog}`);
    assert.deepEqual(r.fenced, [], "x or y stopped on an agent");
    assert.deepEqual(r.replaced, [], "processes of x or y replaced");
    assert.equal(r.failed, 0, r.errors.join("; "));
    assert.ok(r.calls >= 200, `only ${r.calls} calls through the hand-over`);
    assert.ok(r.placing <= 3_000, `root-b placed z ${Math.round(r.placing)} ms after the kill`);
    assert.match(r.standbyLog, /x runs on "node-b", "node-c" \(placement table, term \d+\)/);
  },
);
