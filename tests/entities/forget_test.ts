// e.forget(): an entity deletes its saved state (the store's delete()), so that an empty room
// leaves no file and no memory entry behind when it is passivated (attack finding: every room
// ever named stayed on disk).
import assert from "node:assert/strict";
import type { Mode, TopologyInput } from "../../mod.ts";
import type forgetful from "../fixtures/entities/forgetful.ts";
import { waitUntil, withRuntime } from "../_helpers.ts";

type Forgetful = typeof forgetful;

function topology(mode: Mode, store: "file" | "memory", dir: string): TopologyInput {
  return {
    containers: {
      rooms: {
        module: "./entities/forgetful.ts",
        mode,
        permissions: { read: [dir], write: [dir] },
        entities: { store, dir },
      },
    },
  };
}

for (const mode of ["inline", "worker"] as const) {
  Deno.test(`[${mode}] with store file, an entity that forgets itself in onPassivate leaves no file; one that does not is saved`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "kraken-forget-" });
    try {
      await withRuntime(topology(mode, "file", dir), async (rt) => {
        const passivated: string[] = [];
        rt.subscribe("probe", (body) => void passivated.push((body as { id: string }).id));
        const files = () => {
          try {
            return [...Deno.readDirSync(`${dir}/rooms`)].map((f) => f.name).sort();
          } catch {
            return [];
          }
        };
        const kept = rt.ref<Forgetful>("rooms").entity("kept");
        const empty = rt.ref<Forgetful>("rooms").entity("empty");
        await kept.request("join", { player: "ada" });
        await empty.request("join", { player: "bob" });
        await empty.request("save"); // a checkpoint on disk, to be deleted once it empties
        assert.deepEqual(files(), ["empty.msgpack"]);
        await empty.request("leave", { player: "bob" });
        await kept.request("passivate");
        await empty.request("passivate");
        await waitUntil(() => passivated.length === 2, 5000, "both rooms to be passivated");
        await waitUntil(
          () => files().join() === "kept.msgpack",
          5000,
          `the empty room's file to go and the other's to be written (files: ${files()})`,
        );
        // The next activation of the forgotten room starts from initial.
        assert.deepEqual(await empty.request("players"), []);
        assert.deepEqual(await kept.request("players"), ["ada"]);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("[inline] with store memory, e.forget() deletes the saved entry and saves nothing at passivation; a later e.save() saves again", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kraken-forget-" });
  try {
    await withRuntime(topology("inline", "memory", dir), async (rt) => {
      const room = rt.ref<Forgetful>("rooms").entity("r1");
      await room.request("join", { player: "ada" });
      await room.request("save");
      await room.request("forgetNow");
      await room.request("passivate"); // with a player, but forgotten: nothing saved
      assert.deepEqual(await room.request("players"), []);
      await room.request("join", { player: "bob" });
      await room.request("forgetNow");
      await room.request("save"); // saves again after forget
      await room.request("passivate");
      assert.deepEqual(await room.request("players"), ["bob"]);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
