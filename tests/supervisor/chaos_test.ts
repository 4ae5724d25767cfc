// Chaos: a steady stream of requests with retries while a random instance is killed every 250 ms
// for 20 s (SIGKILL of processes, errors and silent exits in workers, errors inline). Every
// request must be answered, restart counts must agree, and none of the runtime's processes may be
// left running (its own: under --parallel, other test files' subprocesses are children of this
// test process too).
import assert from "node:assert/strict";
import { processWatch, waitUntil, withRuntime } from "../_helpers.ts";

const DURATION = 20_000;
const KILL_EVERY = 250;
const LOOPS = 8;

Deno.test("chaos: random kills every 250 ms for 20 s; every request is answered, counts agree, no leaks", async () => {
  let exits = 0;
  let restarts = 0;
  let kills = 0;
  const latencies: number[] = [];
  const failures: string[] = [];
  let processes: ReturnType<typeof processWatch> | undefined;
  await withRuntime({
    supervisor: { intensity: 1000, period: "10s", backoff: { min: 1, max: 20 } },
    containers: {
      w: { module: "./member.ts", mode: "worker", replicas: 2, keepalive: "300ms" },
      p: { module: "./member.ts", mode: "process", replicas: 2, keepalive: "300ms" },
      i: { module: "./member.ts", mode: "inline" },
    },
  }, async (rt) => {
    processes = processWatch(rt);
    rt.on("exit", () => exits++);
    rt.on("restart", () => restarts++);
    const end = performance.now() + DURATION;
    const names = ["w", "p", "i"];
    const load = async (n: number) => {
      let k = n;
      while (performance.now() < end) {
        const name = names[k++ % names.length];
        const t = performance.now();
        try {
          await rt.ref(name).request("whoami", undefined, { timeout: 1000, retries: 10 });
          latencies.push(performance.now() - t);
        } catch (error) {
          failures.push(`${name}: ${(error as Error).message}`);
        }
      }
    };
    const chaos = async () => {
      let round = 0;
      while (performance.now() < end) {
        await new Promise((r) => setTimeout(r, KILL_EVERY));
        const target = names[Math.floor(Math.random() * names.length)];
        try {
          if (target === "p") {
            const pid = await rt.ref("p").request("pid", undefined, { timeout: 500 }) as number;
            Deno.kill(pid, "SIGKILL");
          } else if (target === "w" && round % 2 === 0) {
            rt.ref("w").send("exit", { code: 0 }); // silent: only heartbeats notice
          } else {
            await rt.ref(target).request("fail", { cls: "TypeError" }).catch(() => {});
          }
          kills++;
        } catch {
          // the target was between incarnations: no kill this round
        }
        round++;
      }
    };
    await Promise.all([chaos(), ...Array.from({ length: LOOPS }, (_, n) => load(n))]);
    // Let the last restarts finish, then every count must agree.
    await waitUntil(
      () => rt.tree().containers.every((c) => c.running === c.replicas) && restarts === exits,
      5000,
      "all replicas running again",
    );
    const tree = rt.tree();
    const treeRestarts = tree.containers.reduce((sum, c) => sum + c.restarts, 0);
    latencies.sort((a, b) => a - b);
    const q = (p: number) =>
      latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))];
    console.log(
      `chaos: ${latencies.length} requests answered, ${failures.length} failed; ${kills} kills, ` +
        `${exits} exits, ${restarts} restarts (tree: ${treeRestarts}); ` +
        `latency p50 ${q(0.5).toFixed(2)} ms, p99 ${q(0.99).toFixed(1)} ms, max ${
          q(1).toFixed(0)
        } ms; per container: ${tree.containers.map((c) => `${c.name} ${c.restarts}`).join(", ")}`,
    );
    assert.deepEqual(failures, [], "every request answered");
    assert.ok(kills >= 40, `only ${kills} kills`);
    assert.equal(treeRestarts, restarts, "the tree counts every restart event");
    assert.equal(restarts, exits, "every exit was followed by exactly one restart");
    assert.ok(exits >= kills * 0.9, `${exits} exits for ${kills} kills`);
    assert.ok(latencies.length > 1000);
    // The last kill may have just ended one: it is back within its restart.
    await waitUntil(
      () => processes!.left().length === 2,
      10_000,
      "the watch to see the 2 live processes",
    );
  });
  // Another test file's subprocess, as under --parallel: a child of this test process that is
  // none of the runtime's business.
  const bystander = new Deno.Command("sleep", { args: ["60"], stdout: "null", stderr: "null" })
    .spawn();
  try {
    assert.ok(processes!.seen.size > 2, `only ${processes!.seen.size} processes seen`);
    assert.deepEqual(processes!.left(), [], "no process of the runtime left after shutdown");
  } finally {
    bystander.kill("SIGKILL");
    await bystander.status;
  }
});
