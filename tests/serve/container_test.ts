import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";

const base = new URL("./fixtures/", import.meta.url).href;

Deno.test("a container returning a hono app serves it (no topics), and httpErrorResponse in onError maps UnavailableError to 503", async () => {
  const rt = await Runtime.start({
    containers: {
      web: { module: "./hono_app.ts", mode: "worker", serve: { port: 0, hostname: "127.0.0.1" } },
    },
  }, { logLevel: "silent", baseUrl: base });
  try {
    const { port } = rt.serving("web")!;
    const hello = await fetch(`http://127.0.0.1:${port}/hello`);
    assert.deepEqual(await hello.json(), { instance: "web#0.1" });
    const missing = await fetch(`http://127.0.0.1:${port}/missing`);
    assert.equal(missing.status, 503);
    assert.equal((await missing.json()).error, "UnavailableError");
    await assert.rejects(rt.ref("web").request("fetch"), /topic/);
  } finally {
    await rt.shutdown();
  }
});

Deno.test("errors escaping fetch are answered (503, 500) and logged, and never fail the container", async () => {
  const logs: string[] = [];
  const rt = await Runtime.start({
    containers: {
      api: { module: "./hello.ts", mode: "worker", serve: { port: 0, hostname: "127.0.0.1" } },
    },
  }, { logLevel: "warn", logger: (e) => logs.push(e.message), baseUrl: base });
  try {
    const { port } = rt.serving("api")!;
    for (const path of ["/boom", "/fail", "/boom"]) {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      assert.equal(res.status, path === "/fail" ? 503 : 500);
      const body = await res.json();
      assert.equal(Object.keys(body).join(), "error,message"); // never a stack
    }
    const ok = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal((await ok.json()).instance, "api#0.1"); // the same incarnation
    assert.equal(rt.tree().containers[0].restarts, 0);
    assert.ok(logs.some((l) => l.includes("fetch threw: Error: boom")), logs.join("\n"));
  } finally {
    await rt.shutdown();
  }
});

Deno.test("a serving container without fetch fails to start, naming the container and the missing key", async () => {
  await assert.rejects(
    Runtime.start({
      containers: {
        api: { module: "./no_fetch.ts", mode: "inline", serve: { port: 0, hostname: "127.0.0.1" } },
      },
    }, { logLevel: "silent", baseUrl: base }),
    (error: Error) => {
      assert.match(error.message, /container "api" serves http .* no "fetch"/);
      return true;
    },
  );
});

Deno.test("a container with fetch but no serve: has no listener, and fetch is still no topic", async () => {
  const rt = await Runtime.start({
    containers: { api: { module: "./hello.ts", mode: "inline" } },
  }, { logLevel: "silent", baseUrl: base });
  try {
    assert.equal(rt.serving("api"), undefined);
    assert.equal(await rt.ref("api").request("count"), 0);
    await assert.rejects(rt.ref("api").request("fetch"), /topic/);
  } finally {
    await rt.shutdown();
  }
});
