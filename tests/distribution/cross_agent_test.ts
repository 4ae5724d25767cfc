// A container on one host agent reaching, by name, a container placed on other agents (real
// `kraken node` processes on loopback): the root relays what it placed on each agent to the others,
// and its hub passes the messages on (agent → root → agent). A caller on an agent without a group
// of a `placement: spread` container is served by every group, and loses nothing when an agent is
// SIGKILLed; a caller on an agent with its own group is served by it, and by the other agents'
// groups while its own restarts.
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import type { Runtime, TopologyInput } from "../../mod.ts";
import { Runtime as RT } from "../../mod.ts";
import { freePort } from "../_helpers.ts";
import {
  type AgentProcess,
  childrenOf,
  eventually,
  FIXTURES_DIR,
  pause,
  SECRET,
  startAgent,
} from "./_agents.ts";

/** The caller's tally (`tests/fixtures/tally_caller.ts`). */
interface Tally {
  ok: number;
  failed: number;
  errors: string[];
  longestGap: number;
  by: Record<string, number>;
}

/** `x` spread over node-b and node-c (2 and 2, each replica its own process); `frontend` calls it. */
function topology(agents: AgentProcess[], frontendOn: string): TopologyInput {
  return {
    name: "dist",
    transports: { name: "root", secret: SECRET, keepalive: "1s" },
    hosts: Object.fromEntries(agents.map((a) => [a.name, { address: a.url }])),
    containers: {
      x: {
        module: "./member.ts",
        mode: "remote",
        placement: "spread",
        replicas: 4,
        hosts: ["node-b", "node-c"],
        runs_as: "process",
      },
      frontend: {
        module: "./tally_caller.ts",
        mode: "remote",
        host: frontendOn,
        runs_as: "worker",
        config: { to: "x" },
      },
    },
  };
}

const start = (t: TopologyInput) =>
  RT.start(t, { baseUrl: `file://${FIXTURES_DIR}`, logLevel: "error", logger: () => {} });

const placementOf = (rt: Runtime) =>
  rt.tree().containers.find((c) => c.name === "x")!.placement?.replicasOn ?? {};

const running = (rt: Runtime, name: string) =>
  rt.tree().containers.find((c) => c.name === name)?.running ?? 0;

const tally = async (rt: Runtime) =>
  await rt.ref("frontend").request("stats", undefined, { timeout: 2_000 }) as Tally;

/** Replies by agent: each pid that answered, counted under the agent it is a child of. */
function byAgent(t: Tally, agents: AgentProcess[]): Record<string, number> {
  const out: Record<string, number> = {};
  const owners = new Map<string, string>();
  for (const a of agents) for (const pid of childrenOf(a.pid)) owners.set(String(pid), a.name);
  for (const [pid, n] of Object.entries(t.by)) {
    const owner = owners.get(pid) ?? "gone";
    out[owner] = (out[owner] ?? 0) + n;
  }
  return out;
}

async function withAgents(
  names: string[],
  fn: (agents: AgentProcess[]) => Promise<void>,
): Promise<void> {
  const agents: AgentProcess[] = [];
  try {
    for (const name of names) {
      agents.push(await startAgent(name, { listen: `tcp://127.0.0.1:${freePort()}` }));
    }
    await fn(agents);
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
  }
}

/** Starts the root and waits until x runs 4 replicas on node-b and node-c and the caller is served. */
async function ready(agents: AgentProcess[], frontendOn: string): Promise<Runtime> {
  const rt = await start(topology(agents, frontendOn));
  try {
    await eventually(
      () => running(rt, "x") === 4 && running(rt, "frontend") === 1,
      15_000,
      "x and frontend running",
    );
    assert.deepEqual(placementOf(rt), { "node-b": 2, "node-c": 2 });
    await eventually(async () => (await tally(rt)).ok > 40, 10_000, "frontend's calls answered");
    return rt;
  } catch (error) {
    await rt.shutdown();
    throw error;
  }
}

