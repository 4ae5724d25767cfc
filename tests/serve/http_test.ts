import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";

const base = new URL("./fixtures/", import.meta.url).href;

for (const mode of ["inline", "worker", "process"] as const) {
  Deno.test(`a ${mode} container with serve: answers HTTP on its port, and fetch is no topic`, async () => {
    const rt = await Runtime.start({
      containers: {
        api: { module: "./hello.ts", mode, serve: { port: 0, hostname: "127.0.0.1" } },
      },
    }, { logLevel: "silent", baseUrl: base });
    try {
      const addr = rt.serving("api");
      assert.ok(addr && addr.port > 0);
      assert.equal(addr.protocol, "http");
      const res = await fetch(`http://127.0.0.1:${addr.port}/hi`);
      const body = await res.json();
      assert.equal(body.path, "/hi");
      assert.match(body.instance, /^api#0\.1$/);
      assert.equal(await rt.ref("api").request("count"), 1);
      await assert.rejects(rt.ref("api").request("fetch"), /UnknownTopic|no topic|topic/);
      const failed = await fetch(`http://127.0.0.1:${addr.port}/fail`);
      assert.equal(failed.status, 503);
      assert.deepEqual(await failed.json(), {
        error: "UnavailableError",
        message: "nothing there",
      });
      const boom = await fetch(`http://127.0.0.1:${addr.port}/boom`);
      assert.equal(boom.status, 500);
      await boom.body?.cancel();
      assert.equal(rt.tree().containers[0].serving?.port, addr.port);
      assert.equal(rt.tree().containers[0].running, 1);
    } finally {
      await rt.shutdown();
    }
  });
}
