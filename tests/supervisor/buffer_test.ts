// No request lost to a restart: while a container restarts, messages for it wait in a bounded
// buffer and reach the new incarnation; beyond the bound senders fail at once.
import assert from "node:assert/strict";
import { type TopologyInput, UnavailableError } from "../../mod.ts";
import { MODES, nextEvent, waitUntil, withRuntime } from "../_helpers.ts";
import { MAX_BUFFER } from "../../config/_limits.ts";
import type { WaitingRequest } from "../../runtime/_failover.ts";
import { HeldMessages } from "../../runtime/_held.ts";
import { PendingRequests } from "../../runtime/_pending.ts";

// A slow start (300 ms) keeps the container in "restarting" long enough to send into the gap.
const slow = (mode: "inline" | "worker" | "process", buffer?: number): TopologyInput => ({
  supervisor: { intensity: 10, backoff: { min: 1, max: 5 } },
  containers: {
    m: {
      module: "./member.ts",
      mode,
      config: { startDelay: 300 },
      ...(buffer === undefined ? {} : { buffer }),
    },
  },
});

for (const mode of MODES) {
  Deno.test(`[${mode}] requests and sends made while a container restarts reach the new incarnation`, async () => {
    await withRuntime(slow(mode), async (rt) => {
      const exit = nextEvent(rt, "exit");
      await assert.rejects(rt.ref("m").request("fail", { cls: "TypeError" }));
      await exit;
      assert.equal(rt.tree().containers[0].running, 0, "in the gap");
      rt.ref("m").send("count");
      rt.ref("m").send("count");
      const replies = await Promise.all(
        [1, 2, 3].map(() => rt.ref("m").request("whoami")),
      );
      assert.deepEqual(replies, ["m#0.2", "m#0.2", "m#0.2"]);
      assert.equal(await rt.ref("m").request("count"), 3, "both held sends were delivered first");
    });
  });

  Deno.test(`[${mode}] beyond its buffer a restarting container fails senders at once`, async () => {
    await withRuntime(slow(mode, 2), async (rt) => {
      const exit = nextEvent(rt, "exit");
      await assert.rejects(rt.ref("m").request("fail", { cls: "TypeError" }));
      await exit;
      const held = [rt.ref("m").request("whoami"), rt.ref("m").request("whoami")];
      const t = performance.now();
      await assert.rejects(
        rt.ref("m").request("whoami"),
        (e: Error) =>
          e instanceof UnavailableError &&
          /container "m" is restarting and already holds 2 messages from here/.test(e.message),
      );
      assert.throws(() => rt.ref("m").send("count"), UnavailableError);
      assert.ok(performance.now() - t < 50, "at once");
      assert.deepEqual(await Promise.all(held), ["m#0.2", "m#0.2"]);
    });
  });
}

Deno.test("hold: false fails a request or send to a restarting container at once", async () => {
  await withRuntime(slow("worker"), async (rt) => {
    const exit = nextEvent(rt, "exit");
    await assert.rejects(rt.ref("m").request("fail", { cls: "TypeError" }));
    await exit;
    await assert.rejects(
      rt.ref("m").request("whoami", undefined, { hold: false }),
      /sender chose hold: false/,
    );
    assert.throws(() => rt.ref("m").send("count", undefined, { hold: false }), UnavailableError);
    assert.equal(await rt.ref("m").request("whoami"), "m#0.2", "the default still waits");
  });
});

Deno.test("buffer: 0 fails requests to a restarting container at once", async () => {
  await withRuntime(slow("worker", 0), async (rt) => {
    const exit = nextEvent(rt, "exit");
    await assert.rejects(rt.ref("m").request("fail", { cls: "TypeError" }));
    await exit;
    await assert.rejects(rt.ref("m").request("whoami"), /holds no messages \(buffer: 0\)/);
  });
});

Deno.test("a held request still times out at its deadline when the restart takes too long", async () => {
  await withRuntime({
    supervisor: { intensity: 10, backoff: { min: 1, max: 5 } },
    containers: { m: { module: "./member.ts", mode: "worker", config: { startDelay: 400 } } },
  }, async (rt) => {
    const exit = nextEvent(rt, "exit");
    await assert.rejects(rt.ref("m").request("fail", { cls: "TypeError" }));
    await exit;
    await assert.rejects(
      rt.ref("m").request("whoami", undefined, { timeout: 100 }),
      /TimeoutError|no reply within 100 ms/,
    );
    await waitUntil(() => rt.tree().containers[0].running === 1, 3000, "back");
    assert.equal(await rt.ref("m").request("whoami"), "m#0.2");
  });
});

Deno.test("[process] a request with retries survives its target being SIGKILLed mid-request", async () => {
  await withRuntime({
    supervisor: { intensity: 10, backoff: { min: 1, max: 5 } },
    containers: { e: { module: "./echo.ts", mode: "process" } },
  }, async (rt) => {
    const pid = await rt.ref("e").request("pid") as number;
    const pending = rt.ref("e").request("slow", { ms: 300 }, { timeout: 2000, retries: 2 });
    await new Promise((r) => setTimeout(r, 50));
    Deno.kill(pid, "SIGKILL");
    assert.equal(await pending, 300);
    assert.notEqual(await rt.ref("e").request("pid"), pid);
  });
});

Deno.test("a buffer a peer announces (route entry q) is held to MAX_BUFFER: it cannot make a node hold more", () => {
  const held = new HeldMessages(new PendingRequests<WaitingRequest>({ onExpire() {} }));
  for (let i = 0; i < MAX_BUFFER; i++) held.hold("theirs", { send: { t: "x", b: i } }, 1e15);
  assert.throws(() => held.hold("theirs", { send: { t: "x", b: 0 } }, 1e15), {
    name: "UnavailableError",
    message: `container "theirs" is restarting and already holds ${MAX_BUFFER} messages from here`,
  });
});
