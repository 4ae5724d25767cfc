// A reload that replaces a container rolls one replica at a time; one that fails midway leaves
// one owner for everything: the new container, with the old instances still running adopted.
import assert from "node:assert/strict";
import { RolloutError } from "../../mod.ts";
import { withRuntime } from "../_helpers.ts";

const member = (extra: Record<string, unknown> = {}) => ({
  module: "./member.ts",
  mode: "worker" as const,
  replicas: 3,
  ...extra,
});

Deno.test("apply: a replacement whose replica 1 cannot start fails with a RolloutError; replica 0 runs the new version and the old replicas 1 and 2 keep serving, adopted", async () => {
  await withRuntime({ containers: { api: member() } }, async (rt) => {
    const error = await rt.apply({ containers: { api: member({ config: { failReplica: 1 } }) } })
      .then(() => null, (e: unknown) => e);
    assert.ok(error instanceof RolloutError, String(error));
    assert.equal(error.container, "api");
    assert.equal(error.replica, 1);
    assert.match(
      error.message,
      /api#1\.2 could not start: .*factory refused replica 1; api#0\.2 run the new spec; api#1\.1, api#2\.1 keep running/,
    );
    const [api] = rt.tree().containers;
    assert.deepEqual(api.instances.map((i) => [i.id, i.state]), [
      ["api#0.2", "running"],
      ["api#1.1", "running"],
      ["api#2.1", "running"],
    ]);
    assert.equal(api.running, 3);
    assert.deepEqual(rt.topology.containers[0].config, { failReplica: 1 }, "the new spec");
    const answered = new Set<unknown>();
    for (let i = 0; i < 12; i++) answered.add(await rt.ref("api").request("whoami"));
    assert.deepEqual([...answered].sort(), ["api#0.2", "api#1.1", "api#2.1"]);
  });
});
