// Schedules to entities: a tick to `to: rooms, entity: room-1` reaches that entity once, on the
// replica owning the id (activating it there), with `meta.tick`; after a kill -9 of the owner the
// next tick activates it on the new owner. Also `rt.schedule` for an entity target.
import assert from "node:assert/strict";
import type { Runtime, ScheduleEvent, TopologyInput } from "../../mod.ts";
import type tickedRoom from "../fixtures/entities/ticked_room.ts";
import { nextEvent, waitUntil, withRuntime } from "../_helpers.ts";

interface Beat {
  tick: string | null;
  entity: string;
  instance: string;
  beats: number;
}

/** What the entities handled ("ticked"), their activations, and the runtime's tick outcomes. */
function record(rt: Runtime) {
  const handled: Beat[] = [];
  const activated: { id: string; instance: string }[] = [];
  const events: ScheduleEvent[] = [];
  const offs = [
    rt.subscribe("ticked", (body) => void handled.push(body as Beat)),
    rt.subscribe(
      "activated",
      (body) => void activated.push(body as { id: string; instance: string }),
    ),
    rt.on("schedule", (event) => void events.push(event)),
  ];
  const ok = () => events.filter((e) => e.outcome === "ok");
  return { handled, activated, events, ok, stop: () => offs.forEach((off) => off()) };
}

/** Each tick reported delivered was handled once, by entity room-1, and nothing else was. */
function assertOncePerTick(seen: ReturnType<typeof record>): void {
  const ticks = seen.handled.map((h) => h.tick);
  assert.ok(ticks.every((t) => t !== null && t.startsWith("room@")), String(ticks));
  assert.equal(new Set(ticks).size, ticks.length, `a tick ran twice: ${ticks.join(", ")}`);
  assert.ok(seen.handled.every((h) => h.entity === "room-1"), "a tick reached another entity");
  const delivered = seen.ok().map((e) => "tick" in e ? e.tick : "");
  for (const tick of delivered) assert.ok(ticks.includes(tick), `${tick} was never handled`);
  assert.equal(seen.events.filter((e) => e.outcome === "failed").length, 0);
}

const topology = (mode: "worker" | "process"): TopologyInput => ({
  containers: { rooms: { module: "./entities/ticked_room.ts", mode, replicas: 3 } },
  schedule: {
    room: { every: "1s", to: "rooms", entity: "room-1", topic: "beat", missed: "run_once" },
  },
  // The killed replica stays down for a while: the next ticks go to the new owner.
  supervisor: { backoff: { min: "4s", max: "4s", jitter: 0 } },
});

const replicaOf = (instance: string) => instance.slice(0, instance.lastIndexOf("."));

Deno.test("[worker] a tick to an entity reaches it once, on the replica owning its id, activated there once, with meta.tick", async () => {
  await withRuntime(topology("worker"), async (rt) => {
    const seen = record(rt);
    await waitUntil(() => seen.ok().length >= 3, 15_000, "3 ticks delivered");
    seen.stop();
    assertOncePerTick(seen);
    const owner = await rt.ref<typeof tickedRoom>("rooms").entity("room-1").request("where");
    assert.deepEqual(new Set(seen.handled.map((h) => h.instance)), new Set([owner]));
    // One activation, whose state every tick went on from: not a fresh entity per tick.
    assert.deepEqual(seen.activated, [{ id: "room-1", instance: owner }]);
    assert.deepEqual(seen.handled.map((h) => h.beats), seen.handled.map((_, n) => n + 1));
  });
});

