// A child isolate may announce containers it spawned under names nobody else uses. A hostile one
// (squatter.ts, granted nothing) announces names it never spawned and answers their traffic: a
// name the application declares later, at the root or below another container, must go to the
// declared container at once; and what one child may make its parent hold is bounded.
import assert from "node:assert/strict";
import type { Runtime, TopologyInput } from "../../mod.ts";
import { FIXTURES, waitUntil, withRuntime } from "../_helpers.ts";

const fast = { intensity: 10, period: 10_000, backoff: { min: 1, max: 5 } };

/** Who answers `count` requests to container `name` (`squatter` for the hostile child). */
async function answers(rt: Runtime, name: string, count = 10): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let k = 0; k < count; k++) {
    const by = String(await rt.ref(name).request("whoami", null, { timeout: 2_000 }));
    seen[by] = (seen[by] ?? 0) + 1;
  }
  return seen;
}

/** Asks until `check` holds for an answer of `ask` (bounded). */
async function eventually(
  ask: () => Promise<unknown>,
  check: (answer: unknown) => boolean,
  what: string,
  ms = 3_000,
): Promise<void> {
  const end = performance.now() + ms;
  let last: unknown;
  while (performance.now() < end) {
    try {
      last = await ask();
      if (check(last)) return;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}; last answer: ${last}`);
}

const violations = (rt: Runtime, container: string) =>
  rt.metrics().find((m) => m.container === container)?.violations ?? 0;

for (const mode of ["worker", "process"] as const) {
  Deno.test(`[${mode}] a name a child announced before the application declared it goes to the declared container (apply, spawn)`, async () => {
    const logs: string[] = [];
    const plugin = {
      module: "./squatter.ts",
      mode,
      config: { announce: { billing: "billing#0.1", ledger: "ledger#0.1" } },
    };
    const topology: TopologyInput = { supervisor: fast, containers: { plugin } };
    await withRuntime(topology, async (rt) => {
      // Nobody uses these names yet: the child holds them (as if it had spawned them).
      await eventually(() => rt.ref("billing").request("whoami"), (a) => a === "squatter", "claim");
      // The operator adds billing (kraken reload); its instance id is the one the child announced.
      await rt.apply({ ...topology, containers: { plugin, billing: { module: "./member.ts" } } });
      assert.deepEqual(await answers(rt, "billing"), { "billing#0.1": 10 });
      // rt.spawn at the root takes a name a child holds, too.
      await rt.spawn("ledger", { module: "./member.ts", mode: "inline" });
      assert.deepEqual(await answers(rt, "ledger"), { "ledger#0.1": 10 });
      assert.ok(logs.some((l) => /plugin#0\.1 lost "billing"/.test(l)), logs.join("\n"));
      // Announcing them again is refused, and counted against it.
      const before = violations(rt, "plugin");
      await rt.ref("plugin").request("announce");
      await waitUntil(() => violations(rt, "plugin") > before, 2_000, "violations");
      assert.deepEqual(await answers(rt, "billing", 5), { "billing#0.1": 5 });
    }, { logLevel: "warn", logger: (e) => logs.push(e.message) });
  });
}

Deno.test("a name a grandchild announced is dropped inside its parent's isolate once the application declares it", async () => {
  const fixtures = decodeURIComponent(FIXTURES.pathname);
  const front = {
    module: "./member.ts",
    mode: "process" as const,
    permissions: { read: [fixtures] },
    children: {
      plugin: {
        module: "./squatter.ts",
        mode: "worker" as const,
        config: { announce: { billing: "billing#0.1" } },
      },
    },
  };
  const topology: TopologyInput = { supervisor: fast, containers: { front } };
  await withRuntime(topology, async (rt) => {
    const ask = () => rt.ref("front").request("ask", { to: "billing", topic: "whoami" });
    await eventually(ask, (a) => a === "squatter", "the grandchild's claim");
    await rt.apply({ ...topology, containers: { front, billing: { module: "./member.ts" } } });
    // front's own requests (its node routes them) reach the declared billing, not its child.
    await eventually(ask, (a) => a === "billing#0.1", "front reaching the declared billing");
    for (let k = 0; k < 5; k++) assert.equal(await ask(), "billing#0.1");
    assert.deepEqual(await answers(rt, "billing", 5), { "billing#0.1": 5 });
  });
});

Deno.test("a child holds at most 1,000 names it spawned; names it stops announcing are let go", async () => {
  await withRuntime({
    supervisor: fast,
    containers: { plugin: { module: "./squatter.ts", mode: "worker" } },
  }, async (rt) => {
    const plugin = rt.ref("plugin");
    assert.equal(await plugin.request("claim", { count: 1_500, prefix: "n" }), 1_500);
    await eventually(() => rt.ref("n999").request("whoami"), (a) => a === "squatter", "n999");
    await assert.rejects(rt.ref("n1000").request("whoami"), /no container named "n1000"/);
    assert.ok(violations(rt, "plugin") >= 1, "refused names are counted against it");
    // A new announcement replaces the old one: the names it left are nobody's again.
    await plugin.request("claim", { count: 10, prefix: "m" });
    await eventually(() => rt.ref("m9").request("whoami"), (a) => a === "squatter", "m9");
    await assert.rejects(rt.ref("n0").request("whoami"), /no container named "n0"/);
  });
});

Deno.test("a child may subscribe its node to at most 10,000 topics: more are refused as violations", async () => {
  await withRuntime({
    containers: { plugin: { module: "./squatter.ts", mode: "process" } },
  }, async (rt) => {
    const before = violations(rt, "plugin");
    assert.equal(
      await rt.ref("plugin").request("subscribe", { count: 10_500, prefix: "t" }),
      10_500,
    );
    await waitUntil(() => violations(rt, "plugin") - before >= 500, 5_000, "500 refusals");
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(violations(rt, "plugin") - before, 500);
    // Subscribing again to a topic it has is no new topic.
    await rt.ref("plugin").request("subscribe", { count: 10, prefix: "t" });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(violations(rt, "plugin") - before, 500);
  });
});
