// A remote container's unstable: travels with its placement: the agent starts its process with the
// flags, as a local process container would be.
import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import type reusePort from "../fixtures/reuse_port.ts";
import { FIXTURES_DIR, SECRET, startAgent } from "./_agents.ts";

Deno.test("a remote container with unstable: [net] runs on its agent with --unstable-net and serves with reusePort", async () => {
  const agent = await startAgent("node-u", { maxPermissions: { net: ["127.0.0.1"] } });
  try {
    const rt = await Runtime.start({
      name: "dist",
      transports: { name: "root", secret: SECRET, keepalive: "1s" },
      hosts: { [agent.name]: { address: agent.url } },
      containers: {
        web: {
          module: "./reuse_port.ts",
          mode: "remote",
          unstable: ["net"],
          permissions: { net: ["127.0.0.1"] },
        },
      },
    }, { baseUrl: `file://${FIXTURES_DIR}`, logLevel: "silent" });
    try {
      const reply = await rt.ref<typeof reusePort>("web").request("reusePort");
      assert.deepEqual(reply, { ok: true, text: "served" });
    } finally {
      await rt.shutdown();
    }
  } finally {
    await agent.stop();
  }
});
