// Entity references are typed end to end like container references: topics, bodies and replies
// of `ref<typeof mod>(name).entity(id)` are checked at compile time (this file must type-check).
import assert from "node:assert/strict";
import type { ContainerRef, EntityRef } from "../../mod.ts";
import type room from "../fixtures/entities/room.ts";

async function typed(rooms: ContainerRef<typeof room>): Promise<void> {
  const r: EntityRef<typeof room> = rooms.entity("room-42");
  const size: number = await r.request("join", { player: "ada" }, { timeout: 1000, retries: 2 });
  const players: string[] = await r.request("players");
  r.send("join", { player: "bob" });
  // @ts-expect-error no topic "jion"
  await r.request("jion", { player: "ada" });
  const misnamed = { who: "ada" };
  // @ts-expect-error the body is { player: string }
  await r.request("join", misnamed);
  // @ts-expect-error the reply of "join" is a number
  const wrong: string = await r.request("join", { player: "cy" });
  assert.ok(size >= 0 && players.length >= 0 && wrong !== undefined);
}

Deno.test("ref<typeof room>(name).entity(id) checks topics, bodies and replies at compile time", () => {
  assert.equal(typeof typed, "function");
});
