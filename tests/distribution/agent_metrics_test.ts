// What a host agent (`kraken node`, a real OS process) runs for a root shows in the root's
// rt.metrics() and GET /metrics, labelled with the agent's name: the agent's figures ride on its
// keepalive answers.
import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import { prometheusText } from "../../management/prometheus.ts";
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

      const text = prometheusText(rt.metrics());
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
