// examples/agents, run from its own kraken.yaml with a 20 × 20 grid: ticks advance and every agent
// answers each one; a replica crashed mid-run (a crash in a worker, kill -9 of a process) → ticks
// go on and no agent is lost: each agent on it carries on from the census exactly where it was;
// the runtime shuts down clean; `deno task example:agents` prints ticks and stops on Ctrl-C.
import assert from "node:assert/strict";
import { parse } from "yaml";
import type agent from "../../examples/agents/containers/agent.ts";
import type world from "../../examples/agents/containers/world.ts";
import type { WorldStatus } from "../../examples/agents/containers/world.ts";
import {
  agentId,
  DEFAULT_PARAMS,
  freshAgent,
  meet,
  type Seen,
  step,
} from "../../examples/agents/model.ts";
import { Runtime, type TopologyInput } from "../../mod.ts";
import { childrenOf, nextEvent, waitUntil } from "../_helpers.ts";

const EXAMPLE = new URL("../../examples/agents/", import.meta.url);
const ROOT = new URL("../../", import.meta.url).pathname;
const SIDE = 20;
const N = SIDE * SIDE;

type Mode = "worker" | "process";

/** The example's topology with a small grid, quiet, without the management API. */
async function start(mode: Mode): Promise<Runtime> {
  const topology = parse(await Deno.readTextFile(new URL("kraken.yaml", EXAMPLE)));
  topology.containers.agents.mode = mode;
  topology.containers.world.config = {
    ...topology.containers.world.config,
    side: SIDE,
    seed: 40,
    print_every: 0,
    map_every: 0,
  };
  delete topology.management; // the tests reach the runtime directly
  return await Runtime.start(topology as TopologyInput, {
    baseUrl: EXAMPLE.href,
    logLevel: "silent",
  });
}

async function statusOf(rt: Runtime): Promise<WorldStatus> {
  return await rt.ref<typeof world>("world").request("status");
}

