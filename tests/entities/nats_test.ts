// Entities across runtimes linked only by NATS: the entity id crosses in the NATS message and the
// serving runtime sends the request to the id's owner among its replicas.
import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import type room from "../fixtures/entities/room.ts";
import { FIXTURES, waitUntil } from "../_helpers.ts";
import { NatsServer, natsTest, RuntimeProcess } from "../nats/_nats_server.ts";

natsTest(
  "[nats] an entity of a container in another runtime is reached by id: one owner, one message at a time",
  async () => {
    const server = await NatsServer.start();
    let rt: Runtime | null = null;
    let b: RuntimeProcess | null = null;
    try {
      b = await RuntimeProcess.start({
        name: "b",
        servers: [server.url],
        containers: { rooms: { module: "./entities/room.ts", mode: "worker", replicas: 2 } },
      });
      rt = await Runtime.start({
        name: "shop",
        transports: { name: "a", keepalive: "500ms", nats: { servers: [server.url] } },
        containers: {},
      }, { baseUrl: FIXTURES.href, logLevel: "silent" });
      const a = rt;
      await waitUntil(
        () => a.tree().peers.some((p) => p.name === "b" && p.containers.includes("rooms")),
        5000,
        "a sees b's rooms",
      );
      const r = a.ref<typeof room>("rooms").entity("over-nats");
      const replies = await Promise.all(
        Array.from({ length: 50 }, () => r.request("bump", { ms: 1 }, { retries: 2 })),
      );
      assert.deepEqual(replies, Array.from({ length: 50 }, (_, n) => n + 1));
      r.send("join", { player: "ada" });
      assert.deepEqual(await r.request("players"), ["ada"]);
    } finally {
      await rt?.shutdown();
      await b?.stop();
      await server.kill();
    }
  },
);
