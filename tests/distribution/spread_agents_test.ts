// `placement: spread` with real host agents (`kraken node` processes on loopback): replicas on
// several agents, an agent SIGKILLed or frozen (SIGSTOP) under retried load — nothing lost, the
// longest gap between replies within one retry timeout, the lost replicas re-placed on the
// survivors — and a returning agent taking replicas back by rebalance without losing a request.
import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import type { Runtime, TopologyInput } from "../../mod.ts";
import { Runtime as RT } from "../../mod.ts";
import { freePort } from "../_helpers.ts";
import { managementApp } from "../../management/app.ts";
import {
  type AgentProcess,
  eventually,
  FIXTURES_DIR,
  pause,
  SECRET,
  startAgent,
} from "./_agents.ts";

const TOKEN = "spread-token-0123456789";

/** How long one try of a request may take before it is retried, ms. */
const RETRY_TIMEOUT = 1_000;
/** The longest gap between replies allowed when an agent freezes, ms (see its test). */
const FROZEN_GAP = 450;

function topology(
  agents: AgentProcess[],
  replicas: number,
  extra: Record<string, unknown> = {},
): TopologyInput {
  return {
    name: "dist",
    transports: { name: "root", secret: SECRET, keepalive: "1s" },
    hosts: Object.fromEntries(agents.map((a) => [a.name, { address: a.url }])),
    containers: {
      x: { module: "./member.ts", mode: "remote", placement: "spread", replicas, ...extra },
    },
  };
}

const start = (t: TopologyInput) =>
  RT.start(t, { baseUrl: `file://${FIXTURES_DIR}`, logLevel: "error", logger: () => {} });

const placementOf = (rt: Runtime) =>
  rt.tree().containers.find((c) => c.name === "x")!.placement?.replicasOn ?? {};

/**
 * Requests with retries to `x` from 4 loops until stopped (at most `ms`): counts failures, the
 * processes that answered, and the longest gap between two replies.
 */
function load(rt: Runtime, ms = 60_000) {
  let running = true;
  const end = performance.now() + ms;
  let last = performance.now();
  const stats = { ok: 0, failed: [] as string[], pids: new Set<number>(), gap: 0 };
  const loops = Array.from({ length: 4 }, async () => {
    while (running && performance.now() < end) {
      try {
        const pid = await rt.ref("x").request("pid", undefined, {
          timeout: RETRY_TIMEOUT,
          retries: 3,
        }) as number;
        const now = performance.now();
        stats.gap = Math.max(stats.gap, now - last);
        last = now;
        stats.pids.add(pid);
        stats.ok++;
      } catch (error) {
        stats.failed.push(`${(error as Error).name}: ${(error as Error).message}`);
      }
      await pause(2);
    }
  });
  return {
    stats,
    /** Starts measuring the gap afresh (after warm-up). */
    mark() {
      last = performance.now();
      stats.gap = 0;
    },
    async stop() {
      running = false;
      await Promise.all(loops);
      return stats;
    },
  };
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
    await Promise.all(agents.map((a) => {
      try {
        a.child.kill("SIGCONT");
      } catch {
        // gone
      }
      return a.stop();
    }));
  }
}

