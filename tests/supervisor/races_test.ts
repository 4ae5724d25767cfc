// Races between failures, restart plans, the runtime manager and shutdown; and requests whose
// target dies or restarts while they wait. Each test pins a bug found in review. The races that
// are decisions alone (a removal or rt.restart during a plan's backoff, two siblings failing in
// one turn, a sibling stopped while starting) are pinned on the pure core, on a hand-moved clock,
// in machine_calls_test.ts.
import assert from "node:assert/strict";
import { UnavailableError } from "../../mod.ts";
import { nextEvent, waitUntil, withRuntime } from "../_helpers.ts";

const member = (mode: "inline" | "worker" | "process", config: Record<string, unknown> = {}) => ({
  module: "./member.ts",
  mode,
  config,
});
Deno.test("rt.restart racing rt.stop: the container is gone and shutdown still completes", async () => {
  for (const mode of ["inline", "worker"] as const) {
    await withRuntime({ containers: { a: member(mode) } }, async (rt) => {
      await Promise.allSettled([rt.restart("a"), rt.stop("a")]);
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(rt.tree().containers, [], mode);
    });
  }
});

for (
  const [what, children] of [
    ["its only child", { kid: member("worker", { startDelay: 300 }) }],
    ["its second child", { kid1: member("worker", { startDelay: 300 }), kid2: member("worker") }],
  ] as const
) {
  Deno.test(`shutdown while an inline parent is starting ${what} completes`, async () => {
    const rt = await (await import("../../mod.ts")).Runtime.start({
      containers: { parent: { ...member("inline"), children } },
    }, { logLevel: "silent", baseUrl: new URL("../fixtures/", import.meta.url).href });
    const restarting = rt.restart("parent").catch(() => {});
    await new Promise((r) => setTimeout(r, 50));
    const t = performance.now();
    await rt.shutdown();
    await restarting;
    assert.ok(performance.now() - t < 3000);
  });
}

Deno.test("a sibling still stopping when the backoff ends is held for, not failed fast", async () => {
  await withRuntime({
    supervisor: {
      strategy: "one_for_all",
      intensity: 10,
      backoff: { min: 300, max: 300, jitter: 0 },
    },
    containers: {
      a: member("worker"),
      c: { module: "./echo.ts", mode: "worker", shutdown: "200ms", config: { hangOnStop: true } },
    },
  }, async (rt) => {
    await assert.rejects(rt.ref("a").request("fail", { cls: "TypeError" }));
    await new Promise((r) => setTimeout(r, 250)); // c has stopped, the backoff is still running
    assert.equal(await rt.ref("c").request("echo", "held", { timeout: 3000 }), "held");
  });
});

Deno.test("children of a restarting parent are held for, not unknown", async () => {
  await withRuntime({
    supervisor: { intensity: 10, backoff: { min: 300, max: 300, jitter: 0 } },
    containers: { parent: { ...member("process"), children: { kid: member("inline") } } },
  }, async (rt) => {
    await waitUntil(() => rt.tree().containers[0].children?.length === 1, 2000, "kid reported");
    const pid = await rt.ref("kid").request("pid") as number;
    Deno.kill(pid, "SIGKILL");
    await nextEvent(rt, "exit", (e) => e.container === "parent");
    assert.equal(await rt.ref("kid").request("whoami", undefined, { timeout: 3000 }), "kid#0.1");
  });
});

Deno.test("the last retry of a request still carries the dedupe flag: the handler runs once", async () => {
  for (const mode of ["inline", "worker", "process"] as const) {
    await withRuntime({ containers: { e: { module: "./echo.ts", mode } } }, async (rt) => {
      // The first attempt times out at 80 ms; the retry (same id) finds the handler still
      // running and waits; its reply at 120 ms settles the request.
      assert.equal(
        await rt.ref("e").request("slowIncrement", { ms: 120 }, { timeout: 80, retries: 1 }),
        1,
      );
      assert.equal(await rt.ref("e").request("count"), 2, mode);
    });
  }
});

