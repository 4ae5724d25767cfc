// Entities on a host agent (`kraken node`, a real OS process): a remote container's replicas host
// them, reached from the root runtime and from a container's ctx.ref(name).entity(id).
import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import type room from "../fixtures/entities/room.ts";
import type lobby from "../fixtures/entities/lobby.ts";
import { eventually, FIXTURES_DIR, SECRET, startAgent } from "../distribution/_agents.ts";

Deno.test("[remote] entities on a host agent: activation, order under 100 concurrent requests, ctx.ref(...).entity(id)", async () => {
  const agent = await startAgent("node-b");
  try {
    const rt = await Runtime.start({
      name: "ents",
      transports: { name: "root", secret: SECRET, keepalive: "1s" },
      hosts: { "node-b": { address: agent.url } },
      containers: {
        rooms: { module: "./entities/room.ts", mode: "remote", replicas: 2 },
        lobby: { module: "./entities/lobby.ts", mode: "worker" },
      },
    }, { baseUrl: `file://${FIXTURES_DIR}`, logLevel: "silent" });
    try {
      await eventually(
        () => rt.tree().containers.find((c) => c.name === "rooms")?.running === 2,
        10_000,
        "two remote replicas",
      );
      const r = rt.ref<typeof room>("rooms").entity("far-room");
      assert.equal(await r.request("join", { player: "ada" }), 1);
      const replies = await Promise.all(
        Array.from({ length: 100 }, () => r.request("bump", { ms: 1 })),
      );
      assert.deepEqual(replies, Array.from({ length: 100 }, (_, n) => n + 1));
      const l = rt.ref<typeof lobby>("lobby");
      assert.equal(await l.request("join", { room: "far-room", player: "bob" }), 2);
      assert.deepEqual(
        await l.request("bumps", { room: "other-room", n: 20 }),
        Array.from({ length: 20 }, (_, n) => n + 1),
      );
      await l.request("tell", { room: "far-room", player: "cy" });
      await eventually(
        async () => (await r.request("players")).length === 3,
        3000,
        "the send from the lobby reached the entity",
      );
      // Each id lives on one replica, the one rendezvous hashing picks, whoever asks.
      const where = await r.request("where");
      assert.equal((await r.request("where")).instance, where.instance);
    } finally {
      await rt.shutdown();
    }
  } finally {
    await agent.stop();
  }
});
