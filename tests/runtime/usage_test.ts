// Memory and CPU per instance (the tree, `kraken status`) and `max_memory:` (an instance over it
// is restarted, the reason in its exit event), for workers and processes.
import assert from "node:assert/strict";
import type { InstanceSnapshot, Runtime, TopologyInput } from "../../mod.ts";
import { nextEvent, waitUntil, withRuntime } from "../_helpers.ts";

const fast = { intensity: 10, backoff: { min: 1, max: 5 } };

function hog(mode: "inline" | "worker" | "process", extra: Record<string, unknown> = {}) {
  return {
    supervisor: fast,
    containers: { hog: { module: "./hog.ts", mode, ...extra } },
  } as TopologyInput;
}

function instanceOf(rt: Runtime, name = "hog"): InstanceSnapshot | undefined {
  return rt.tree().containers.find((c) => c.name === name)?.instances[0];
}

Deno.test("a worker instance shows its own isolate's heap, not the process it shares", async () => {
  await withRuntime(hog("worker"), async (rt) => {
    await waitUntil(() => instanceOf(rt)?.memoryBytes !== undefined, 3000, "a first reading");
    const before = instanceOf(rt)!.memoryBytes!;
    assert.ok(before > 1_000_000 && before < 64 * 2 ** 20, `an idle worker's heap: ${before}`);
    const heap = () => Deno.memoryUsage().heapUsed + Deno.memoryUsage().external;
    const hostBefore = heap();
    await rt.ref("hog").request("grow", { mib: 48 });
    await waitUntil(
      () => (instanceOf(rt)?.memoryBytes ?? 0) > before + 40 * 2 ** 20,
      3000,
      "the 48 MiB it keeps",
    );
    // The host's own heap did not take it: the figure is the worker's isolate alone.
    assert.ok(heap() - hostBefore < 20 * 2 ** 20, "the host's heap");
  });
});

Deno.test("a worker instance's CPU share is its own thread's: it rises while it spins, falls once idle", async () => {
  await withRuntime(hog("worker"), async (rt) => {
    // The machine is shared: a spinning thread gets what the scheduler gives it, not a whole core.
    const spinning = rt.ref("hog").request("spin", { ms: 3000 }, { timeout: 10_000 });
    await waitUntil(() => (instanceOf(rt)?.cpuPercent ?? 0) > 15, 5000, "a busy thread");
    await spinning;
    await waitUntil(() => (instanceOf(rt)?.cpuPercent ?? 100) < 5, 5000, "an idle thread");
  });
});

Deno.test("a process instance shows its RSS and its CPU share; an inline one shows neither", async () => {
  await withRuntime({
    supervisor: fast,
    containers: {
      hog: { module: "./hog.ts", mode: "process" },
      calm: { module: "./hog.ts", mode: "inline" },
    },
  }, async (rt) => {
    await waitUntil(
      () => instanceOf(rt)?.memoryBytes !== undefined && instanceOf(rt)?.cpuPercent !== undefined,
      4000,
      "a process's readings",
    );
    assert.ok(instanceOf(rt)!.memoryBytes! > 10 * 2 ** 20, "a Deno process's RSS");
    const calm = instanceOf(rt, "calm")!;
    assert.equal(calm.memoryBytes, undefined);
    assert.equal(calm.cpuPercent, undefined);
  });
});

for (const mode of ["worker", "process"] as const) {
  Deno.test(`[${mode}] an instance over its max_memory is restarted, its exit reason max_memory with used and limit`, async () => {
    const limit = (mode === "worker" ? 32 : 128) * 2 ** 20;
    await withRuntime(hog(mode, { max_memory: limit }), async (rt) => {
      assert.equal(await rt.ref("hog").request("ping"), "pong");
      const exit = nextEvent(rt, "exit", (e) => e.container === "hog", 8000);
      const restart = nextEvent(rt, "restart", (e) => e.container === "hog", 8000);
      await rt.ref("hog").request("grow", { mib: mode === "worker" ? 64 : 192 });
      const { reason } = await exit;
      assert.equal(reason.kind, "max_memory");
      assert.equal(reason.limit, limit);
      assert.ok(reason.used! > limit, `used ${reason.used} over ${limit}`);
      assert.match(
        reason.message,
        mode === "worker" ? /^isolate heap .* is over its max_memory of/ : /^resident memory /,
      );
      await restart;
      // The new incarnation starts empty and serves.
      assert.equal(await rt.ref("hog").request("ping"), "pong");
      assert.equal(await rt.ref("hog").request("grow", { mib: 1 }), 1);
    });
  });
}

Deno.test("an instance under its max_memory keeps running", async () => {
  await withRuntime(hog("worker", { max_memory: "256MiB" }), async (rt) => {
    await rt.ref("hog").request("grow", { mib: 16 });
    await waitUntil(() => (instanceOf(rt)?.memoryBytes ?? 0) > 16 * 2 ** 20, 3000, "a reading");
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(instanceOf(rt)!.incarnation, 1);
    assert.equal(instanceOf(rt)!.restarts, 0);
  });
});

Deno.test("a worker nested in a process is measured and restarted in that process; its max_memory exit reaches the host whole", async () => {
  const limit = 32 * 2 ** 20;
  await withRuntime({
    supervisor: fast,
    containers: {
      parent: {
        module: "./hog.ts",
        mode: "process",
        children: { inner: { module: "./hog.ts", mode: "worker", max_memory: limit } },
      },
    },
  }, async (rt) => {
    const exit = nextEvent(rt, "exit", (e) => e.container === "inner", 8000);
    await rt.ref("inner").request("grow", { mib: 64 });
    const { reason } = await exit;
    assert.equal(reason.kind, "max_memory");
    assert.equal(reason.limit, limit);
    assert.ok(reason.used! > limit);
    await waitUntil(
      () => rt.tree().containers[0].children?.[0]?.instances[0]?.incarnation === 2,
      5000,
      "inner's second incarnation",
    );
    assert.equal(await rt.ref("inner").request("ping"), "pong");
  });
});
