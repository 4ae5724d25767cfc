// Entities when their owner goes: kill -9 of the owning process replica (the next request, with
// retries, activates the entity on a survivor; one in flight is retried there), and scaling
// 3 → 2 (only the ids of the replica scaled away move; with the file store their state moves too).
import assert from "node:assert/strict";
import type { Runtime } from "../../mod.ts";
import type room from "../fixtures/entities/room.ts";
import { waitUntil, withRuntime } from "../_helpers.ts";

type Room = typeof room;

/** Instance ids of live replicas of "rooms". */
function live(rt: Runtime): string[] {
  const rooms = rt.tree().containers.find((c) => c.name === "rooms")!;
  return rooms.instances.filter((i) => i.state === "running").map((i) => i.id);
}

const replicaOf = (instance: string) => instance.slice(0, instance.lastIndexOf("."));

Deno.test("[process] kill -9 of the owning replica: the next request activates the entity on a survivor", async () => {
  const topology = {
    containers: {
      rooms: {
        module: "./entities/room.ts",
        mode: "process" as const,
        replicas: 3,
      },
    },
    supervisor: { backoff: { min: "3s", max: "3s", jitter: 0 } },
  };
  await withRuntime(topology, async (rt) => {
    await waitUntil(() => live(rt).length === 3, 10_000, "three replicas");
    const r = rt.ref<Room>("rooms").entity("doomed-room");
    const { instance: owner } = await r.request("where");
    await r.request("join", { player: "ada" });
    const pid = rt.tree().containers[0].instances.find((i) => i.id === owner)!.pid!;
    // A request in flight to the owner when it dies is retried by the caller's retries.
    const inFlight = r.request("bump", { ms: 400 }, { timeout: 1000, retries: 3 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    Deno.kill(pid, "SIGKILL");
    assert.equal(await inFlight, 1);
    const after = await r.request("where", undefined, { timeout: 1000, retries: 3 });
    assert.notEqual(replicaOf(after.instance), replicaOf(owner));
    // Activated afresh there (store none: the state it had on the dead replica is lost).
    assert.deepEqual(await r.request("players"), []);
  });
});

Deno.test("[worker] scaling 3 → 2 moves only the ids of the replica scaled away, with their saved state", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kraken-entities-" });
  try {
    const topology = {
      containers: {
        rooms: {
          module: "./entities/room.ts",
          mode: "worker" as const,
          replicas: 3,
          permissions: { read: [dir], write: [dir] },
          entities: { store: "file" as const, dir, idle: "1m" },
        },
      },
    };
    await withRuntime(topology, async (rt) => {
      await waitUntil(() => live(rt).length === 3, 10_000, "three replicas");
      const rooms = rt.ref<Room>("rooms");
      const ids = Array.from({ length: 30 }, (_, n) => `room-${n}`);
      const before = new Map<string, string>();
      for (const id of ids) {
        await rooms.entity(id).request("join", { player: `p-${id}` });
        before.set(id, replicaOf((await rooms.entity(id).request("where")).instance));
      }
      assert.equal(new Set(before.values()).size, 3, "30 ids spread over the 3 replicas");
      await rt.scale("rooms", 2);
      for (const id of ids) {
        const now = replicaOf(
          (await rooms.entity(id).request("where", undefined, { retries: 3 })).instance,
        );
        if (before.get(id) === "rooms#2") assert.notEqual(now, "rooms#2");
        else assert.equal(now, before.get(id), `${id} moved from a replica that stayed`);
        // Saved when rooms#2 stopped (graceful stop passivates its entities), loaded where it went.
        assert.deepEqual(await rooms.entity(id).request("players"), [`p-${id}`]);
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("[worker] scaling 2 → 3 hands the moved ids off: their old owner saves them, the new one loads them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kraken-entities-" });
  try {
    const topology = {
      containers: {
        rooms: {
          module: "./entities/room.ts",
          mode: "worker" as const,
          replicas: 2,
          permissions: { read: [dir], write: [dir] },
          // Long idle: without a hand-off the moved entities would stay unsaved on the old owner.
          entities: { store: "file" as const, dir, idle: "1m" },
        },
      },
    };
    await withRuntime(topology, async (rt) => {
      await waitUntil(() => live(rt).length === 2, 10_000, "two replicas");
      const rooms = rt.ref<Room>("rooms");
      const ids = Array.from({ length: 30 }, (_, n) => `room-${n}`);
      for (const id of ids) await rooms.entity(id).request("join", { player: `p-${id}` });
      await rt.scale("rooms", 3);
      await waitUntil(() => live(rt).length === 3, 10_000, "three replicas");
      // The old owners see the new table at their next sweep (at most a second) and passivate
      // what they no longer own, saving it.
      const files = () => {
        try {
          return [...Deno.readDirSync(`${dir}/rooms`)].length;
        } catch {
          return 0; // nothing saved yet
        }
      };
      await waitUntil(() => files() > 0, 3000, "hand-off saves");
      await new Promise((resolve) => setTimeout(resolve, 300));
      let moved = 0;
      for (const id of ids) {
        const { instance } = await rooms.entity(id).request("where", undefined, { retries: 3 });
        if (replicaOf(instance) === "rooms#2") moved++;
        assert.deepEqual(await rooms.entity(id).request("players"), [`p-${id}`], id);
      }
      assert.ok(moved > 0, "some ids moved to the new replica");
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
