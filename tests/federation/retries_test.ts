// A retried request whose reply was lost when the link between two runtimes broke: once the link
// is back, the retry is answered from the instance's stored reply (the handler ran once), in
// every mode the container may run in.
import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import { FIXTURES, MODES, waitUntil } from "../_helpers.ts";
import { CuttableProxy } from "../_proxy.ts";

const SECRET = "retries";

for (const mode of MODES) {
  Deno.test(`[${mode}] a retried request whose reply was lost with a broken peer link gets the stored reply once the link is back`, async () => {
    const b = await Runtime.start({
      name: "shop",
      transports: { name: "b", listen: "tcp://127.0.0.1:0", secret: SECRET, keepalive: "2s" },
      containers: { back: { module: "./echo.ts", mode } },
    }, { baseUrl: FIXTURES.href, logLevel: "silent" });
    // Runtime a dials b through a proxy the test cuts.
    const proxy = CuttableProxy.start({ port: Number(b.listening!.port) });
    let a: Runtime | null = null;
    try {
      a = await Runtime.start({
        name: "shop",
        transports: { name: "a", secret: SECRET, keepalive: "2s" },
        hosts: { b: { address: `tcp://127.0.0.1:${proxy.port}` } },
        containers: {},
      }, { baseUrl: FIXTURES.href, logLevel: "silent" });
      const linked = () => a!.tree().peers.some((p) => p.state === "connected");
      await waitUntil(() => linked() && a!.tree().peers[0].containers.length > 0, 5_000, "linked");
      const reply = a.ref("back").request("slowIncrement", { ms: 600 }, {
        timeout: 5_000,
        retries: 1,
      });
      // The handler is running; its reply will find the link gone, and be lost.
      await new Promise((r) => setTimeout(r, 150));
      proxy.cut();
      await new Promise((r) => setTimeout(r, 900));
      proxy.restore();
      assert.equal(await reply, 1, "answered from the stored reply");
      assert.equal(await a.ref("back").request("count"), 2, "the handler ran once");
    } finally {
      await a?.shutdown();
      await b.shutdown();
      await proxy.close();
    }
  });
}
