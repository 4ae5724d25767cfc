import assert from "node:assert/strict";
import { httpErrorResponse, Runtime } from "../../mod.ts";
import { palette, renderTree } from "../../cli/output.ts";
import { managementApp } from "../../management/app.ts";

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

Deno.test("the served address shows in rt.tree(), kraken status and the management API's container JSON", async () => {
  const rt = await Runtime.start({
    containers: {
      api: { module: "./hello.ts", mode: "inline", serve: { port: 0, hostname: "127.0.0.1" } },
      plain: { module: "./ticker.ts", mode: "inline" },
    },
  }, { logLevel: "silent", baseUrl: base });
  try {
    const { port } = rt.serving("api")!;
    assert.equal(rt.serving("plain"), undefined);
    assert.equal(rt.serving("nope"), undefined);
    const text = renderTree(rt.tree(), palette(false));
    assert.match(text, /SERVES/);
    assert.match(text, new RegExp(`api .* http://127\\.0\\.0\\.1:${port}`));
    const app = managementApp(rt, "t0k3n");
    const res = await app.request("/v1/containers/api", {
      headers: { authorization: "Bearer t0k3n" },
    });
    const json = await res.json();
    assert.deepEqual(json.container.serving, { hostname: "127.0.0.1", port, protocol: "http" });
  } finally {
    await rt.shutdown();
  }
});

Deno.test("httpErrorResponse maps TimeoutError to 504, RemoteError to 502, anything else to 500, with no stack", async () => {
  const { RemoteError, TimeoutError } = await import("../../mod.ts");
  const timeout = httpErrorResponse(new TimeoutError("inventory", "get", 5000));
  assert.equal(timeout.status, 504);
  const remote = httpErrorResponse(
    new RemoteError({ name: "RangeError", message: "no", stack: "at x" }),
  );
  assert.equal(remote.status, 502);
  const other = httpErrorResponse(new TypeError("bad"));
  assert.equal(other.status, 500);
  const body = await other.json();
  assert.deepEqual(body, { error: "TypeError", message: "bad" });
  await timeout.body?.cancel();
  await remote.body?.cancel();
});
