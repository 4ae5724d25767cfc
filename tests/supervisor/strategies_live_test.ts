// Strategies × restart types × modes, live: which siblings a failure restarts, with real workers
// and processes. Three siblings a, b, c of one mode; b fails with an error.
import assert from "node:assert/strict";
import type { ContainerSnapshot, RestartType, Runtime, Strategy } from "../../mod.ts";
import { MODES, waitUntil, withRuntime } from "../_helpers.ts";

const STRATEGIES: Strategy[] = ["one_for_one", "one_for_all", "rest_for_one"];
const TYPES: RestartType[] = ["permanent", "transient", "temporary"];

/** Incarnation of each container after b's failure, per OTP. */
function expected(strategy: Strategy, type: RestartType): Record<string, number> {
  if (type === "temporary") return { a: 1, b: 1, c: 1 };
  if (strategy === "one_for_one") return { a: 1, b: 2, c: 1 };
  if (strategy === "one_for_all") return { a: 2, b: 2, c: 2 };
  return { a: 1, b: 2, c: 2 };
}

function incarnations(rt: Runtime): Record<string, { incarnation: number; state: string }> {
  const out: Record<string, { incarnation: number; state: string }> = {};
  for (const c of rt.tree().containers as ContainerSnapshot[]) {
    out[c.name] = { incarnation: c.instances[0].incarnation, state: c.instances[0].state };
  }
  return out;
}

for (const mode of MODES) {
  for (const strategy of STRATEGIES) {
    for (const type of TYPES) {
      Deno.test(`${strategy} with a ${type} child that fails (${mode}): OTP's restarts`, async () => {
        const spec = (restart: RestartType) => ({ module: "./member.ts", mode, restart });
        await withRuntime({
          supervisor: { strategy, intensity: 10, backoff: { min: 1, max: 5 } },
          containers: { a: spec("permanent"), b: spec(type), c: spec("permanent") },
        }, async (rt) => {
          const want = expected(strategy, type);
          const starts: string[] = [];
          rt.on("start", (e) => starts.push(e.container));
          await assert.rejects(rt.ref("b").request("fail", { cls: "TypeError" }), /TypeError/);
          if (type === "temporary") {
            await waitUntil(() => incarnations(rt).b.state === "stopped", 3000, "b stopped");
            await new Promise((r) => setTimeout(r, 100));
          } else {
            await waitUntil(
              () => {
                const now = incarnations(rt);
                return Object.entries(want).every(([name, inc]) =>
                  now[name].incarnation === inc && now[name].state === "running"
                );
              },
              5000,
              `incarnations ${JSON.stringify(want)}`,
            );
          }
          const now = incarnations(rt);
          assert.deepEqual(
            Object.fromEntries(Object.entries(now).map(([k, v]) => [k, v.incarnation])),
            want,
          );
          // Restarted siblings start in order after the failed one (OTP start order).
          if (strategy === "one_for_all" && type !== "temporary") {
            assert.deepEqual(starts, ["a", "b", "c"]);
          }
          if (strategy === "rest_for_one" && type !== "temporary") {
            assert.deepEqual(starts, ["b", "c"]);
          }
          if (type !== "temporary") {
            assert.equal(await rt.ref("b").request("count"), 1, "b's state was reset");
          }
        });
      });
    }
  }
}

Deno.test("transient: a process that exits with code 0 stays stopped; permanent restarts it", async () => {
  await withRuntime({
    supervisor: { backoff: { min: 1, max: 5 } },
    containers: {
      t: { module: "./member.ts", mode: "process", restart: "transient" },
      p: { module: "./member.ts", mode: "process", restart: "permanent" },
    },
  }, async (rt) => {
    rt.ref("t").send("exit", { code: 0 });
    rt.ref("p").send("exit", { code: 0 });
    await waitUntil(
      () => {
        const now = incarnations(rt);
        return now.t.state === "stopped" && now.p.incarnation === 2 && now.p.state === "running";
      },
      5000,
      "t stopped and p restarted",
    );
    const t = rt.tree().containers.find((c) => c.name === "t")!;
    assert.equal(t.instances[0].lastExit?.kind, "normal");
    assert.equal(t.held, true);
  });
});
