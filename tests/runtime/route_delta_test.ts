// A start changes one entry of the routing table: the nodes already running get that entry, not
// the whole table (which made starting n containers cost O(n²): see protocol/route_delta.ts).
import assert from "node:assert/strict";
import { BatchingLink } from "../../transports/link.ts";
import type { Envelope } from "../../protocol/envelope.ts";
import type echo from "../fixtures/echo.ts";
import { withRuntime } from "../_helpers.ts";

Deno.test("[worker] running nodes get what changed in the routing table, a new node the whole table once", async () => {
  const names = Array.from({ length: 8 }, (_, i) => `c${i}`);
  let whole = 0;
  let deltas = 0;
  let largest = 0;
  const send = BatchingLink.prototype.send;
  BatchingLink.prototype.send = function (this: BatchingLink, env: Envelope) {
    if (env.k === "routes") whole++;
    if (env.k === "routes_delta") {
      deltas++;
      largest = Math.max(largest, Object.keys(env.r).length + env.g.length);
    }
    return send.call(this, env);
  };
  try {
    await withRuntime({
      containers: Object.fromEntries(
        names.map((n) => [n, { module: "./echo.ts", mode: "worker" }]),
      ),
    }, async (rt) => {
      // The first container learns of the last one started by deltas alone.
      const reply = await rt.ref<typeof echo>("c0").request("ask", { to: "c7", topic: "whoami" });
      assert.equal((reply as { name: string }).name, "c7");
    });
  } finally {
    BatchingLink.prototype.send = send;
  }
  assert.ok(whole <= names.length, `${whole} whole tables for ${names.length} nodes`);
  assert.ok(deltas > 0);
  assert.ok(largest <= 2, `a delta named ${largest} containers`);
});

Deno.test("with hundreds of nodes the runtime's own route changes go out paced, the last one never lost", async () => {
  const { RoutePace, ownPace } = await import("../../runtime/_route_pace.ts");
  let now = 0;
  let broadcasts = 0;
  const pace = new RoutePace(
    {
      update: () => {},
      broadcast: () => void broadcasts++,
      ownInterval: () => ownPace(40),
    },
    50,
    () => now,
  );
  try {
    for (let start = 0; start < 5; start++) {
      pace.changed(); // a container started
      await Promise.resolve();
      now += 5;
    }
    assert.equal(broadcasts, 1, "one table for five starts within 40 ms of each other");
    now += 40;
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(broadcasts, 2, "the starts since went out once the interval was over");
  } finally {
    pace.close();
  }
  assert.equal(ownPace(8), 0, "a small application's changes go out within the turn");
});
