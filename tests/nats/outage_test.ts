// The NATS server itself going away: a runtime shuts down promptly anyway, leaving no timer behind
// (nats.js 2 left its reconnect timer running after close(); v3 does not, and the sanitizers check
// it), and after the server comes back its peers are still there (our own outage is not their
// silence).
import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import { FIXTURES, waitUntil } from "../_helpers.ts";
import { NatsServer, natsTest } from "./_nats_server.ts";

const start = (
  name: string,
  servers: string[],
  containers: Record<string, unknown>,
  logs: string[] = [],
) =>
  Runtime.start({
    name: "shop",
    transports: { name, keepalive: 300, nats: { servers } },
    containers: containers as never,
  }, {
    baseUrl: FIXTURES.href,
    logLevel: "info",
    logger: (e) => logs.push(`${e.level} ${e.message}`),
  });

natsTest("shutdown does not hang while the NATS server is down", async () => {
  const server = await NatsServer.start();
  const rt = await start("a", [server.url], { m: { module: "./member.ts", mode: "inline" } });
  await server.kill();
  await new Promise((r) => setTimeout(r, 200));
  const began = performance.now();
  await rt.shutdown();
  assert.ok(performance.now() - began < 4_000, `shutdown took ${performance.now() - began} ms`);
});

natsTest(
  "after a NATS server restart, peers are not dropped for the silence it caused, and the outage is logged naming the server",
  async () => {
    const server = await NatsServer.start();
    const port = server.port;
    const logs: string[] = [];
    const a = await start(
      "a",
      [server.url],
      { m1: { module: "./member.ts", mode: "inline" } },
      logs,
    );
    const b = await start("b", [server.url], { m2: { module: "./member.ts", mode: "inline" } });
    let again: NatsServer | null = null;
    try {
      // Until b's presence reached a, m2 is unknown there.
      await waitUntil(() => a.tree().peers.some((p) => p.name === "b"), 5_000, "a sees b");
      assert.equal(await a.ref("m2").request("whoami", undefined, { timeout: 2_000 }), "m2#0.1");
      await server.kill();
      // Down for longer than 4x keepalive: without the fix, peers were dropped as gone.
      await new Promise((r) => setTimeout(r, 1_600));
      again = await NatsServer.start([], port);
      const answer = await a.ref("m2").request("whoami", undefined, { timeout: 3_000, retries: 5 });
      assert.equal(answer, "m2#0.1");
      assert.ok(
        a.tree().peers.some((p) => p.name === "b" && p.state !== "gone"),
        JSON.stringify(a.tree().peers),
      );
      // The outage is logged, naming the server both ways.
      const named = `NATS server 127.0.0.1:${port}`;
      assert.ok(logs.includes(`warn disconnected from ${named}; reconnecting`), logs.join("\n"));
      assert.ok(logs.includes(`info reconnected to ${named}`), logs.join("\n"));
    } finally {
      await a.shutdown();
      await b.shutdown();
      await again?.kill();
    }
  },
);
