// Entity state across passivation: the file store (state kept, in every local mode), the
// topology's entities: block overriding the module, and a missing grant refused by name.
import assert from "node:assert/strict";
import {
  type Mode,
  Runtime,
  TopologyError,
  type TopologyInput,
  validateTopology,
} from "../../mod.ts";
import type room from "../fixtures/entities/room.ts";
import type checkpointed from "../fixtures/entities/room_checkpoint.ts";
import { FIXTURES, MODES, waitUntil, withRuntime } from "../_helpers.ts";

type Room = typeof room;

function fileTopology(mode: Mode, dir: string): TopologyInput {
  return {
    containers: {
      rooms: {
        module: "./entities/room.ts",
        mode,
        permissions: { read: [dir], write: [dir] },
        entities: { store: "file", dir, idle: "100ms" },
      },
    },
  };
}

for (const mode of MODES) {
  Deno.test(`[${mode}] with store file, a passivated entity comes back with its state`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "kraken-entities-" });
    try {
      await withRuntime(fileTopology(mode, dir), async (rt) => {
        const seen: { what: string; id: string }[] = [];
        rt.subscribe("probe", (body) => void seen.push(body as { what: string; id: string }));
        const r = rt.ref<Room>("rooms").entity("room/42 ü");
        await r.request("join", { player: "ada" });
        await r.request("join", { player: "bob" });
        await waitUntil(
          () => seen.some((p) => p.what === "passivate"),
          3000,
          "the passivation of an entity idle for 100 ms (the topology's idle)",
        );
        // Saved (after the hook) as a file under dir/<container>/, the id escaped into a name.
        const files = () => [...Deno.readDirSync(`${dir}/rooms`)].map((f) => f.name);
        await waitUntil(() => files().includes("room%2F42%20%C3%BC.msgpack"), 2000, "the file");
        assert.deepEqual(await r.request("players"), ["ada", "bob"]);
        assert.equal(seen.filter((p) => p.what === "activate").length, 2);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("[worker] state saved to the file store survives a restart of the replica", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kraken-entities-" });
  try {
    const topology = fileTopology("worker", dir);
    await withRuntime(topology, async (rt) => {
      const r = rt.ref<Room>("rooms").entity("lobby");
      await r.request("join", { player: "ada" });
      // A graceful restart passivates every entity (saving it) before the replica stops.
      await rt.restart("rooms");
      assert.deepEqual(await r.request("players", undefined, { retries: 3, timeout: 2000 }), [
        "ada",
      ]);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("entities: store file without the read/write grant on its folder is a TopologyError naming the key", () => {
  assert.throws(
    () =>
      validateTopology({
        containers: {
          rooms: {
            module: "./room.ts",
            permissions: { read: ["/srv/state"] },
            entities: { store: "file", dir: "/srv/state" },
          },
        },
      }, { baseUrl: "file:///app/" }),
    (error: Error) => {
      assert.ok(error instanceof TopologyError);
      assert.match(error.message, /containers\.rooms\.entities\.store/);
      assert.match(error.message, /permissions\.write does not cover/);
      assert.match(error.message, /\/srv\/state/);
      return true;
    },
  );
  assert.throws(
    () =>
      validateTopology({
        containers: { rooms: { module: "./room.ts", entities: { store: "disk" } } },
      }, { baseUrl: "file:///app/" }),
    /containers\.rooms\.entities\.store.*none, memory, file/,
  );
  assert.throws(
    () =>
      validateTopology({
        containers: { rooms: { module: "./room.ts", entities: { max: 0 } } },
      }, { baseUrl: "file:///app/" }),
    /containers\.rooms\.entities\.max: expected a whole number >= 1, got number 0/,
  );
  assert.throws(
    () =>
      validateTopology({
        containers: { rooms: { module: "./room.ts", entities: { idel: "5s" } } },
      }, { baseUrl: "file:///app/" }),
    /unknown key "idel" \(did you mean "idle"\?\)/,
  );
});

Deno.test("[worker] a module asking for the file store without the grant fails to start with a TopologyError", async () => {
  await assert.rejects(
    Runtime.start({
      containers: {
        rooms: { module: "./entities/room_file_code.ts", mode: "worker", restart: "temporary" },
      },
    }, { logLevel: "silent", baseUrl: FIXTURES.href }),
    /permissions\.read does not include that folder/,
  );
});

Deno.test("[process] e.save() checkpoints without passivating: after kill -9 of the owner the entity comes back with the saved state", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kraken-entities-" });
  try {
    const topology: TopologyInput = {
      containers: {
        rooms: {
          module: "./entities/room.ts",
          mode: "process",
          replicas: 2,
          permissions: { read: [dir], write: [dir] },
          entities: { store: "file", dir, idle: "1m" },
        },
      },
      supervisor: { backoff: { min: "3s", max: "3s", jitter: 0 } },
    };
    await withRuntime(topology, async (rt) => {
      await waitUntil(
        () => rt.tree().containers[0].instances.filter((i) => i.state === "running").length === 2,
        10_000,
        "two replicas",
      );
      const r = rt.ref<Room>("rooms").entity("checkpointed");
      await r.request("join", { player: "ada" });
      assert.equal(await r.request("save"), true);
      // Still active (not passivated): it keeps taking messages on the same activation.
      await r.request("join", { player: "bob" }); // after the checkpoint: lost with the crash
      const { instance: owner } = await r.request("where");
      const pid = rt.tree().containers[0].instances.find((i) => i.id === owner)!.pid!;
      Deno.kill(pid, "SIGKILL");
      const players = await r.request("players", undefined, { timeout: 1000, retries: 5 });
      assert.deepEqual(players, ["ada"]);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("[inline] e.save() saves the state as at the call, and a slower earlier save never lands after a later one", async () => {
  const topology: TopologyInput = {
    containers: { counters: { module: "./entities/room_checkpoint.ts", mode: "inline" } },
  };
  await withRuntime(topology, async (rt) => {
    const c = rt.ref<typeof checkpointed>("counters").entity("c1");
    assert.equal(await c.request("twoSaves"), true);
    // The first save was slow; the second waited for it: the store ends with the newer state.
    assert.deepEqual(await c.request("written"), { written: [1, 2], stored: 2 });
    assert.equal(await c.request("bumpAndSave"), true);
    assert.deepEqual(await c.request("written"), { written: [1, 2, 3], stored: 3 });
  });
});

Deno.test("entities: on_error takes keep or deactivate; another value is a TopologyError naming the key, with a suggestion", () => {
  const topology = (on_error: unknown) => ({
    containers: { rooms: { module: "./room.ts", entities: { on_error } } },
  });
  const spec = validateTopology(topology("deactivate") as TopologyInput, {
    baseUrl: "file:///app/",
  });
  assert.equal(spec.containers[0].entities?.onError, "deactivate");
  assert.throws(
    () => validateTopology(topology("deactivated") as TopologyInput, { baseUrl: "file:///app/" }),
    (error: Error) => {
      assert.ok(error instanceof TopologyError);
      assert.match(
        error.message,
        /containers\.rooms\.entities\.on_error: expected one of keep, deactivate, got "deactivated" \(did you mean "deactivate"\?\)/,
      );
      return true;
    },
  );
});
