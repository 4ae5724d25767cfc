// Schedules on a real runtime: each tick reaches its target once — with 3 replicas, across an
// apply that changes something else, across a kill -9 of a process target — and the next tick
// is visible through the API.
import assert from "node:assert/strict";
import type { Runtime, ScheduleEvent, TopologyInput } from "../../mod.ts";
import { nextEvent, waitUntil, withRuntime } from "../_helpers.ts";
import { managementApp } from "../../management/app.ts";

interface Ticked {
  tick: string | null;
  instance: string;
}

/** Records what the target handled (`ticked` publications) and the runtime's tick outcomes. */
function record(rt: Runtime) {
  const handled: Ticked[] = [];
  const events: ScheduleEvent[] = [];
  const offs = [
    rt.subscribe("ticked", (body) => handled.push(body as Ticked)),
    rt.on("schedule", (event) => events.push(event)),
  ];
  const ok = () => events.filter((e) => e.outcome === "ok");
  return { handled, events, ok, stop: () => offs.forEach((off) => off()) };
}

/** Each tick the runtime reports delivered was handled exactly once, and nothing else was. */
function assertOncePerTick(seen: ReturnType<typeof record>): void {
  const ticks = seen.handled.map((h) => h.tick);
  assert.ok(ticks.every((t) => t !== null && t.startsWith("beat@")), String(ticks));
  assert.equal(new Set(ticks).size, ticks.length, `a tick ran twice: ${ticks.join(", ")}`);
  const delivered = seen.ok().map((e) => "tick" in e ? e.tick : "");
  for (const tick of delivered) assert.ok(ticks.includes(tick), `${tick} was never handled`);
  // Every handled tick is delivered, but the last one's reply may still be on its way.
  assert.ok(
    ticks.length - delivered.length <= 1,
    `${ticks.length} handled, ${delivered.length} ok`,
  );
}

const topology = (replicas: number, mode = "worker"): TopologyInput => ({
  containers: { target: { module: "./ticked.ts", mode: mode as "worker", replicas } },
  schedule: { beat: { every: "1s", to: "target", topic: "tick", missed: "run_once" } },
});

Deno.test("a tick is delivered once, not once per replica, with 3 replicas of its target", async () => {
  await withRuntime(topology(3), async (rt) => {
    const seen = record(rt);
    await waitUntil(() => seen.ok().length >= 4, 15_000, "4 ticks delivered");
    seen.stop();
    assertOncePerTick(seen);
    // Round robin spread them over the replicas: each ran some, none ran one twice.
    assert.ok(new Set(seen.handled.map((h) => h.instance.split(".")[0])).size >= 2);
    const [beat] = rt.schedules();
    assert.equal(beat.fired, seen.handled.length);
  });
});

Deno.test("an apply that changes something else keeps the schedule's state: no tick fires twice, none resets", async () => {
  await withRuntime(topology(3), async (rt) => {
    const seen = record(rt);
    await waitUntil(() => seen.ok().length >= 2, 15_000, "2 ticks delivered");
    const before = rt.schedules()[0];
    const plan = await rt.apply({
      ...topology(1),
      containers: {
        ...topology(1).containers,
        other: { module: "./ticked.ts", mode: "inline" },
      },
    });
    assert.equal(plan.schedules, undefined); // the schedule did not change: not replanned
    const after = rt.schedules()[0];
    assert.ok(after.fired >= before.fired, "its count of fired ticks was reset");
    assert.ok(after.last !== null && after.last.at >= before.last!.at);
    const count = seen.ok().length;
    await waitUntil(() => seen.ok().length >= count + 2, 15_000, "2 more ticks");
    seen.stop();
    assertOncePerTick(seen);
  });
});

Deno.test("an apply that changes the schedule replans it, and says so in the plan", async () => {
  await withRuntime(topology(1), async (rt) => {
    const edited = topology(1);
    edited.schedule!.beat = { every: "2s", to: "target", topic: "tick", missed: "run_once" };
    const plan = await rt.apply(edited, { dryRun: true });
    assert.deepEqual(plan.schedules, [{ op: "replan", name: "beat", changes: ["every"] }]);
    await rt.apply(edited);
    assert.equal(rt.schedules()[0].every, 2000);
    assert.equal(rt.topology.schedules?.[0].every, 2000);
  });
});

Deno.test("[process] a tick is not run twice across a kill -9 of its target; ticks during the restart wait for it", async () => {
  await withRuntime(topology(1, "process"), async (rt) => {
    const seen = record(rt);
    await waitUntil(() => seen.ok().length >= 2, 20_000, "2 ticks delivered");
    // Right after a delivery, so that no tick is half run when the process dies.
    await nextEvent(rt, "schedule", (e) => e.outcome === "ok", 5000);
    const pid = await rt.ref("target").request("pid") as number;
    const restarted = nextEvent(rt, "restart", (e) => e.container === "target", 15_000);
    Deno.kill(pid, "SIGKILL");
    await restarted;
    const count = seen.ok().length;
    await waitUntil(() => seen.ok().length >= count + 2, 20_000, "2 ticks after");
    seen.stop();
    assertOncePerTick(seen);
    assert.ok(new Set(seen.handled.map((h) => h.instance)).size >= 2, "no new incarnation ran");
  });
});

