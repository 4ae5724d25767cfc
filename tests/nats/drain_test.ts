// A graceful shutdown over NATS drains: a runtime that leaves while it serves requests first stops
// taking new ones, lets those being served finish, and sends their replies before its connection
// closes; the requester gets every one.
import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import { FIXTURES, waitUntil } from "../_helpers.ts";
import { NatsServer, natsTest } from "./_nats_server.ts";

const start = (name: string, server: NatsServer, containers: Record<string, unknown>) =>
  Runtime.start({
    name: "shop",
    transports: { name, keepalive: "1s", nats: { servers: [server.url] } },
    containers: containers as never,
  }, { baseUrl: FIXTURES.href, logLevel: "silent" });

natsTest(
  "a runtime shut down while it serves requests over NATS sends every reply before its connection closes",
  async () => {
    const server = await NatsServer.start();
    const a = await start("a", server, {});
    let b: Runtime | null = await start("b", server, {
      slow: { module: "./member.ts", mode: "inline" },
    });
    try {
      await waitUntil(
        () => a.tree().peers.some((p) => p.containers.includes("slow")),
        5_000,
        "a sees slow",
      );
      const slow = a.ref("slow");
      const asked = Array.from(
        { length: 5 },
        (_, k) => slow.request("sleep", { ms: 300 + 20 * k }, { timeout: 3_000 }),
      );
      // Every request has reached b's container before b begins to leave.
      await new Promise((r) => setTimeout(r, 150));
      const leaving = b.shutdown();
      b = null;
      const settled = await Promise.allSettled(asked);
      await leaving;
      assert.deepEqual(
        settled.map((s) => s.status === "fulfilled" ? "replied" : String(s.reason)),
        ["replied", "replied", "replied", "replied", "replied"],
      );
    } finally {
      await b?.shutdown();
      await a.shutdown();
      await server.kill();
    }
  },
);