for (const signal of ["SIGKILL", "SIGSTOP"] as const) {
  const within = signal === "SIGKILL"
    ? "no reply waits over one retry timeout"
    : "replies resume well within one retry timeout (its link is suspect, not lost)";
  Deno.test(`spread: an agent lost by ${signal} under retried load loses no request, ${within}, and its replicas are re-placed on the survivors`, async () => {
    await withAgents(["node-b", "node-c"], async ([b, c]) => {
      const rt = await start(topology([b, c], 4));
      try {
        await eventually(
          () => rt.tree().containers.find((x) => x.name === "x")!.running === 4,
          10_000,
          "4 replicas routed",
        );
        assert.deepEqual(placementOf(rt), { "node-b": 2, "node-c": 2 });
        const traffic = load(rt);
        await pause(300);
        traffic.mark();
        const lostAt = performance.now();
        b.child.kill(signal);
        if (signal === "SIGSTOP") {
          await eventually(
            () => rt.tree().peers.some((p) => p.name === "node-b" && p.suspect === true),
            900,
            "node-b shown suspect in the tree before its keepalive runs out",
          );
        }
        await eventually(
          () =>
            isDeepStrictEqual(placementOf(rt), { "node-c": 4 }) &&
            rt.tree().containers.find((x) => x.name === "x")!.running === 4,
          8_000,
          "the lost replicas re-placed on node-c",
        );
        const replaced = performance.now() - lostAt;
        await pause(300);
        const stats = await traffic.stop();
        assert.deepEqual(stats.failed, [], `${stats.ok} requests answered`);
        // A killed agent's socket closes: its routes go at once, its requests in flight are
        // resent to the survivors. A frozen one is lost only after the keepalive (1 s) of
        // silence, but its link is suspect long before (a probe unanswered for 100 ms): new
        // requests and the retries of those waiting on it go to the survivor at once. (The bench
        // holds it to 250 ms; here, on a machine shared with other runs, to under half a retry
        // timeout: without suspicion a try waits out its whole timeout, 1 s.)
        const bound = signal === "SIGKILL" ? RETRY_TIMEOUT : FROZEN_GAP;
        assert.ok(
          stats.gap <= bound,
          `longest gap between replies ${Math.round(stats.gap)} ms (bound ${bound} ms)`,
        );
        console.log(
          `  ${signal}: ${stats.ok} replies, longest gap ${
            Math.round(stats.gap)
          } ms, re-placed in ${Math.round(replaced)} ms`,
        );
      } finally {
        await rt.shutdown();
      }
    });
  });
}

Deno.test("spread: a worker container's retried calls route around a frozen agent too (the hub's table marks its instances suspect): none lost, the longest gap well within one retry timeout", async () => {
  await withAgents(["node-b", "node-c"], async ([b, c]) => {
    const rt = await start({
      ...topology([b, c], 4),
      containers: {
        ...topology([b, c], 4).containers,
        y: { module: "./caller.ts", mode: "worker", config: { to: "x" } },
      },
    });
    try {
      await eventually(
        () => rt.tree().containers.find((x) => x.name === "x")!.running === 4,
        10_000,
        "4 replicas routed",
      );
      const y = rt.ref("y");
      await eventually(async () => (await y.request("mark") as number) > 50, 10_000, "y calls x");
      type Stats = { failed: number; longestGap: number; ok: number; errors: string[] };
      await y.request("mark");
      // (Calls made before x was placed at the start may have failed: not counted.)
      const before = await y.request("stats") as Stats;
      b.child.kill("SIGSTOP");
      await pause(1_500); // through the keepalive: its routes then leave the table
      const stats = await y.request("stats") as Stats;
      assert.equal(stats.failed, before.failed, stats.errors.join("; "));
      assert.ok(
        stats.longestGap <= FROZEN_GAP,
        `longest gap between y's replies ${stats.longestGap} ms (bound ${FROZEN_GAP} ms)`,
      );
      console.log(`  worker caller: ${stats.ok} replies, longest gap ${stats.longestGap} ms`);
    } finally {
      await rt.shutdown();
    }
  });
});

Deno.test("spread: 400 ms stalls of the root's own event loop under retried load make no agent's link suspect and lose nothing", async () => {
  await withAgents(["node-b", "node-c"], async ([b, c]) => {
    const lines: string[] = [];
    const rt = await RT.start(topology([b, c], 4), {
      baseUrl: `file://${FIXTURES_DIR}`,
      logLevel: "info",
      logger: (entry) => lines.push(entry.message),
    });
    try {
      await eventually(
        () => rt.tree().containers.find((x) => x.name === "x")!.running === 4,
        10_000,
        "4 replicas routed",
      );
      const traffic = load(rt);
      await pause(300);
      for (let i = 0; i < 3; i++) {
        // The root's thread is busy: replies and pongs arrive meanwhile and wait to be read.
        const until = performance.now() + 400;
        while (performance.now() < until) {
          // busy
        }
        await pause(300);
      }
      const stats = await traffic.stop();
      assert.deepEqual(stats.failed, [], `${stats.ok} requests answered`);
      assert.deepEqual(lines.filter((l) => /suspect/.test(l)), []);
      assert.deepEqual(placementOf(rt), { "node-b": 2, "node-c": 2 });
    } finally {
      await rt.shutdown();
    }
  });
});

