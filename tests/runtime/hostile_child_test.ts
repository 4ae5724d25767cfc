// A worker's own code can post anything on its port: envelopes of kinds only a parent sends,
// requests in another node's name, bodies with cycles, shared references, Maps or bigints. The
// host checks what comes from a child at the edge: none of it is acted on, nothing else fails.
import assert from "node:assert/strict";
import { MODES, waitUntil, withRuntime } from "../_helpers.ts";

Deno.test("what a worker posts outside the rules (routes, down, spoofed senders, cyclic and exploding bodies) is refused at the host's edge", async () => {
  await withRuntime({
    containers: {
      rogue: { module: "./rogue.ts", mode: "worker" },
      ...Object.fromEntries(MODES.map((mode) => [`echo_${mode}`, { module: "./echo.ts", mode }])),
    },
  }, async (rt) => {
    const exits: string[] = [];
    rt.on("exit", (e) => exits.push(e.instance));
    const news: unknown[] = [];
    rt.subscribe("news", (body) => news.push(body));
    const nodeOf = (name: string) =>
      rt.tree().containers.find((c) => c.name === name)!.instances[0].node;
    for (const mode of MODES) {
      const attacks = ["routes", "down", "spoof", "cycle", "bomb", "map", "bigint", "pub", "exit"];
      const before = rt.tree().refused;
      for (const what of attacks) {
        const began = performance.now();
        assert.equal(
          await rt.ref("rogue").request("attack", {
            what,
            node: nodeOf("rogue"),
            target: `echo_${mode}#0.1`,
            echoNode: nodeOf(`echo_${mode}`),
          }),
          true,
        );
        assert.ok(performance.now() - began < 1_000, `${what} took ${performance.now() - began}`);
      }
      await waitUntil(() => rt.tree().refused >= before + attacks.length, 3_000, "refusals");
      // The target never saw a thing: its first count is 1; the rogue still answers too.
      assert.equal(await rt.ref(`echo_${mode}`).request("count"), 1, mode);
      assert.equal(await rt.ref("rogue").request("ping"), "pong");
    }
    assert.deepEqual(news, []);
    assert.deepEqual(exits, []);
  });
});