Deno.test("a held request that times out and retries is delivered once", async () => {
  await withRuntime({
    supervisor: { intensity: 10, backoff: { min: 1, max: 5 } },
    containers: { m: member("worker", { startDelay: 1500 }) },
  }, async (rt) => {
    const exit = nextEvent(rt, "exit");
    await assert.rejects(rt.ref("m").request("fail", { cls: "TypeError" }));
    await exit;
    // The first attempt times out while the restart is held (1000 < 1500 ms of start delay); the
    // retries leave room for a busy machine's slow worker start.
    assert.equal(await rt.ref("m").request("count", undefined, { timeout: 1000, retries: 2 }), 1);
    assert.equal(await rt.ref("m").request("count"), 2);
  });
});

Deno.test("held requests that timed out free their room in the buffer", async () => {
  await withRuntime({
    supervisor: { intensity: 10, backoff: { min: 1, max: 5 } },
    containers: { m: { ...member("worker", { startDelay: 600 }), buffer: 3 } },
  }, async (rt) => {
    const exit = nextEvent(rt, "exit");
    await assert.rejects(rt.ref("m").request("fail", { cls: "TypeError" }));
    await exit;
    const doomed = [1, 2, 3].map(() => rt.ref("m").request("whoami", undefined, { timeout: 50 }));
    for (const d of doomed) await assert.rejects(d);
    assert.equal(await rt.ref("m").request("whoami", undefined, { timeout: 3000 }), "m#0.2");
  });
});

for (const mode of ["worker", "process"] as const) {
  Deno.test(`[${mode}] a request in flight when its target dies fails at once with UnavailableError`, async () => {
    await withRuntime({
      supervisor: { intensity: 10, backoff: { min: 1, max: 5 } },
      containers: { m: { ...member(mode), shutdown: "200ms" } },
    }, async (rt) => {
      const hung = rt.ref("m").request("hang", undefined, { timeout: 4000 });
      await new Promise((r) => setTimeout(r, 50));
      const t = performance.now();
      rt.ref("m").send("fail", { cls: "TypeError" });
      await assert.rejects(hung, UnavailableError);
      assert.ok(performance.now() - t < 1000, `took ${performance.now() - t} ms`);
    });
  });
}

for (const mode of ["inline", "worker", "process"] as const) {
  Deno.test(`[${mode}] a request being handled when its instance is asked to stop still gets its reply`, async () => {
    await withRuntime(
      { containers: { e: { module: "./echo.ts", mode, replicas: 2 } } },
      async (rt) => {
        const slow = rt.ref("e").request("slow", { ms: 200 }, { key: "k" });
        await new Promise((r) => setTimeout(r, 30));
        const restart = rt.restart("e");
        assert.equal(await slow, 200);
        await restart;
        await rt.scale("e", 1);
      },
    );
  });
}

Deno.test("one lost target costs one retry, however many routing tables follow", async () => {
  for (const mode of ["inline", "worker", "process"] as const) {
    await withRuntime({
      supervisor: { intensity: 10, backoff: { min: 1, max: 5 } },
      containers: { e: { module: "./echo.ts", mode } },
    }, async (rt) => {
      const slow = rt.ref("e").request("slow", { ms: 150 }, { retries: 1, timeout: 2000 });
      await new Promise((r) => setTimeout(r, 20));
      rt.ref("e").send("fail", { message: "boom" });
      assert.equal(await slow, 150, mode);
    });
  }
});

Deno.test("rt.stop then rt.restart of the same container: it is gone, and its name is free", async () => {
  for (const mode of ["inline", "worker"] as const) {
    await withRuntime({ containers: { a: member(mode) } }, async (rt) => {
      await Promise.allSettled([rt.stop("a"), rt.restart("a")]);
      assert.deepEqual(rt.tree().containers, [], mode);
      await rt.spawn("a", member(mode));
      assert.equal(await rt.ref("a").request("whoami"), "a#0.1");
    });
  }
});

Deno.test("children of a process parent being restarted by hand stay reachable", async () => {
  await withRuntime({
    containers: {
      parent: {
        module: "./echo.ts",
        mode: "process",
        shutdown: "300ms",
        config: { hangOnStop: true },
        children: { kid: member("inline") },
      },
    },
  }, async (rt) => {
    await waitUntil(() => rt.tree().containers[0].children?.length === 1, 2000, "kid reported");
    const restart = rt.restart("parent");
    await new Promise((r) => setTimeout(r, 20));
    assert.match(
      await rt.ref("kid").request("whoami", undefined, { timeout: 3000 }) as string,
      /^kid#0\.\d$/,
    );
    await restart;
  });
});
