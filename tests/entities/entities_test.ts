// Entities (virtual actors), in every local mode: activation on first message, one message at a
// time per entity, passivation after idle with the store, entity timers, failures that stay with
// their entity, and bad ids refused with a typed error.
import assert from "node:assert/strict";
import { type Mode, RemoteError, type Runtime, type TopologyInput } from "../../mod.ts";
import type room from "../fixtures/entities/room.ts";
import type roomMemory from "../fixtures/entities/room_memory.ts";
import { MODES, waitUntil, withRuntime } from "../_helpers.ts";
import { palette, renderTree } from "../../cli/output.ts";

type Room = typeof room;
type RoomMemory = typeof roomMemory;
type Probe = { what: string; id: string; instance?: string; ticks?: number };

/** Collects what the rooms publish on "probe". */
function probe(rt: Runtime): Probe[] {
  const seen: Probe[] = [];
  rt.subscribe("probe", (body) => void seen.push(body as Probe));
  return seen;
}

const topology = (mode: Mode, module = "./entities/room.ts", replicas = 1): TopologyInput => ({
  containers: { rooms: { module, mode, replicas } },
});

for (const mode of MODES) {
  Deno.test(`[${mode}] an entity is activated by its first message, once`, async () => {
    await withRuntime(topology(mode), async (rt) => {
      const seen = probe(rt);
      const r = rt.ref<Room>("rooms").entity("room-42");
      assert.equal(await r.request("join", { player: "ada" }), 1);
      assert.equal(await r.request("join", { player: "bob" }), 2);
      assert.deepEqual(await r.request("players"), ["ada", "bob"]);
      assert.deepEqual(await rt.ref<Room>("rooms").entity("room-7").request("players"), []);
      await waitUntil(() => seen.length >= 2, 2000, "two activations reported");
      assert.deepEqual(seen.filter((p) => p.what === "activate").map((p) => p.id).sort(), [
        "room-42",
        "room-7",
      ]);
    });
  });

  Deno.test(`[${mode}] 100 concurrent requests to one entity run one at a time, in order`, async () => {
    await withRuntime(topology(mode), async (rt) => {
      const r = rt.ref<Room>("rooms").entity("busy");
      const replies = await Promise.all(
        Array.from({ length: 100 }, () => r.request("bump", { ms: 1 })),
      );
      // Each read-wait-write saw the previous one's write: no increment lost, replies in order.
      assert.deepEqual(replies, Array.from({ length: 100 }, (_, n) => n + 1));
    });
  });

  Deno.test(`[${mode}] different entities run concurrently`, async () => {
    await withRuntime(topology(mode), async (rt) => {
      const rooms = rt.ref<Room>("rooms");
      await rooms.entity("warm").request("players");
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: 20 }, (_, n) => rooms.entity(`e${n}`).request("bump", { ms: 200 })),
      );
      // One at a time per entity, but 20 entities side by side: far less than 20 × 200 ms.
      assert.ok(performance.now() - t0 < 2000, `took ${performance.now() - t0} ms`);
    });
  });

  Deno.test(`[${mode}] a handler that throws answers RemoteError and its entity stays active with its state as the handler left it`, async () => {
    await withRuntime(topology(mode, "./entities/room_memory.ts"), async (rt) => {
      const seen = probe(rt);
      const r = rt.ref<RoomMemory>("rooms").entity("cart");
      await r.request("join", { player: "ada" });
      await assert.rejects(r.request("boom"), (error: Error) => {
        assert.ok(error instanceof RemoteError);
        assert.match(error.message, /room cart exploded/);
        return true;
      });
      assert.deepEqual(await r.request("players"), ["ada"]);
      // A handler that changes the state and then throws keeps its change (validate first).
      await assert.rejects(r.request("spoil"), /room cart spoiled/);
      assert.deepEqual(await r.request("players"), ["ada", "spoiler"]);
      // Same activation throughout: activated once, never passivated, the instance not restarted.
      assert.equal(seen.filter((p) => p.what === "activate").length, 1);
      assert.equal(seen.filter((p) => p.what === "passivate").length, 0);
      assert.equal(rt.tree().containers[0].instances[0].restarts ?? 0, 0);
    });
  });

  Deno.test(`[${mode}] with on_error: deactivate, a handler that throws deactivates only its entity, unsaved`, async () => {
    const t = topology(mode, "./entities/room_memory.ts");
    t.containers!.rooms.entities = { on_error: "deactivate" };
    await withRuntime(t, async (rt) => {
      const rooms = rt.ref<RoomMemory>("rooms");
      const other = rooms.entity("other");
      await other.request("join", { player: "cy" });
      const r = rooms.entity("doomed");
      await r.request("join", { player: "ada" });
      await assert.rejects(r.request("spoil"), (error: Error) => {
        assert.ok(error instanceof RemoteError);
        assert.match(error.message, /room doomed spoiled/);
        return true;
      });
      // The instance goes on: same incarnation, the other entity still active with its state.
      assert.equal(rt.tree().containers[0].instances[0].restarts ?? 0, 0);
      assert.deepEqual(await other.request("players"), ["cy"]);
      // The failed entity was deactivated without saving (nothing was saved: it was never
      // passivated), so its next message activates it fresh: neither "ada" nor the spoil.
      assert.deepEqual(await r.request("players"), []);
    });
  });

  Deno.test(`[${mode}] e.config is the container's config: block`, async () => {
    const t = topology(mode, "./entities/room_memory.ts");
    t.containers!.rooms.config = { size: 64, name: "world" };
    await withRuntime(t, async (rt) => {
      const rooms = rt.ref<RoomMemory>("rooms");
      assert.deepEqual(await rooms.entity("a").request("settings"), { size: 64, name: "world" });
      assert.deepEqual(await rooms.entity("b").request("settings"), { size: 64, name: "world" });
    });
  });

  Deno.test(`[${mode}] an idle entity is passivated with its hook; with store none its state is lost`, async () => {
    await withRuntime(topology(mode), async (rt) => {
      const seen = probe(rt);
      const r = rt.ref<Room>("rooms").entity("sleepy");
      assert.equal(await r.request("join", { player: "ada" }), 1);
      await waitUntil(
        () => seen.some((p) => p.what === "passivate" && p.id === "sleepy"),
        3000,
        "the passivation of an entity idle for 150 ms",
      );
      assert.deepEqual(await r.request("players"), []);
    });
  });

  Deno.test(`[${mode}] with store memory, a passivated entity comes back with its state`, async () => {
    await withRuntime(topology(mode, "./entities/room_memory.ts"), async (rt) => {
      const seen = probe(rt);
      const r = rt.ref<Room>("rooms").entity("kept");
      await r.request("join", { player: "ada" });
      await waitUntil(
        () => seen.some((p) => p.what === "passivate" && p.id === "kept"),
        3000,
        "the passivation of an idle entity",
      );
      assert.deepEqual(await r.request("players"), ["ada"]);
      assert.equal(seen.filter((p) => p.what === "activate" && p.id === "kept").length, 2);
    });
  });

  Deno.test(`[${mode}] e.passivate() passivates after the message; the next one reactivates`, async () => {
    await withRuntime(topology(mode, "./entities/room_memory.ts"), async (rt) => {
      const seen = probe(rt);
      const r = rt.ref<Room>("rooms").entity("leaver");
      await r.request("join", { player: "ada" });
      assert.equal(await r.request("leave"), true);
      assert.deepEqual(await r.request("players"), ["ada"]);
      await waitUntil(() => seen.length >= 3, 2000, "activate, passivate, activate");
      assert.deepEqual(seen.slice(0, 3).map((p) => p.what), ["activate", "passivate", "activate"]);
    });
  });

  Deno.test(`[${mode}] an entity's timers tick in its turn and are cleared on passivation`, async () => {
    await withRuntime(topology(mode), async (rt) => {
      const seen = probe(rt);
      const r = rt.ref<Room>("rooms").entity("ticker");
      await r.request("tick", { ms: 20 });
      await waitUntil(
        () => seen.some((p) => p.what === "tick" && (p.ticks ?? 0) >= 2),
        3000,
        "two ticks",
      );
      // Ticks go on only until it is passivated (idle 150 ms: ticks are not messages).
      await waitUntil(
        () => seen.some((p) => p.what === "passivate" && p.id === "ticker"),
        3000,
        "the passivation",
      );
      const at = seen.filter((p) => p.what === "tick").length;
      await new Promise((r) => setTimeout(r, 120));
      assert.equal(seen.filter((p) => p.what === "tick").length, at, "a tick after passivation");
    });
  });

  Deno.test(`[${mode}] a bad entity id is a typed error before anything is sent`, async () => {
    await withRuntime(topology(mode), async (rt) => {
      const rooms = rt.ref<Room>("rooms");
      assert.throws(() => rooms.entity("x".repeat(257)), RangeError);
      assert.throws(() => rooms.entity(""), RangeError);
      // @ts-expect-error an id is a string
      assert.throws(() => rooms.entity(42), TypeError);
      // A plain request (no entity) to an entity container is refused with the way to address one.
      await assert.rejects(
        rt.ref("rooms").request("players"),
        /hosts entities: address one with ref\("rooms"\)\.entity\(id\)/,
      );
    });
  });
}

for (const mode of MODES) {
  Deno.test(`[${mode}] the tree counts active entities per instance, and kraken status shows them`, async () => {
    const topology: TopologyInput = {
      containers: {
        rooms: { module: "./entities/room_memory.ts", mode, replicas: 2, keepalive: "300ms" },
      },
    };
    await withRuntime(topology, async (rt) => {
      const rooms = rt.ref<Room>("rooms");
      for (let n = 0; n < 10; n++) await rooms.entity(`r${n}`).request("players");
      const counts = () => rt.tree().containers[0].instances.map((i) => i.entities ?? 0);
      // A worker's or process's count comes with its heartbeat answer.
      await waitUntil(() => counts().reduce((a, b) => a + b, 0) === 10, 5000, "10 entities");
      assert.ok(counts().every((n) => n > 0), `both replicas own some: ${counts()}`);
      const text = renderTree(rt.tree(), palette(false), { instances: true });
      assert.match(text, /ENTITIES/);
      assert.match(text.split("\n").find((l) => l.startsWith("rooms"))!, /\s10$/);
    });
  });
}
