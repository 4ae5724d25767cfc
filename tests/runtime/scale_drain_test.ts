// Scaling down drains: the replicas leaving take no new request but answer what they hold, and
// the senders keep waiting for those answers (no request sent without retries fails).
import assert from "node:assert/strict";
import { withRuntime } from "../_helpers.ts";

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("scale down: requests in flight at the replicas leaving are answered by them, none fails", async () => {
  await withRuntime(
    { containers: { api: { module: "./member.ts", mode: "worker", replicas: 3 } } },
    async (rt) => {
      const api = rt.ref("api");
      // Round-robin: every replica holds some of these, each busy well past the 25 ms after
      // which a request whose instance left the routing table is taken for lost.
      const answers = Array.from(
        { length: 12 },
        () =>
          api.request("sleep", { ms: 300 }, { timeout: 5_000 }).then(
            (by) => String(by),
            (error: Error) => `${error.name}: ${error.message}`,
          ),
      );
      await pause(50); // all delivered
      await rt.scale("api", 1);
      const by = await Promise.all(answers);
      assert.deepEqual(
        by.filter((a) => !a.startsWith("api#")),
        [],
        "every request answered",
      );
      assert.deepEqual(new Set(by), new Set(["api#0.1", "api#1.1", "api#2.1"]));
      assert.equal(await api.request("whoami"), "api#0.1", "new requests go to the one left");
    },
  );
});

Deno.test("scale down then up while the old replicas drain: the new ones take new ids and the old ones' answers still arrive", async () => {
  await withRuntime(
    { containers: { api: { module: "./member.ts", mode: "worker", replicas: 3 } } },
    async (rt) => {
      const api = rt.ref("api");
      const answers = Array.from(
        { length: 12 },
        () =>
          api.request("sleep", { ms: 300 }, { timeout: 5_000 }).then(
            (by) => String(by),
            (error: Error) => `${error.name}: ${error.message}`,
          ),
      );
      await pause(50);
      const down = rt.scale("api", 1);
      await pause(10); // replicas 1 and 2 are draining now
      await Promise.all([down, rt.scale("api", 3)]);
      const by = await Promise.all(answers);
      assert.deepEqual(by.filter((a) => !a.startsWith("api#")), [], "every request answered");
      assert.deepEqual(new Set(by), new Set(["api#0.1", "api#1.1", "api#2.1"]));
      const ids = rt.tree().containers[0].instances.map((i) => i.id);
      assert.deepEqual(ids, ["api#0.1", "api#1.2", "api#2.2"], "no id shared with a draining one");
    },
  );
});
