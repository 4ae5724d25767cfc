// A shutdown keeps reverse start order for the stop hooks, but does not wait for one isolate's
// teardown (a worker's terminate, a process's exit and pipes) before stopping the next container:
// the teardowns overlap, and `shutdown()` resolves once all of them are over.
import assert from "node:assert/strict";
import { withRuntime } from "../_helpers.ts";

const HOLD_MS = 2000;

for (const mode of ["worker", "process"] as const) {
  Deno.test(`[${mode}] the next container's onStop begins before the previous isolate's teardown is over, never before its onStop is`, async () => {
    const at: Record<string, number> = {};
    const order: string[] = [];
    await withRuntime(
      {
        containers: {
          first: { module: "./echo.ts", mode },
          slow: {
            module: "./slow_teardown.ts",
            mode: "process",
            permissions: { run: ["/bin/sleep"] },
            config: { hookMs: 300, holdMs: HOLD_MS },
          },
        },
      },
      async (rt) => {
        assert.equal(await rt.ref("slow").request("echo", 1), 1);
      },
      {
        logLevel: "info",
        logger: (entry) => {
          const what = /^(stopping|hooks done) (\w+)#/.exec(entry.message);
          if (!what) return;
          order.push(`${what[1]} ${what[2]}`);
          at[`${what[1]} ${what[2]}`] = performance.now();
        },
      },
    );
    const resolved = performance.now();
    assert.deepEqual(order, ["stopping slow", "hooks done slow", "stopping first"]);
    const gap = at["stopping first"] - at["hooks done slow"];
    assert.ok(gap < HOLD_MS / 2, `first's onStop began ${gap.toFixed(0)} ms after slow's hooks`);
    // shutdown() waited for slow's pipes to close, HOLD_MS after its hooks were done.
    const waited = resolved - at["hooks done slow"];
    assert.ok(waited >= HOLD_MS - 300, `shutdown resolved ${waited.toFixed(0)} ms after the hooks`);
  });
}
