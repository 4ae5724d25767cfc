// Cross-agent calls through a root hand-over, with real processes: a `nats-server -js`, three
// `kraken node` agents and two `kraken start` roots of one topology (`leadership:`, ttl 1 s). The
// spread container x runs on node-b and node-c; its caller y runs on node-d, so every call goes
// node-d → root → node-b or node-c. The leading root is SIGKILLed: y's calls wait (held) until the
// standby leads, adopts and relays x's routes to node-d, and its retries cover the wait.
import assert from "node:assert/strict";
import { natsTest } from "../nats/_nats_server.ts";
import { NatsServer } from "../nats/_nats_server.ts";
import { freePort } from "../_helpers.ts";
import { type AgentProcess, eventually, FIXTURES_DIR, SECRET, startAgent } from "./_agents.ts";
import { callerStats, startRoot, TTL } from "./_roots.ts";

async function writeTopology(agents: AgentProcess[], nats: number): Promise<string> {
  const file = `${FIXTURES_DIR}standby_cross_${crypto.randomUUID()}.yaml`;
  const hosts = agents.map((a) => `  ${a.name}: { address: "${a.url}" }`).join("\n");
  await Deno.writeTextFile(
    file,
    `name: dist
transports: { name: "\${ROOT_NAME}", secret: ${SECRET}, keepalive: 1s }
hosts:
${hosts}
leadership: { nats: "nats://127.0.0.1:${nats}", bucket: dist_leader, ttl: ${TTL}ms }
containers:
  x: { module: ./member.ts, mode: remote, placement: spread, replicas: 4, hosts: [node-b, node-c] }
  y: { module: ./caller.ts, mode: remote, host: node-d, config: { to: x } }
`,
  );
  return file;
}

natsTest(
  "a caller on an agent without a group keeps reaching a spread container on two other agents through a root hand-over: its retried calls wait for the standby, none lost",
  async () => {
    const store = await Deno.makeTempDir({ prefix: "kraken_standby_cross_" });
    const server = await NatsServer.start(["-js", "--store_dir", store]);
    const agents: AgentProcess[] = [];
    let file = "";
    let a: ReturnType<typeof startRoot> | null = null;
    let b: ReturnType<typeof startRoot> | null = null;
    try {
      for (const name of ["node-b", "node-c", "node-d"]) {
        agents.push(await startAgent(name, { listen: `tcp://127.0.0.1:${freePort()}` }));
      }
      const d = agents[2];
      file = await writeTopology(agents, server.port);
      a = startRoot(file, "root-a", false);
      await eventually(() => (callerStats(d)?.ok ?? 0) > 50, 30_000, "y on node-d calls x");
      b = startRoot(file, "root-b", true);
      await eventually(() => /standing by/.test(b!.text()), 20_000, "root-b stands by");
      const before = callerStats(d)!;
      assert.equal(before.failed, 0, before.errors.join("; "));
      a.child.kill("SIGKILL");
      await eventually(
        () => callerStats(d)!.ok > before.ok + 200,
        15_000,
        "y calls x again, through root-b",
      ).catch(() => {});
      const after = callerStats(d)!;
      console.log(
        `  root-a SIGKILLed: ${
          after.ok - before.ok
        } calls node-d → x through the hand-over, ${after.failed} failed, longest gap ${after.longestGap} ms`,
      );
      assert.equal(after.failed, 0, after.errors.join("; "));
      assert.ok(after.ok - before.ok >= 200, `only ${after.ok - before.ok} calls after the kill`);
    } finally {
      await a?.stop();
      await b?.stop();
      await Promise.all(agents.map((agent) => agent.stop()));
      if (file) await Deno.remove(file).catch(() => {});
      await server.kill();
      await Deno.remove(store, { recursive: true });
    }
  },
);
