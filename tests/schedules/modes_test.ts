// Schedules in every mode: a tick reaches a container and an entity once per tick, with
// `meta.tick`, whether the target runs inline, in a worker, in a process or on a host agent
// (`kraken node`, a real OS process) as a remote container.
import assert from "node:assert/strict";
import { type Mode, Runtime, type ScheduleEvent, type TopologyInput } from "../../mod.ts";
import { MODES, waitUntil, withRuntime } from "../_helpers.ts";
import { FIXTURES_DIR, SECRET, startAgent } from "../distribution/_agents.ts";

interface Handled {
  tick: string | null;
  entity?: string;
}

/** What the targets handled (plain on "ticked", entity on "ticked" too) and the tick outcomes. */
function record(rt: Runtime) {
  const handled: Handled[] = [];
  const events: ScheduleEvent[] = [];
  const offs = [
    rt.subscribe("ticked", (body) => void handled.push(body as Handled)),
    rt.on("schedule", (event) => void events.push(event)),
  ];
  const ok = (schedule: string) =>
    events.filter((e) => e.outcome === "ok" && e.schedule === schedule);
  return { handled, events, ok, stop: () => offs.forEach((off) => off()) };
}

/** Two schedules, one to a container and one to an entity, both running in `mode`. */
const topology = (mode: Mode): TopologyInput => ({
  containers: {
    target: { module: "./ticked.ts", mode },
    rooms: { module: "./entities/ticked_room.ts", mode },
  },
  schedule: {
    plain: { every: "1s", to: "target", topic: "tick", missed: "run_once" },
    room: { every: "1s", to: "rooms", entity: "room-1", topic: "beat", missed: "run_once" },
  },
});

/** Both schedules delivered some ticks; each delivered tick was handled once, where it was sent. */
async function assertTicksOnce(rt: Runtime, seen: ReturnType<typeof record>): Promise<void> {
  await waitUntil(
    () => seen.ok("plain").length >= 2 && seen.ok("room").length >= 2,
    20_000,
    "2 ticks of each schedule delivered",
  );
  seen.stop();
  assert.deepEqual(seen.events.filter((e) => e.outcome === "failed"), []);
  const ticks = seen.handled.map((h) => h.tick);
  assert.equal(new Set(ticks).size, ticks.length, `a tick ran twice: ${ticks.join(", ")}`);
  for (const event of [...seen.ok("plain"), ...seen.ok("room")]) {
    const tick = "tick" in event ? event.tick : "";
    const handled = seen.handled.filter((h) => h.tick === tick);
    assert.equal(handled.length, 1, `${tick} handled ${handled.length} times`);
    // The entity's ticks reached the entity, the container's the container.
    assert.equal(handled[0].entity, tick.startsWith("room@") ? "room-1" : undefined);
  }
  assert.deepEqual(rt.schedules().map((s) => s.last?.outcome === "failed"), [false, false]);
}

for (const mode of MODES) {
  Deno.test(`[${mode}] a tick reaches the container and the entity it is sent to once per tick, with meta.tick`, async () => {
    await withRuntime(topology(mode), async (rt) => {
      await assertTicksOnce(rt, record(rt));
    });
  });
}

Deno.test("[remote] a tick reaches a container and an entity on a host agent once per tick, with meta.tick", async () => {
  const agent = await startAgent("node-b");
  try {
    const rt = await Runtime.start({
      name: "ticks",
      transports: { name: "root", secret: SECRET, keepalive: "1s" },
      hosts: { "node-b": { address: agent.url } },
      ...topology("remote"),
    }, { baseUrl: `file://${FIXTURES_DIR}`, logLevel: "silent" });
    try {
      assert.deepEqual(rt.tree().containers.map((c) => c.host), ["node-b", "node-b"]);
      await assertTicksOnce(rt, record(rt));
    } finally {
      await rt.shutdown();
    }
  } finally {
    await agent.stop();
  }
});