Deno.test("[process] kill -9 of the entity's owner mid-schedule: the next tick activates it on the new owner, no tick runs twice", async () => {
  await withRuntime(topology("process"), async (rt) => {
    const seen = record(rt);
    await waitUntil(() => seen.ok().length >= 2, 20_000, "2 ticks delivered");
    // Right after a delivery, so that no tick is half run when the process dies.
    await nextEvent(rt, "schedule", (e) => e.outcome === "ok", 5000);
    const room = rt.ref<typeof tickedRoom>("rooms").entity("room-1");
    const owner = await room.request("where");
    const pid = await room.request("pid");
    const before = seen.handled.length;
    const exited = nextEvent(rt, "exit", (e) => e.instance === owner, 10_000);
    Deno.kill(pid, "SIGKILL");
    await exited;
    await waitUntil(() => seen.handled.length >= before + 2, 20_000, "2 ticks after the kill");
    seen.stop();
    assertOncePerTick(seen);
    const after = seen.handled.slice(before);
    assert.ok(
      after.every((h) => h.instance !== owner),
      `a tick went to the killed instance: ${after.map((h) => h.instance).join(", ")}`,
    );
    // The killed replica is down for 4 s: the first tick after the kill went to another one.
    assert.notEqual(replicaOf(after[0].instance), replicaOf(owner));
    // Activated afresh on the new owner (store none): its count starts again.
    assert.equal(after[0].beats, 1);
    assert.ok(seen.activated.some((a) => a.instance === after[0].instance));
  });
});

Deno.test("[process] a tick in flight when the entity's owner is killed is run on the new owner, and counted once", async () => {
  const topology: TopologyInput = {
    containers: { rooms: { module: "./entities/ticked_room.ts", mode: "process", replicas: 3 } },
    schedule: {
      room: { every: "2s", to: "rooms", entity: "room-1", topic: "beat", body: { ms: 1000 } },
    },
    supervisor: { backoff: { min: "4s", max: "4s", jitter: 0 } },
  };
  await withRuntime(topology, async (rt) => {
    const seen = record(rt);
    const started: { tick: string; instance: string }[] = [];
    const off = rt.subscribe("started", (body) => void started.push(body as typeof started[0]));
    await waitUntil(() => started.length >= 1, 15_000, "a slow tick started");
    const { tick, instance: owner } = started[0];
    const rooms = rt.tree().containers.find((c) => c.name === "rooms")!;
    const pid = rooms.instances.find((i) => i.id === owner)!.pid!;
    Deno.kill(pid, "SIGKILL");
    const delivered = await nextEvent(
      rt,
      "schedule",
      (e) => e.outcome !== "missed" && e.tick === tick,
      20_000,
    );
    off();
    seen.stop();
    assert.equal(delivered.outcome, "ok", JSON.stringify(delivered));
    const ran = seen.handled.filter((h) => h.tick === tick);
    assert.equal(ran.length, 1, `${tick} completed ${ran.length} times`);
    assert.notEqual(replicaOf(ran[0].instance), replicaOf(owner));
    // Started on the killed owner, then again (same tick id) on the new one: at least once.
    assert.deepEqual(started.filter((s) => s.tick === tick).map((s) => s.instance), [
      owner,
      ran[0].instance,
    ]);
  });
});

Deno.test("rt.schedule with an entity target: ticks reach that entity, with meta.tick", async () => {
  await withRuntime({
    containers: { rooms: { module: "./entities/ticked_room.ts", mode: "inline" } },
  }, async (rt) => {
    const seen = record(rt);
    await rt.schedule("room", { every: "1s", to: "rooms", entity: "room-1", topic: "beat" });
    await waitUntil(() => seen.ok().length >= 2, 10_000, "2 ticks delivered");
    seen.stop();
    assertOncePerTick(seen);
    assert.equal(rt.schedules()[0].entity, "room-1");
    assert.equal(rt.unschedule("room"), true);
  });
});

Deno.test("a container cannot pass its own request to an entity off as a tick: meta.tick comes only from a runtime", async () => {
  await withRuntime({
    containers: {
      rooms: { module: "./entities/ticked_room.ts", mode: "worker" },
      forger: { module: "./tick_forger.ts", mode: "worker" },
    },
  }, async (rt) => {
    const seen = record(rt);
    assert.equal(await rt.ref("forger").request("forgeEntity"), 1);
    await waitUntil(() => seen.handled.length === 1, 5000, "the forged request handled");
    seen.stop();
    assert.equal(seen.handled[0].tick, null);
    assert.equal(seen.handled[0].entity, "room-1");
  });
});
