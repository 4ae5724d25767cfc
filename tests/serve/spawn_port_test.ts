// A container spawned into a running topology cannot serve where another listener already does:
// the whole-topology check runs on the file, this one on what is added later (second-round attack:
// an inline parent's ctx.spawn took a share of another container's clients).
import assert from "node:assert/strict";
import { Runtime, TopologyError } from "../../mod.ts";

const HELLO = new URL("./fixtures/hello.ts", import.meta.url).href;

Deno.test("rt.spawn of a container serving another's port, under another spelling, is a TopologyError at its serve key; the owner keeps every client", async () => {
  const rt = await Runtime.start({
    containers: {
      api: { module: HELLO, mode: "inline", serve: { port: 0, hostname: "127.0.0.1" } },
    },
  }, { logLevel: "error" });
  try {
    const { port } = rt.serving("api")!;
    const error = await rt.spawn("evil", {
      module: HELLO,
      mode: "worker",
      serve: { port, hostname: "localhost" },
    }).then(() => assert.fail("it spawned"), (e) => e);
    assert.ok(error instanceof TopologyError, String(error));
    assert.equal(error.key, "containers.evil.serve");
    assert.match(
      error.message,
      new RegExp(`container "api" \\(127\\.0\\.0\\.1:${port}\\) already listens`),
    );
    assert.equal(rt.tree().containers.some((c) => c.name === "evil"), false);
    for (let i = 0; i < 5; i++) {
      const body = await (await fetch(`http://127.0.0.1:${port}/`)).json();
      assert.equal(body.instance, "api#0.1");
    }
  } finally {
    await rt.shutdown();
  }
});