Deno.test("a caller on an agent without a group of a spread container is served by the groups on both other agents", async () => {
  await withAgents(["node-b", "node-c", "node-d"], async (agents) => {
    const [b, c] = agents;
    const rt = await ready(agents, "node-d");
    try {
      await rt.ref("frontend").request("reset");
      await pause(1_500);
      const t = await tally(rt);
      assert.equal(t.failed, 0, t.errors.join("; "));
      const served = byAgent(t, [b, c]);
      assert.ok((served["node-b"] ?? 0) > 10, `replies by agent: ${JSON.stringify(served)}`);
      assert.ok((served["node-c"] ?? 0) > 10, `replies by agent: ${JSON.stringify(served)}`);
      // Every call went agent → root → agent: the root's hub passed each on.
      assert.ok(rt.tree().relayed >= 2 * t.ok, `relayed ${rt.tree().relayed}`);
    } finally {
      await rt.shutdown();
    }
  });
});

Deno.test("a caller on an agent without a group loses no retried call when an agent running a group is SIGKILLed", async () => {
  await withAgents(["node-b", "node-c", "node-d"], async (agents) => {
    const [b] = agents;
    const rt = await ready(agents, "node-d");
    try {
      await rt.ref("frontend").request("reset");
      await pause(300);
      const lostAt = performance.now();
      b.child.kill("SIGKILL");
      await eventually(
        () => isDeepStrictEqual(placementOf(rt), { "node-c": 4 }) && running(rt, "x") === 4,
        10_000,
        "node-b's replicas re-placed on node-c",
      );
      const replaced = performance.now() - lostAt;
      await pause(500);
      const t = await tally(rt);
      assert.equal(t.failed, 0, `${t.ok} answered; ${t.errors.join("; ")}`);
      assert.ok(t.ok > 50, `${t.ok} answered`);
      console.log(
        `  node-b SIGKILLed: ${t.ok} calls from node-d answered, 0 lost, longest gap ${t.longestGap} ms, re-placed in ${
          Math.round(replaced)
        } ms`,
      );
    } finally {
      await rt.shutdown();
    }
  });
});

Deno.test("a caller on an agent with its own group is served by it, and by the other agent's group while its own restarts", async () => {
  await withAgents(["node-b", "node-c"], async (agents) => {
    const [b, c] = agents;
    const rt = await ready(agents, "node-c");
    try {
      await rt.ref("frontend").request("reset");
      await pause(1_000);
      const before = await tally(rt);
      assert.equal(before.failed, 0, before.errors.join("; "));
      assert.deepEqual(Object.keys(byAgent(before, agents)), ["node-c"], "its own group only");
      // node-c's group crashes: both its replicas' processes killed at once; its supervisor
      // restarts them.
      const group = childrenOf(c.pid).filter((pid) => String(pid) in before.by);
      assert.equal(group.length, 2, `node-c's replicas ${JSON.stringify(before.by)}`);
      await rt.ref("frontend").request("reset");
      for (const pid of group) Deno.kill(pid, "SIGKILL");
      await eventually(
        () => childrenOf(c.pid).filter((pid) => !group.includes(pid)).length >= 2,
        10_000,
        "node-c's group restarted",
      );
      await eventually(
        async () => {
          const t = await tally(rt);
          return Object.keys(t.by).some((pid) =>
            childrenOf(c.pid).includes(Number(pid)) && !group.includes(Number(pid))
          );
        },
        10_000,
        "the restarted group serving",
      );
      const during = await tally(rt);
      assert.equal(during.failed, 0, `${during.ok} answered; ${during.errors.join("; ")}`);
      const served = byAgent(during, agents);
      assert.ok((served["node-b"] ?? 0) > 0, `replies by agent: ${JSON.stringify(served)}`);
      // Back on its own group once it is live again.
      await rt.ref("frontend").request("reset");
      await pause(1_000);
      const after = await tally(rt);
      assert.equal(after.failed, 0, after.errors.join("; "));
      assert.deepEqual(Object.keys(byAgent(after, agents)), ["node-c"], "its own group again");
      console.log(
        `  node-c's group killed: ${during.ok} calls answered meanwhile, ${
          served["node-b"]
        } by node-b, longest gap ${during.longestGap} ms`,
      );
      void b;
    } finally {
      await rt.shutdown();
    }
  });
});
