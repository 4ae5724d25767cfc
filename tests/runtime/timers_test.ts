// Timers and subscriptions belong to the incarnation that made them: ctx.setInterval,
// ctx.setTimeout and ctx.subscribe end with it (failure, stop, restart), their callbacks fail it
// like a handler would, and nothing is left after shutdown (run with --sanitize-ops). A plain
// global timer cannot be owned by anyone inline; worker and process isolates end theirs.
import assert from "node:assert/strict";
import { RemoteError, type Runtime } from "../../mod.ts";
import { MODES, nextEvent, waitUntil, withRuntime } from "../_helpers.ts";

type Tick = { from: string; n: number };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Collects publications on `topic` at the host. */
function collect<T>(rt: Runtime, topic: string): T[] {
  const got: T[] = [];
  rt.subscribe(topic, (body) => got.push(body as T));
  return got;
}

/** How many of `ticks` there were when the first exit of `instance` was reported. */
function countAtExit(rt: Runtime, instance: string, ticks: unknown[]): Promise<number> {
  return new Promise((resolve) => {
    const off = rt.on("exit", (e) => {
      if (e.instance !== instance) return;
      off();
      resolve(ticks.length);
    });
  });
}

for (const mode of MODES) {
  const ticker = (config: Record<string, unknown> = {}) => ({
    containers: { t: { module: "./ticker.ts", mode, config } },
  });

  Deno.test(`[${mode}] ctx.setInterval ticks for its incarnation only: after a crash, nothing more comes from the old one`, async () => {
    await withRuntime(ticker(), async (rt) => {
      const ticks = collect<Tick>(rt, "tick");
      await waitUntil(() => ticks.some((t) => t.from === "t#0.1" && t.n >= 3), 5_000, "ticks");
      const atExit = countAtExit(rt, "t#0.1", ticks);
      await assert.rejects(rt.ref("t").request("crash"), RemoteError);
      const cut = await atExit;
      await waitUntil(() => ticks.some((t) => t.from === "t#0.2" && t.n >= 3), 5_000, "new ticks");
      await sleep(100);
      assert.deepEqual(ticks.slice(cut).filter((t) => t.from === "t#0.1"), []);
      // The new incarnation counts from 1: its own timer, its own state.
      assert.equal(ticks.find((t) => t.from === "t#0.2")?.n, 1);
    });
  });

  Deno.test(`[${mode}] ctx.subscribe ends with its incarnation: after a restart only the new one answers`, async () => {
    await withRuntime(ticker(), async (rt) => {
      const pongs = collect<string>(rt, "pong");
      const exited = nextEvent(rt, "exit", (e) => e.instance === "t#0.1");
      await assert.rejects(rt.ref("t").request("crash"), RemoteError);
      await exited;
      await waitUntil(() => rt.tree().containers[0].instances[0]?.state === "running", 5_000, "up");
      rt.publish("ping", null);
      await waitUntil(() => pongs.length > 0, 3_000, "a pong");
      await sleep(100);
      assert.deepEqual(pongs, ["t#0.2"]);
    });
  });

  Deno.test(`[${mode}] a ctx timer callback that throws or rejects fails the instance, which its supervisor restarts`, async () => {
    await withRuntime(ticker(), async (rt) => {
      const first = nextEvent(rt, "exit", (e) => e.instance === "t#0.1");
      assert.equal(await rt.ref("t").request("failLater", { ms: 10 }), true);
      const sync = await first;
      assert.equal(sync.reason.kind, "error");
      assert.equal(sync.reason.message, "RangeError: a timer failed");
      await nextEvent(rt, "restart", (e) => e.instance === "t#0.2");
      const second = nextEvent(rt, "exit", (e) => e.instance === "t#0.2");
      assert.equal(
        await rt.ref("t").request("failLaterAsync", { ms: 10 }, { retries: 3, timeout: 1_000 }),
        true,
      );
      assert.equal((await second).reason.message, "URIError: an async timer failed");
    });
  });

  Deno.test(`[${mode}] a ctx timer due while the async factory runs waits for it; a cancelled one never fires; bad arguments are refused`, async () => {
    await withRuntime(ticker(), async (rt) => {
      const started = collect<{ from: string; factoryDone: boolean }>(rt, "started");
      await rt.restart("t");
      const second = () => started.filter((s) => s.from === "t#0.2");
      await waitUntil(() => second().length > 0, 3_000, "the started timer");
      // (The first incarnation's may arrive too: it started before the test subscribed.)
      assert.deepEqual(second(), [{ from: "t#0.2", factoryDone: true }]);
      assert.ok(started.every((s) => s.factoryDone), JSON.stringify(started));
      assert.equal(await rt.ref("t").request("cancelled", { ms: 20 }), 0);
      assert.equal(
        await rt.ref("t").request("badTimer", { ms: -1 }),
        "RangeError: ctx.setInterval: the delay must be a finite number of milliseconds >= 0, got -1",
      );
      assert.equal(
        await rt.ref("t").request("badTimer", { ms: 10, fn: false }),
        "TypeError: ctx.setInterval takes a callback function, got number",
      );
    });
  });
}

