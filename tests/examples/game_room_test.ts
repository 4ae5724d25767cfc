// The game's rooms take only a seated player's own key: a body naming a key Object.prototype has
// (`constructor`, `toString`) moves nobody and writes nothing onto the room isolate's objects.
import assert from "node:assert/strict";
import { withRuntime } from "../_helpers.ts";

const ROOM = new URL("../../examples/game/containers/room.ts", import.meta.url).href;

Deno.test("game: a room refuses a move or a leave for a key no player holds, prototype names included", async () => {
  await withRuntime({
    containers: { rooms: { module: ROOM, mode: "inline", entities: { store: "memory" } } },
  }, async (rt) => {
    const room = rt.ref("rooms").entity("lobby");
    for (const key of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
      assert.equal(await room.request("input", { key, dx: 1, dy: 0 }), false, key);
      assert.equal(await room.request("leave", { key }), false, key);
    }
    assert.equal(({} as Record<string, unknown>).dx, undefined);
    assert.equal((Object as unknown as Record<string, unknown>).dx, undefined);
  });
});