Deno.test("spread: a returning agent takes replicas back by rebalance, one at a time, without losing a request", async () => {
  await withAgents(["node-b", "node-c"], async ([b, c]) => {
    const rt = await start(topology([b, c], 4));
    let back: AgentProcess | undefined;
    try {
      await eventually(
        () => rt.tree().containers.find((x) => x.name === "x")!.running === 4,
        10_000,
        "4 replicas routed",
      );
      b.child.kill("SIGKILL");
      await b.stop();
      await eventually(
        () => isDeepStrictEqual(placementOf(rt), { "node-c": 4 }),
        8_000,
        "all on node-c",
      );
      // node-b returns at its address; it rejoins as capacity, running nothing.
      back = await startAgent("node-b", { listen: b.url });
      await eventually(
        () => rt.tree().peers.some((p) => p.name === "node-b" && p.state === "connected"),
        10_000,
        "node-b rejoined",
      );
      assert.deepEqual(placementOf(rt), { "node-c": 4 });
      const traffic = load(rt);
      await pause(200);
      // As `kraken rebalance x` asks it: through the management API.
      const closing = new AbortController();
      const app = managementApp(rt, TOKEN, { signal: closing.signal, heartbeat: 0 });
      const res = await app.request("/v1/containers/x/rebalance", {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: "{}",
      });
      closing.abort();
      assert.equal(res.status, 200);
      const { moves } = await res.json();
      await pause(300);
      const stats = await traffic.stop();
      assert.deepEqual(moves, [{ from: "node-c", to: "node-b" }, { from: "node-c", to: "node-b" }]);
      assert.deepEqual(placementOf(rt), { "node-b": 2, "node-c": 2 });
      assert.deepEqual(stats.failed, [], `${stats.ok} requests answered`);
      assert.deepEqual(await rt.rebalance("x"), [], "even: nothing more to move");
      await eventually(
        () => rt.tree().containers.find((x) => x.name === "x")!.running === 4,
        5_000,
        "4 replicas routed",
      );
    } finally {
      await rt.shutdown();
      await back?.stop();
    }
  });
});

Deno.test("spread with rebalance: auto: a returning agent takes half the replicas back by itself while requests keep being answered", async () => {
  await withAgents(["node-b", "node-c"], async ([b, c]) => {
    const rt = await start(topology([b, c], 4, { rebalance: "auto" }));
    let back: AgentProcess | undefined;
    try {
      await eventually(
        () => rt.tree().containers.find((x) => x.name === "x")!.running === 4,
        10_000,
        "4 replicas routed",
      );
      b.child.kill("SIGKILL");
      await b.stop();
      await eventually(
        () => isDeepStrictEqual(placementOf(rt), { "node-c": 4 }),
        8_000,
        "all on node-c",
      );
      const traffic = load(rt);
      back = await startAgent("node-b", { listen: b.url });
      await eventually(
        () =>
          isDeepStrictEqual(placementOf(rt), { "node-b": 2, "node-c": 2 }) &&
          rt.tree().containers.find((x) => x.name === "x")!.running === 4,
        15_000,
        "two replicas back on node-b",
      );
      await pause(300);
      const stats = await traffic.stop();
      assert.deepEqual(stats.failed, [], `${stats.ok} requests answered`);
    } finally {
      await rt.shutdown();
      await back?.stop();
    }
  });
});

Deno.test("rebalance of a container not placed with placement: spread is refused with a TopologyError naming placement", async () => {
  const rt = await RT.start({ containers: { w: { module: "./member.ts", mode: "inline" } } }, {
    baseUrl: `file://${FIXTURES_DIR}`,
    logLevel: "silent",
  });
  try {
    await assert.rejects(
      rt.rebalance("w"),
      (e: Error) =>
        e.name === "TopologyError" && /"w" is not placed with placement: spread/.test(e.message),
    );
  } finally {
    await rt.shutdown();
  }
});
