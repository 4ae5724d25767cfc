// The management API's call route (and so `kraken call --entity ID`) reaches an entity: the
// entity's reply, its typed errors, a bad id refused as a 400 naming the field.
import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import { managementApp } from "../../management/app.ts";
import { FIXTURES } from "../_helpers.ts";

const TOKEN = "entity-call-token";

Deno.test("POST /v1/containers/:name/call with entity reaches that entity; a bad id is a 400 naming entity", async () => {
  const rt = await Runtime.start({
    containers: { rooms: { module: "./entities/room.ts", mode: "worker", replicas: 2 } },
  }, { logLevel: "silent", baseUrl: FIXTURES.href });
  const app = managementApp(rt, TOKEN);
  const call = async (body: unknown) => {
    const response = await app.request(`/v1/containers/rooms/call`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  };
  try {
    const join = { topic: "join", body: { player: "ada" }, entity: "room-42" };
    assert.deepEqual(await call(join), { status: 200, body: { ok: true, reply: 1 } });
    assert.equal((await call({ ...join, body: { player: "bob" } })).body.reply, 2);
    assert.equal((await call({ topic: "players", entity: "room-7" })).body.reply.length, 0);
    const sent = await call({
      topic: "join",
      body: { player: "cy" },
      entity: "room-42",
      send: true,
    });
    assert.equal(sent.status, 202);
    const bad = await call({ topic: "players", entity: "x".repeat(300) });
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.body), /entity/);
    assert.match(JSON.stringify(bad.body), /at most 256 characters/);
    const boom = await call({ topic: "boom", entity: "room-42" });
    assert.match(JSON.stringify(boom.body), /RemoteError|RangeError/);
    assert.equal((await call({ topic: "join", entity: "r", key: "k", body: {} })).status, 400);
  } finally {
    await rt.shutdown();
  }
});
