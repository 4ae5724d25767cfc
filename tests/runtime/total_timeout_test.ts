// A request's totalTimeout is one overall deadline for all its attempts: once passed it fails
// with TimeoutError and is sent no more, however many retries were left.
import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";

const CALLEE = new URL("../fixtures/callee.ts", import.meta.url).href;

Deno.test("a request with retries left stops at its totalTimeout with a TimeoutError naming the overall wait", async () => {
  const rt = await Runtime.start({
    containers: { callee: { module: CALLEE, mode: "worker" } },
  }, { logLevel: "silent" });
  try {
    const started = performance.now();
    const error = await rt.ref("callee").request("slow", { ms: 1500 }, {
      timeout: 100,
      retries: 50,
      totalTimeout: 350,
    }).then(() => assert.fail("it answered"), (e) => e);
    const took = performance.now() - started;
    assert.equal(error.name, "TimeoutError");
    assert.match(error.message, /request "slow" to container "callee" got no reply within 350 ms/);
    assert.ok(
      took >= 340 && took < 1200,
      `stopped after ${Math.round(took)} ms, not at the reply (1.5 s)`,
    );
    // With retries exhausted first, the wait named is the attempt's, as before.
    const short = await rt.ref("callee").request("slow", { ms: 1500 }, {
      timeout: 100,
      retries: 1,
      totalTimeout: 5000,
    }).then(() => assert.fail("it answered"), (e) => e);
    assert.match(short.message, /got no reply within 100 ms/);
    await assert.rejects(
      rt.ref("callee").request("echo", 1, { totalTimeout: 0 }),
      /request totalTimeout must be a positive number of ms, got 0/,
    );
  } finally {
    await rt.shutdown();
  }
});