Deno.test("[inline] after rt.shutdown() no ctx timer is left and nothing ticks (ops sanitizer)", async () => {
  let ticks: Tick[] = [];
  await withRuntime(
    { containers: { t: { module: "./ticker.ts", mode: "inline" } } },
    async (rt) => {
      ticks = collect<Tick>(rt, "tick");
      await waitUntil(() => ticks.length >= 3, 3_000, "ticks");
    },
  );
  const after = ticks.length;
  await sleep(100);
  assert.equal(ticks.length, after);
});

Deno.test("[inline] a global setInterval left behind by a crashed incarnation can no longer publish once it stopped, and says so once", async () => {
  const logs: string[] = [];
  await withRuntime(
    { containers: { t: { module: "./ticker.ts", mode: "inline", config: { global: true } } } },
    async (rt) => {
      const ticks = collect<Tick>(rt, "tick");
      try {
        await waitUntil(() => ticks.some((t) => t.from === "t#0.1"), 3_000, "ticks");
        const exited = nextEvent(rt, "exit", (e) => e.instance === "t#0.1");
        await assert.rejects(rt.ref("t").request("crash"), RemoteError);
        await exited;
        await sleep(50); // its cleanup (no onStop hook) is over
        const cut = ticks.length;
        await waitUntil(() => ticks.some((t) => t.from === "t#0.2" && t.n >= 3), 3_000, "new");
        assert.deepEqual(ticks.slice(cut).filter((t) => t.from === "t#0.1"), []);
        const warnings = logs.filter((l) => l.includes("after t#0.1 stopped was dropped"));
        assert.equal(warnings.length, 1, logs.join("\n"));
        assert.match(warnings[0], /use ctx\.setInterval \/ ctx\.setTimeout, which end with it/);
      } finally {
        // The global timers still run: only their owner's code can clear them.
        await rt.ref("t").request("clearLeaks");
      }
    },
    { logLevel: "warn", logger: (e) => logs.push(e.message) },
  );
});

for (const mode of ["worker", "process"] as const) {
  Deno.test(`[${mode}] a global setInterval ends with the isolate: nothing comes from a crashed incarnation once it is gone`, async () => {
    await withRuntime(
      { containers: { t: { module: "./ticker.ts", mode, config: { global: true } } } },
      async (rt) => {
        const ticks = collect<Tick>(rt, "tick");
        await waitUntil(() => ticks.some((t) => t.from === "t#0.1"), 5_000, "ticks");
        const exited = nextEvent(rt, "exit", (e) => e.instance === "t#0.1");
        await assert.rejects(rt.ref("t").request("crash"), RemoteError);
        await exited;
        await waitUntil(() => ticks.some((t) => t.from === "t#0.2" && t.n >= 3), 5_000, "new");
        await sleep(200);
        const cut = ticks.length;
        await sleep(200);
        assert.deepEqual(ticks.slice(cut).filter((t) => t.from === "t#0.1"), []);
      },
    );
  });
}