Deno.test("a tick whose target throws is a schedule event with the error, and the schedule goes on", async () => {
  await withRuntime({
    containers: { target: { module: "./ticked.ts", mode: "inline", config: { fail: true } } },
    schedule: { beat: { every: "1s", to: "target", topic: "tick" } },
  }, async (rt) => {
    const failed = await nextEvent(rt, "schedule", (e) => e.outcome === "failed", 10_000);
    assert.ok(failed.outcome === "failed" && failed.tick.startsWith("beat@"));
    assert.equal(failed.error?.name, "RemoteError");
    assert.match(failed.error?.message ?? "", /this target always fails/);
    const [beat] = rt.schedules();
    assert.equal(beat.last?.outcome, "failed");
    assert.match(beat.last?.error ?? "", /always fails/);
    assert.ok(beat.next !== null && Date.parse(beat.next) > Date.now() - 1000);
  });
});

Deno.test("rt.schedule adds a schedule checked like schedule: entries; rt.unschedule removes it", async () => {
  await withRuntime(
    { containers: { target: { module: "./ticked.ts", mode: "inline" } } },
    async (rt) => {
      await assert.rejects(
        rt.schedule("bad", { every: "1s", to: "targt", topic: "tick" }),
        /bad\.to: unknown container "targt" \(did you mean "target"\?\)/,
      );
      await assert.rejects(
        rt.schedule("bad", { cron: "0 0 25 * * *", to: "target", topic: "tick" }),
        /bad\.cron: "0 0 25 \* \* \*" is not a valid cron expression/,
      );
      await rt.schedule("beat", { every: "1s", to: "target", topic: "tick" });
      const ok = await nextEvent(rt, "schedule", (e) => e.outcome === "ok", 10_000);
      assert.ok("tick" in ok && ok.tick.startsWith("beat@"));
      assert.deepEqual(rt.tree().schedules.map((s) => s.name), ["beat"]);
      assert.equal(rt.topology.schedules?.[0].name, "beat");
      assert.equal(rt.unschedule("beat"), true);
      assert.equal(rt.unschedule("beat"), false);
      assert.deepEqual(rt.schedules(), []);
    },
  );
});

Deno.test("a tick to an entity of a container that hosts none fails with an event naming it, never reaching the container", async () => {
  await withRuntime({
    containers: { target: { module: "./ticked.ts", mode: "worker" } },
    schedule: { beat: { every: "1s", to: "target", entity: "room-1", topic: "tick" } },
  }, async (rt) => {
    const seen = record(rt);
    const failed = await nextEvent(rt, "schedule", (e) => e.outcome === "failed", 10_000);
    seen.stop();
    assert.match(
      failed.outcome === "failed" ? failed.error!.message : "",
      /container "target" hosts no entities .*entity "room-1"/,
    );
    assert.equal(seen.handled.length, 0);
  });
});

Deno.test("the next tick and the last one are visible through the API: GET /v1/schedules and the tree", async () => {
  await withRuntime(topology(1, "inline"), async (rt) => {
    await nextEvent(rt, "schedule", (e) => e.outcome === "ok", 10_000);
    const app = managementApp(rt, "t0k3n", { heartbeat: 0 });
    const headers = { authorization: "Bearer t0k3n" };
    const res = await app.request("/v1/schedules", { headers });
    assert.equal(res.status, 200);
    const [beat] = await res.json();
    assert.equal(beat.name, "beat");
    assert.equal(beat.to, "target");
    assert.equal(beat.every, 1000);
    assert.ok(Date.parse(beat.next) > Date.parse(beat.last.at), JSON.stringify(beat));
    assert.equal(beat.last.outcome, "ok");
    const tree = await (await app.request("/v1/tree", { headers })).json();
    assert.equal(tree.schedules[0].name, "beat");
  });
});

Deno.test("a container cannot pass its own request off as a tick: meta.tick comes only from a runtime", async () => {
  await withRuntime({
    containers: {
      target: { module: "./ticked.ts", mode: "worker" },
      forger: { module: "./tick_forger.ts", mode: "worker" },
    },
  }, async (rt) => {
    const seen = record(rt);
    assert.equal(await rt.ref("forger").request("forge"), "done");
    await waitUntil(() => seen.handled.length === 1, 5000, "the forged request handled");
    seen.stop();
    assert.equal(seen.handled[0].tick, null);
  });
});