async function untilTick(rt: Runtime, tick: number, ms: number): Promise<WorldStatus> {
  const end = performance.now() + ms;
  for (;;) {
    const status = await statusOf(rt);
    if (status.tick >= tick) return status;
    if (performance.now() > end) {
      assert.fail(`tick ${tick} not reached in ${ms} ms: ${status.tick}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Every agent as it is now, asked directly (the world paused). */
async function lookAll(rt: Runtime): Promise<{ t: number; h: Seen["h"]; d: number; at: string }[]> {
  const agents = rt.ref<typeof agent>("agents");
  return await Promise.all(
    Array.from(
      { length: N },
      (_, i) => agents.entity(agentId(i)).request("look", undefined, { retries: 2 }),
    ),
  );
}

/** The health an agent may have one tick after `before` (a susceptible one may catch it). */
function successors(before: Seen): Seen[] {
  const { infectious, immune } = DEFAULT_PARAMS;
  const d = before.d + 1;
  switch (before.h) {
    case "S":
      return [{ h: "S", d }, { h: "I", d: 0 }];
    case "I":
      return [d > infectious ? { h: "R", d: 0 } : { h: "I", d }];
    case "R":
      return [d > immune ? { h: "S", d: 0 } : { h: "R", d }];
  }
}

function countsOf(agents: Seen[]): Record<Seen["h"], number> {
  const counts = { S: 0, I: 0, R: 0 };
  for (const a of agents) counts[a.h]++;
  return counts;
}

const replicaOf = (instance: string) => instance.slice(0, instance.lastIndexOf("."));

/** Crashes the replica `at` runs on: a crash inside a worker, kill -9 of a process. */
async function crash(rt: Runtime, mode: Mode, at: string): Promise<void> {
  const restarted = nextEvent(rt, "restart", (e) => e.container === "agents", 10_000);
  if (mode === "worker") {
    // Through the world, as `kraken call world crash '{"agent": …}'` does.
    const target = (await lookAll(rt)).findIndex((a) => a.at === at);
    const reply = await rt.ref<typeof world>("world").request("crash", { agent: agentId(target) });
    assert.deepEqual(reply, { agent: agentId(target), instance: at });
  } else {
    const agents = rt.tree().containers.find((c) => c.name === "agents")!;
    Deno.kill(agents.instances.find((i) => i.id === at)!.pid!, "SIGKILL");
  }
  await restarted;
  const replica = replicaOf(at);
  await waitUntil(
    () =>
      rt.tree().containers.find((c) => c.name === "agents")!.instances
        .some((i) => replicaOf(i.id) === replica && i.id !== at && i.state === "running"),
    10_000,
    `a new incarnation of ${replica}`,
  );
}

Deno.test("agents: ticks advance, every agent answers each tick and the census adds up to the population", async () => {
  const rt = await start("worker");
  try {
    const status = await untilTick(rt, 3, 30_000);
    assert.equal(status.agents, N);
    assert.equal(status.answered, N);
    assert.equal(status.unanswered.total, 0);
    assert.equal(status.counts.S + status.counts.I + status.counts.R, N);
    assert.equal(Object.keys(status.on).length, 3, "agents on each of the 3 replicas");
    assert.equal(Object.values(status.on).reduce((a, b) => a + b, 0), N);
    assert.ok(status.tps > 0);
    // Paused, each agent itself agrees with the census: it took the last tick, in that health.
    const paused = await rt.ref<typeof world>("world").request("pause");
    const agents = await lookAll(rt);
    assert.ok(agents.every((a) => a.t === paused.tick), "every agent took the last tick");
    assert.deepEqual(countsOf(agents), paused.counts);
  } finally {
    await rt.shutdown();
  }
});

for (const mode of ["worker", "process"] as const) {
  const how = mode === "worker" ? "crashed" : "killed -9";
  Deno.test(`[${mode}] agents: a replica ${how} mid-run → ticks go on and no agent is lost`, async () => {
    const rt = await start(mode);
    // This runtime's replica processes, as the tree shows them (other test files running beside
    // this one have children of this same test process too).
    const pids = new Set<number>();
    const note = () => {
      for (const c of rt.tree().containers) {
        for (const i of c.instances) if (typeof i.pid === "number") pids.add(i.pid);
      }
    };
    try {
      const w = rt.ref<typeof world>("world");
      const before = await untilTick(rt, 2, 30_000);
      // Mid-run: the world keeps ticking through it.
      note();
      await crash(rt, mode, Object.keys(before.on).sort()[0]);
      const after = await statusOf(rt);
      const going = await untilTick(rt, after.tick + 3, 30_000);
      assert.equal(going.answered, N, "every agent answered the latest tick");
      assert.equal(going.unanswered.last, 0);
      assert.ok(going.rederived.total > 0, "the crashed replica's agents were re-derived");
      assert.equal(Object.values(going.on).reduce((a, b) => a + b, 0), N);

      // Paused, crashed again: the next tick carries every agent on from where it was, those of
      // the crashed replica included (a fresh activation adopts the census's record of it).
      const paused = await w.request("pause");
      const then = await lookAll(rt);
      assert.ok(then.every((a) => a.t === paused.tick));
      const victim = Object.keys(paused.on).sort()[1];
      const onVictim = then.filter((a) => a.at === victim).length;
      note();
      await crash(rt, mode, victim);
      const next = await w.request("advance");
      assert.equal(next.tick, paused.tick + 1);
      assert.equal(next.answered, N);
      assert.ok(
        next.rederived.last >= onVictim,
        `${next.rederived.last} re-derived of ${onVictim}`,
      );
      const now = await lookAll(rt);
      assert.deepEqual(countsOf(now), next.counts);
      for (let i = 0; i < N; i++) {
        assert.equal(now[i].t, next.tick, `${agentId(i)} took tick ${next.tick}`);
        const was = { h: then[i].h, d: then[i].d };
        assert.ok(
          successors(was).some((s) => s.h === now[i].h && s.d === now[i].d),
          `${agentId(i)} (on ${then[i].at}) went from ${JSON.stringify(was)} to ${
            JSON.stringify({ h: now[i].h, d: now[i].d })
          }`,
        );
      }
    } finally {
      note();
      await rt.shutdown();
    }
    const left = childrenOf(Deno.pid).filter((pid) => pids.has(pid));
    assert.deepEqual(left, [], "no replica process left behind");
  });
}

Deno.test("agents: deno task example:agents prints a line per tick and stops clean on Ctrl-C", async () => {
  // The task's own command, run directly (not through `deno task`), so that the kill below, if
  // the test runs out of time, reaches the runtime itself and leaves nothing behind.
  const tasks = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).tasks;
  const [deno, ...args] = String(tasks["example:agents"]).split(" ");
  assert.equal(deno, "deno");
  const child = new Deno.Command(Deno.execPath(), {
    args: [...args, "--listen", "127.0.0.1:0"],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", AGENTS_SIDE: "10" },
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const stdout = new Response(child.stdout).text();
  let logs = "";
  try {
    // The log lines go to stderr, the runtime's own report to stdout.
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    while (!/tick 3 · /.test(logs)) {
      const { value, done } = await reader.read();
      if (done) break;
      logs += value;
    }
    child.kill("SIGINT");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      logs += value;
    }
    assert.equal((await child.status).code, 0, `${await stdout}\n${logs}`);
  } finally {
    clearTimeout(timer);
  }
  assert.match(logs, /100 agents on a 10 × 10 grid/);
  assert.match(logs, /tick 3 · [\d.]+ ticks\/s · S \d+ I \d+ R \d+ = 100 · agents#0\.1 \d+/);
  assert.match(logs + await stdout, /stopped/);
});

Deno.test("agents: a restarted world takes its census back from the agents and ticks on from their tick", async () => {
  const rt = await start("worker");
  try {
    const before = await untilTick(rt, 10, 30_000);
    await rt.restart("world");
    // Its first status with a tick is the agents' tick, not 1: no tick is taken over again.
    const back = await untilTick(rt, 1, 30_000);
    assert.ok(back.tick >= before.tick, `back at tick ${back.tick}, was at ${before.tick}`);
    // The old world stopped mid-tick: until the new one has taken a whole tick, some agents are a
    // tick behind the census (the README says so); after one, every agent is on the world's tick.
    await untilTick(rt, back.tick + 1, 30_000);
    const paused = await rt.ref<typeof world>("world").request("pause");
    const agents = await lookAll(rt);
    assert.ok(agents.every((a) => a.t === paused.tick), "every agent took the world's last tick");
    assert.deepEqual(countsOf(agents), paused.counts);
  } finally {
    await rt.shutdown();
  }
});

// The model's own rules (pure): what the crash tests above rely on.
const P = { ...DEFAULT_PARAMS, w: 10, h: 10, spark: 0 };
const always = () => 0; // every chance taken
const never = () => 0.999_999; // no chance taken

Deno.test("agents model: a meeting of tick t counts at tick t + 1, whether it arrives before or after its target took tick t", () => {
  const early = freshAgent(), late = freshAgent();
  step(early, 1, { h: "S", d: 0 }, P, 0, never);
  step(late, 1, { h: "S", d: 0 }, P, 1, never);
  meet(early, 2); // sent in tick 2, before this agent took tick 2
  step(early, 2, { h: "S", d: 1 }, P, 0, never);
  step(late, 2, { h: "S", d: 1 }, P, 1, never);
  meet(late, 2); // sent in tick 2, after this agent took it
  assert.equal(early.h, "S", "not weighed at tick 2");
  step(early, 3, { h: "S", d: 2 }, P, 0, always);
  step(late, 3, { h: "S", d: 2 }, P, 1, always);
  assert.equal(early.h, "I");
  assert.equal(late.h, "I");
});

Deno.test("agents model: a fresh activation adopts the world's record, and a step taken twice changes nothing", () => {
  const agent = freshAgent();
  const first = step(agent, 7, { h: "I", d: 2 }, P, 55, always);
  assert.equal(first.adopted, true);
  assert.deepEqual({ h: agent.h, d: agent.d, t: agent.t }, { h: "I", d: 3, t: 7 });
  assert.deepEqual(first.meets, [44, 45, 46, 54, 56, 64, 65, 66, 0]);
  const again = step(agent, 7, { h: "I", d: 2 }, P, 55, always);
  assert.deepEqual(again, { meets: [], adopted: false });
  assert.deepEqual({ h: agent.h, d: agent.d, t: agent.t }, { h: "I", d: 3, t: 7 });
  const next = step(agent, 8, { h: "S", d: 0 }, P, 55, never);
  assert.equal(next.adopted, false, "it took tick 7 here: the record is not needed");
  assert.equal(agent.d, 4);
});
