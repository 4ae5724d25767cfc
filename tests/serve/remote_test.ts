// A remote serving container: its placement carries serve:, and the agent's replicas listen.
import assert from "node:assert/strict";
import { freePort } from "../_helpers.ts";
import { Runtime } from "../../mod.ts";
import { SECRET, startAgent } from "../distribution/_agents.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;

Deno.test("a remote container with serve: is served by its replicas on the agent, at the address rt.serving gives", async () => {
  const agent = await startAgent("node-serve", {
    root: FIXTURES,
    maxPermissions: { net: ["127.0.0.1"] },
  });
  const port = freePort();
  try {
    const rt = await Runtime.start({
      name: "dist",
      transports: { name: "root", secret: SECRET, keepalive: "1s" },
      hosts: { [agent.name]: { address: agent.url } },
      containers: {
        api: {
          module: "./hello.ts",
          mode: "remote",
          replicas: 2,
          serve: { port, hostname: "127.0.0.1" },
        },
      },
    }, { baseUrl: `file://${FIXTURES}`, logLevel: "silent" });
    try {
      assert.deepEqual(rt.serving("api"), { hostname: "127.0.0.1", port, protocol: "http" });
      const seen = new Set<string>();
      for (let i = 0; i < 40 && seen.size < 2; i++) {
        const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
        const body = await (await fetch(`http://127.0.0.1:${port}/`, { client })).json();
        client.close();
        seen.add(body.instance);
      }
      assert.deepEqual([...seen].sort(), ["api#0.1", "api#1.1"]);
    } finally {
      await rt.shutdown();
    }
  } finally {
    await agent.stop();
  }
});
