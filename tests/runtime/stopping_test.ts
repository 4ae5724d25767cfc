// An instance that stops gracefully (stop, restart, scale down, a serving replica draining) lets
// its handlers in flight finish: the requests they send meanwhile are answered like any other.
import assert from "node:assert/strict";
import { withRuntime } from "../_helpers.ts";

const PAIRS = [
  ["worker", "worker"],
  ["worker", "process"],
  ["process", "worker"],
  ["inline", "worker"],
] as const;

for (const [asker, target] of PAIRS) {
  Deno.test(`[${asker} → ${target}] a request sent by a handler of an instance that is stopping gets its reply`, async () => {
    await withRuntime({
      containers: {
        target: { module: "./echo.ts", mode: target },
        asker: { module: "./asks_late.ts", mode: asker, shutdown: "5s" },
      },
    }, async (rt) => {
      const inFlight = rt.ref("asker").request("askLater", {
        ms: 300,
        to: "target",
        topic: "echo",
        body: "still answered",
      }).catch((error: Error) => error.message);
      await new Promise((r) => setTimeout(r, 100));
      // The handler is waiting; the restart stops this instance gracefully, and the handler
      // sends its request while it stops.
      await rt.restart("asker");
      assert.equal(await inFlight, "still answered");
    });
  });
}
