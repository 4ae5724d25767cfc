// A standby root and `placement: spread` together, with real processes: a `nats-server -js`, two
// `kraken start` roots of one topology (`leadership:`), two `kraken node` agents. The spread
// container's replicas run where history put them (agent node-b joined late: 1 replica there, 3
// on node-c, where the policy alone would give 2 and 2), with a caller on node-c sending it
// retried requests. The leading root is SIGKILLed: the standby reads the placement table and
// places every group where it runs, so each agent adopts it in place — same processes, nothing
// fenced, no request lost — and then places what it is asked to.
import assert from "node:assert/strict";
import { NatsServer, natsTest } from "../nats/_nats_server.ts";
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
import { callerStats, startRoot, TTL } from "./_roots.ts";

const TOKEN = "standby-spread-token-0123456789";

async function writeTopology(ports: { b: number; c: number; nats: number }): Promise<string> {
  const file = `${FIXTURES_DIR}standby_spread_${crypto.randomUUID()}.yaml`;
  await Deno.writeTextFile(
    file,
    `name: dist
transports: { name: "\${ROOT_NAME}", secret: ${SECRET}, keepalive: 1s }
hosts:
  node-b: { address: "tcp://127.0.0.1:${ports.b}" }
  node-c: { address: "tcp://127.0.0.1:${ports.c}" }
leadership: { nats: "nats://127.0.0.1:${ports.nats}", bucket: dist_leader, ttl: ${TTL}ms }
management: { listen: "127.0.0.1:0", token: ${TOKEN} }
containers:
  x: { module: ./member.ts, mode: remote, placement: spread, replicas: 4, max_per_host: 3 }
  y: { module: ./caller.ts, mode: remote, config: { to: x } }
`,
  );
  return file;
}

/** Asks root's management API at `port` to spawn remote container `name`; whether it did. */
async function spawnOn(port: number, name: string): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/v1/containers`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ name, spec: { module: "./member.ts", mode: "remote" } }),
      signal: AbortSignal.timeout(2_000),
    });
    await res.body?.cancel();
    return res.status === 201;
  } catch {
    return false;
  }
}

const logged = (agent: AgentProcess, what: RegExp) => agent.log.some((l) => what.test(l));

natsTest(
  "spread replicas and a standby root: the leading root SIGKILLed under retried load — every group adopted in place on its agent (same processes), 0 requests lost, the standby placing again within 3 s",
  async () => {
    const store = await Deno.makeTempDir({ prefix: "kraken_standby_spread_" });
    const server = await NatsServer.start(["-js", "--store_dir", store]);
    const agents: AgentProcess[] = [];
    const ports = { b: freePort(), c: freePort(), nats: server.port };
    const file = await writeTopology(ports);
    const apiB = freePort();
    let a: ReturnType<typeof startRoot> | null = null;
    let b: ReturnType<typeof startRoot> | null = null;
    try {
      const c = await startAgent("node-c", { listen: `tcp://127.0.0.1:${ports.c}` });
      agents.push(c);
      a = startRoot(file, "root-a", false);
      // Only node-c is up: x gets its 3 there (max_per_host), y goes there too.
      await eventually(
        () => logged(c, /running x \(epoch \d+\) for runtime "root-a"/),
        20_000,
        "x on c",
      );
      await eventually(
        () => logged(c, /running y \(epoch \d+\) for runtime "root-a"/),
        20_000,
        "y on c",
      );
      const nodeB = await startAgent("node-b", { listen: `tcp://127.0.0.1:${ports.b}` });
      agents.push(nodeB);
      // node-b links (root-a redials it): the 4th replica goes there; nothing moves back.
      await eventually(
        () => logged(nodeB, /running x \(epoch \d+\) for runtime "root-a"/),
        20_000,
        "x's 4th replica on b",
      );
      await eventually(() => (callerStats(c)?.ok ?? 0) > 50, 30_000, "y calls x");
      b = startRoot(file, "root-b", true, ["--listen", `127.0.0.1:${apiB}`]);
      await eventually(() => /standing by/.test(b!.text()), 20_000, "root-b stands by");
      // Placing is refused while root-a leads (the API answers: root-b is up).
      assert.equal(await spawnOn(apiB, "early"), false);
      await pause(300); // a table write of root-a's last change has settled
      const pids = { b: childrenOf(nodeB.pid).sort(), c: childrenOf(c.pid).sort() };
      assert.equal(pids.b.length, 1, `node-b runs one replica of x: ${pids.b}`);
      assert.equal(pids.c.length, 4, `node-c runs 3 replicas of x and y: ${pids.c}`);
      const before = callerStats(c)!;

      const killed = performance.now();
      a.child.kill("SIGKILL");
      // The standby places again: a new remote container spawned through its API.
      let placing = Infinity;
      while (performance.now() - killed < 10_000) {
        if (await spawnOn(apiB, "z")) {
          placing = performance.now() - killed;
          break;
        }
        await pause(50);
      }
      await eventually(
        () =>
          logged(nodeB, /adopted x \(epoch \d+\) for runtime "root-b" from "root-a"/) &&
          logged(c, /adopted x \(epoch \d+\) for runtime "root-b" from "root-a"/) &&
          logged(c, /adopted y \(epoch \d+\) for runtime "root-b" from "root-a"/),
        10_000,
        "root-b adopted x on both agents, and y",
      );
      await eventually(() => callerStats(c)!.ok > before.ok + 200, 10_000, "y still calls x");
      const after = callerStats(c)!;
      console.log(
        `spread + standby: root-a SIGKILLed → root-b placing again (spawn answered) after ${
          Math.round(placing)
        } ms; ${after.ok - before.ok} calls y -> x through the hand-over, ${
          after.failed - before.failed
        } failed, longest gap between replies ${after.longestGap} ms`,
      );
      assert.ok(placing <= 3_000, `root-b placed z ${Math.round(placing)} ms after the kill`);
      assert.equal(after.failed, before.failed, after.errors.join("; "));
      for (const agent of agents) {
        assert.ok(
          !logged(agent, /stopping [xy]/),
          `${agent.name} fenced:\n${agent.log.join("\n")}`,
        );
      }
      // The same processes: z may have added one, none was replaced.
      const now = { b: childrenOf(nodeB.pid), c: childrenOf(c.pid) };
      for (const side of ["b", "c"] as const) {
        for (const pid of pids[side]) assert.ok(now[side].includes(pid), `node-${side} pid ${pid}`);
      }
      assert.match(b.text(), /x runs on "node-b", "node-c" \(placement table, term \d+\)/);
    } finally {
      await a?.stop();
      await b?.stop();
      await Promise.all(agents.map((agent) => agent.stop()));
      await Deno.remove(file).catch(() => {});
      await server.kill();
      await Deno.remove(store, { recursive: true });
    }
  },
);
