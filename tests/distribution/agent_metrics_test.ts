// What a host agent (`kraken node`, a real OS process) runs for a root shows in the root's
// rt.metrics() and GET /metrics, labelled with the agent's name: the agent's figures ride on its
// keepalive answers.
import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import { managementApp } from "../../management/app.ts";
import { eventually, FIXTURES_DIR, SECRET, startAgent } from "./_agents.ts";

Deno.test("a remote container's figures come from its agent, merged with the root's own and labelled by host", async () => {
  const agent = await startAgent("node-b");
  try {
    const rt = await Runtime.start({
      name: "merged",
      transports: { name: "root", secret: SECRET, keepalive: "1s" },
      hosts: { "node-b": { address: agent.url } },
      containers: {
        shop: { module: "./metered.ts", mode: "inline" },
        stock: { module: "./metered.ts", mode: "remote" },
      },
    }, { baseUrl: `file://${FIXTURES_DIR}`, logLevel: "silent" });
    try {
      for (let i = 0; i < 5; i++) await rt.ref("stock").request("sleep", { ms: 1 });
      for (let i = 0; i < 3; i++) await rt.ref("shop").request("count");
      const of = (name: string) => rt.metrics().find((m) => m.container === name);
      await eventually(
        () => of("stock")?.requests === 5,
        10_000,
        `stock's requests reported by node-b (last ${JSON.stringify(of("stock"))})`,
      );
      const stock = of("stock")!;
      assert.deepEqual([stock.mode, stock.host, stock.instances], ["remote", "node-b", 1]);
      assert.equal(stock.topics?.find((t) => t.topic === "sleep")?.runs, 5);
      const shop = of("shop")!;
      assert.deepEqual([shop.host, shop.requests], ["local", 3]);

      // The agent's own figures come with them: linked, its memory, the replicas it runs.
      const app = managementApp(rt, "agent-metrics-token", { heartbeat: 0 });
      const headers = { authorization: "Bearer agent-metrics-token" };
      let text = "";
      await eventually(
        async () => {
          text = await (await app.request("/metrics", { headers })).text();
          return /^kraken_host_memory_bytes\{host="node-b"\} \d+$/m.test(text);
        },
        10_000,
        "node-b's memory in GET /metrics",
      );
      assert.match(text, /^kraken_host_up\{host="node-b"\} 1$/m);
      assert.match(text, /^kraken_host_replicas\{host="node-b"\} 1$/m);
      assert.match(text, /^kraken_host_memory_bytes\{host="local"\} \d+$/m);
      assert.match(
        text,
        /^kraken_requests_total\{container="stock",mode="remote",host="node-b"\} 5$/m,
      );
      assert.match(
        text,
        /^kraken_requests_total\{container="shop",mode="inline",host="local"\} 3$/m,
      );
      assert.match(
        text,
        /^kraken_handler_duration_seconds_count\{container="stock",mode="remote",host="node-b",topic="sleep",kind="handler"\} 5$/m,
      );
    } finally {
      await rt.shutdown();
    }
  } finally {
    await agent.stop();
  }
});

Deno.test("a host agent's load reaches its root at the keepalive's pace, not only when it places something", async () => {
  // The agent runs in this process: its resident memory is this process's, which the test grows.
  const agent = await Runtime.start({
    name: "node-a",
    transports: { name: "node-a", listen: "tcp://127.0.0.1:0", secret: SECRET, keepalive: 400 },
    containers: {},
  }, {
    baseUrl: `file://${FIXTURES_DIR}`,
    agent: { root: FIXTURES_DIR, maxPermissions: {}, lease: 400 },
    logLevel: "silent",
  });
  try {
    const rt = await Runtime.start({
      name: "fresh",
      transports: { name: "root", secret: SECRET, keepalive: 400 },
      hosts: { "node-a": { address: agent.listening!.href } },
      containers: { stock: { module: "./metered.ts", mode: "remote" } },
    }, { baseUrl: `file://${FIXTURES_DIR}`, logLevel: "silent" });
    try {
      const load = () => rt.tree().peers.find((p) => p.name === "node-a")?.load;
      await eventually(() => load() !== undefined, 5000, "node-a's first load report");
      const before = load()!;
      assert.equal(before.replicas, 1);
      const ballast = new Uint8Array(96 * 2 ** 20).fill(1); // touched: resident
      await eventually(
        () => load()!.memoryBytes >= before.memoryBytes + 64 * 2 ** 20,
        5000,
        `node-a's memory report to grow by the 96 MiB it took (was ${before.memoryBytes}, now ${load()?.memoryBytes})`,
      );
      assert.equal(ballast[0], 1);
    } finally {
      await rt.shutdown();
    }
  } finally {
    await agent.shutdown();
  }
});
