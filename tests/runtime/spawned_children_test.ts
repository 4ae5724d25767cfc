// A container that spawns a child of its own (`ctx.spawn`) when it starts keeps working through
// a crash, `rt.restart` and a replacement by `rt.apply`: each new incarnation may spawn the child's
// name again (its predecessor's), at the first attempt, and nothing it reports is taken for a
// violation.
import assert from "node:assert/strict";
import { FIXTURES, waitUntil, withRuntime } from "../_helpers.ts";
import type { TopologyInput } from "../../mod.ts";

const fixtures = decodeURIComponent(FIXTURES.pathname);

for (const mode of ["worker", "process"] as const) {
  const topology = (config: Record<string, unknown> = {}): TopologyInput => ({
    supervisor: { intensity: 5, period: 10_000, backoff: { min: 1, max: 5 } },
    containers: {
      gw: { module: "./spawner.ts", mode, permissions: { read: [fixtures] }, config },
      // A sibling worker: what gw's own supervisor says of its child is none of its business.
      other: { module: "./member.ts", mode: "worker" },
    },
  });

  Deno.test(`[${mode}] a container that spawns a child restarts at the first attempt, by a crash or rt.restart, and is replaced by apply`, async () => {
    const warnings: string[] = [];
    await withRuntime(topology(), async (rt) => {
      const exits: string[] = [];
      rt.on("exit", (e) => exits.push(`${e.instance}: ${e.reason.message}`));
      const gw = rt.ref("gw");
      assert.equal(await gw.request("audit"), "audit#0.1");

      await gw.request("crash");
      await waitUntil(() => exits.length >= 1, 5_000, "the crash");
      await waitUntil(
        () => rt.tree().containers[0].running === 1 && rt.tree().containers[0].restarts === 1,
        10_000,
        "the restart",
      );
      assert.equal(await gw.request("audit", undefined, { retries: 3 }), "audit#0.1");
      assert.deepEqual(
        exits,
        ["gw#0.1: Error: crash on purpose"],
        "one attempt, no failed restart",
      );

      await rt.restart("gw");
      assert.equal(rt.tree().containers[0].running, 1);
      assert.equal(await gw.request("audit", undefined, { retries: 3 }), "audit#0.1");

      // A config change replaces it: the new one starts beside the old, its child too.
      await rt.apply(topology({ version: 2 }));
      assert.equal(rt.tree().containers[0].running, 1);
      assert.equal(await gw.request("audit", undefined, { retries: 3 }), "audit#0.1");
      assert.equal(rt.metrics().find((m) => m.container === "gw")?.violations, 0);
      assert.deepEqual(warnings.filter((w) => /refused|dropped/.test(w)), [], "no false alarm");
    }, { logLevel: "warn", logger: (e) => warnings.push(`${e.source}: ${e.message}`) });
  });
}
