// What a standby root sees of the containers it adopted, with real processes: a `nats-server -js`,
// two `kraken node` agents and two `kraken start` roots of one topology (a whole remote container
// and a `placement: spread` one over both agents). The leading root is SIGKILLed; through the new
// leader's management API, a call reaches each adopted container and its status shows it running.
import assert from "node:assert/strict";
import { NatsServer, natsTest } from "../nats/_nats_server.ts";
import { freePort } from "../_helpers.ts";
import { type AgentProcess, eventually, FIXTURES_DIR, SECRET, startAgent } from "./_agents.ts";
import { startRoot, TTL } from "./_roots.ts";

const TOKEN = "standby-adopted-token-0123456789";

async function api(port: number, path: string, body?: unknown): Promise<Response> {
  return await fetch(`http://127.0.0.1:${port}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(3_000),
  });
}

/** The container `name` as the root at `port` shows it, or `null` when unreachable. */
async function status(port: number, name: string) {
  try {
    const res = await api(port, `/v1/containers/${name}`);
    if (res.status !== 200) {
      await res.body?.cancel();
      return null;
    }
    return (await res.json()).container as {
      running: number;
      replicas: number;
      placement: { state: string; replicasOn?: Record<string, number> };
      instances: { id: string }[];
    };
  } catch {
    return null;
  }
}

const adopted = (agent: AgentProcess, name: string) =>
  agent.log.some((l) =>
    new RegExp(`adopted ${name} \\(epoch \\d+\\) for runtime "root-b"`).test(l)
  );

natsTest(
  "root SIGKILLed: through the new leader, a call reaches each container it adopted (whole and spread), and its status shows it running on every agent",
  async () => {
    const store = await Deno.makeTempDir({ prefix: "kraken_standby_adopted_" });
    const server = await NatsServer.start(["-js", "--store_dir", store]);
    const agents: AgentProcess[] = [];
    const file = `${FIXTURES_DIR}standby_adopted_${crypto.randomUUID()}.yaml`;
    const port = freePort();
    let a: ReturnType<typeof startRoot> | null = null;
    let b: ReturnType<typeof startRoot> | null = null;
    try {
      agents.push(await startAgent("node-b"), await startAgent("node-c"));
      const [nodeB, nodeC] = agents;
      await Deno.writeTextFile(
        file,
        `name: dist
transports: { name: "\${ROOT_NAME}", secret: ${SECRET}, keepalive: 1s }
hosts:
  node-b: { address: "${nodeB.url}" }
  node-c: { address: "${nodeC.url}" }
leadership: { nats: "${server.url}", bucket: dist_leader, ttl: ${TTL}ms }
management: { listen: "127.0.0.1:0", token: ${TOKEN} }
containers:
  x: { module: ./member.ts, mode: remote, host: node-b }
  s: { module: ./member.ts, mode: remote, placement: spread, replicas: 4 }
`,
      );
      a = startRoot(file, "root-a", false);
      const ran = (agent: AgentProcess, name: string) =>
        agent.log.some((l) =>
          new RegExp(`running ${name} \\(epoch \\d+\\) for runtime "root-a"`).test(l)
        );
      await eventually(
        () => ran(nodeB, "x") && ran(nodeB, "s") && ran(nodeC, "s"),
        20_000,
        "root-a placed x, and s on both agents",
      );
      b = startRoot(file, "root-b", true, { extra: ["--listen", `127.0.0.1:${port}`] });
      await eventually(() => /standing by/.test(b!.text()), 20_000, "root-b stands by");
      a.child.kill("SIGKILL");
      await eventually(
        () => adopted(nodeB, "x") && adopted(nodeB, "s") && adopted(nodeC, "s"),
        10_000,
        "root-b adopted x, and s on both agents",
      );
      // Adopted, not placed again: routes must come with the adoption, not with a later change.
      for (const name of ["x", "s"]) {
        let reply: { ok?: boolean; reply?: string } = {};
        const started = performance.now();
        await eventually(
          async () => {
            const res = await api(port, `/v1/containers/${name}/call`, {
              topic: "whoami",
              timeout: 500,
            }).catch(() => null);
            reply = await res?.json().catch(() => ({})) ?? {};
            return reply.ok === true;
          },
          5_000,
          `a call to ${name} through root-b: ${JSON.stringify(reply)}`,
        );
        console.log(
          `${name}: answered through root-b ${
            Math.round(performance.now() - started)
          } ms after its adoption (${reply.reply})`,
        );
      }
      const x = await status(port, "x");
      assert.equal(x?.placement.state, "running", JSON.stringify(x));
      assert.equal(x?.running, 1, JSON.stringify(x));
      const s = await status(port, "s");
      assert.equal(s?.placement.state, "running", JSON.stringify(s));
      assert.deepEqual(s?.placement.replicasOn, { "node-b": 2, "node-c": 2 });
      assert.equal(s?.running, 4, JSON.stringify(s));
      assert.deepEqual(
        s!.instances.map((i) => i.id.split("@")[1]).sort(),
        ["node-b", "node-b", "node-c", "node-c"],
      );
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
