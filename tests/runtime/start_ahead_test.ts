// A runtime boots a few worker or process containers at once, in declared order; an inline one
// starts alone (see `START_AHEAD` in runtime/_supervisor.ts and docs/supervision.md).
import assert from "node:assert/strict";
import { withRuntime } from "../_helpers.ts";

type Times = { name: string; began: number; ended: number; heard: string | null };

const times =
  (rt: { ref: (name: string) => { request: (t: string) => Promise<unknown> } }) =>
  async (name: string) => (await rt.ref(name).request("times")) as Times;

for (const mode of ["worker", "process"] as const) {
  Deno.test(`[${mode}] a container begins while the one before it still starts; what it asks it waits until it runs`, async () => {
    await withRuntime({
      containers: {
        a: { module: "./start_ahead.ts", mode, config: { wait: 1500 } },
        b: { module: "./start_ahead.ts", mode, config: { ask: "a" } },
      },
    }, async (rt) => {
      const of = times(rt as never);
      const [a, b] = [await of("a"), await of("b")];
      assert.ok(b.began < a.ended, `b began ${a.ended - b.began} ms before a ran`);
      // Held while a started, delivered once it ran.
      assert.equal(b.heard, "a");
      assert.ok(b.ended >= a.ended);
    });
  });
}

Deno.test("[inline] an inline container starts alone: after those before it run, before the next begins", async () => {
  await withRuntime({
    containers: {
      a: { module: "./start_ahead.ts", mode: "worker", config: { wait: 300 } },
      i: { module: "./start_ahead.ts", mode: "inline", config: { wait: 100 } },
      c: { module: "./start_ahead.ts", mode: "worker" },
    },
  }, async (rt) => {
    const of = times(rt as never);
    const [a, i, c] = [await of("a"), await of("i"), await of("c")];
    assert.ok(i.began >= a.ended, "i began once a ran");
    assert.ok(c.began >= i.ended, "c began once i ran");
  });
});

Deno.test("[worker] when a container cannot start, the runtime fails with it, not with one after it", async () => {
  await assert.rejects(
    withRuntime({
      containers: {
        a: { module: "./throwing_factory.ts", mode: "worker" },
        b: { module: "./start_ahead.ts", mode: "worker" },
        c: { module: "./throwing_factory.ts", mode: "inline" },
      },
    }, () => Promise.resolve()),
    (error: Error) => /\ba\b/.test(error.message) && !/"c"/.test(error.message),
  );
});
