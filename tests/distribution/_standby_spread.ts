// The hand-over of a standby root with `placement: spread`, for standby_spread_test.ts and
// bench/distribution.ts: a `nats-server -js`, two `kraken node` agents, two `kraken start` roots
// of one topology (`leadership:`, ttl 1 s). Agent node-b links late, so the spread container x has
// 1 replica there and 3 on node-c (max_per_host 3), where the policy alone would give 2 and 2; its
// caller y runs on node-c and sends x retried requests. The leading root is SIGKILLed; what the
// agents, the caller and the standby's management API show is measured.
import { NatsServer } from "../nats/_nats_server.ts";
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

/** What one hand-over showed. */
export interface SpreadHandOver {
  /** SIGKILL → a remote container spawned through the standby's API was placed, ms (∞: not in 10 s). */
  placing: number;
  /** Whether the standby refused to place while the other root led. */
  refusedWhileStandby: boolean;
  /** Whether each agent adopted its group of x, and node-c adopted y, for root-b, within 10 s. */
  adopted: boolean;
  /** Calls y → x through the hand-over (until 200 more than before the kill), and how many failed. */
  calls: number;
  failed: number;
  errors: string[];
  /** The caller's longest gap between two replies, ms. */
  longestGap: number;
  /** Agents that stopped (fenced or replaced) x or y. */
  fenced: string[];
  /** x's and y's processes before the kill that were gone after it. */
  replaced: number[];
  /** Processes per agent before the kill. */
  before: { b: number; c: number };
  /** The standby's log. */
  standbyLog: string;
}

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

/** Asks the root whose management API is at `port` to spawn remote container `name`. */
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

/** Runs the scenario once; every process and file is gone when it settles. */
export async function spreadHandOver(): Promise<SpreadHandOver> {
  const store = await Deno.makeTempDir({ prefix: "kraken_standby_spread_" });
  const server = await NatsServer.start(["-js", "--store_dir", store]);
  const agents: AgentProcess[] = [];
  const ports = { b: freePort(), c: freePort(), nats: server.port };
  const file = await writeTopology(ports);
  const api = freePort();
  let a: ReturnType<typeof startRoot> | null = null;
  let b: ReturnType<typeof startRoot> | null = null;
  try {
    const c = await startAgent("node-c", { listen: `tcp://127.0.0.1:${ports.c}` });
    agents.push(c);
    a = startRoot(file, "root-a", false);
    // Only node-c is up: x gets its 3 there (max_per_host), y goes there too.
    const on = (agent: AgentProcess, name: string) =>
      logged(agent, new RegExp(`running ${name} \\(epoch \\d+\\) for runtime "root-a"`));
    await eventually(() => on(c, "x") && on(c, "y"), 20_000, "x and y on node-c");
    const nodeB = await startAgent("node-b", { listen: `tcp://127.0.0.1:${ports.b}` });
    agents.push(nodeB);
    // node-b links (root-a redials it): the 4th replica goes there; nothing moves back.
    await eventually(() => on(nodeB, "x"), 20_000, "x's 4th replica on node-b");
    await eventually(() => (callerStats(c)?.ok ?? 0) > 50, 30_000, "y calls x");
    b = startRoot(file, "root-b", true, { extra: ["--listen", `127.0.0.1:${api}`] });
    await eventually(() => /standing by/.test(b!.text()), 20_000, "root-b stands by");
    const refusedWhileStandby = !(await spawnOn(api, "early"));
    await pause(300); // root-a's table write of its last change has settled
    const pids = { b: childrenOf(nodeB.pid), c: childrenOf(c.pid) };
    const before = callerStats(c)!;

    const killed = performance.now();
    a.child.kill("SIGKILL");
    // The standby places again: a new remote container spawned through its API.
    let placing = Infinity;
    while (performance.now() - killed < 10_000) {
      if (await spawnOn(api, "z")) {
        placing = performance.now() - killed;
        break;
      }
      await pause(50);
    }
    const adopted = (agent: AgentProcess, name: string) =>
      logged(
        agent,
        new RegExp(`adopted ${name} \\(epoch \\d+\\) for runtime "root-b" from "root-a"`),
      );
    const all = () => adopted(nodeB, "x") && adopted(c, "x") && adopted(c, "y");
    await eventually(all, 10_000, "root-b adopted x on both agents, and y").catch(() => {});
    await eventually(() => callerStats(c)!.ok > before.ok + 200, 10_000, "y still calls x")
      .catch(() => {});
    const after = callerStats(c)!;
    const now = [...childrenOf(nodeB.pid), ...childrenOf(c.pid)];
    return {
      placing,
      refusedWhileStandby,
      adopted: all(),
      calls: after.ok - before.ok,
      failed: after.failed - before.failed,
      errors: after.errors,
      longestGap: after.longestGap,
      fenced: agents.filter((agent) => logged(agent, /stopping [xy]/)).map((agent) => agent.name),
      replaced: [...pids.b, ...pids.c].filter((pid) => !now.includes(pid)),
      before: { b: pids.b.length, c: pids.c.length },
      standbyLog: b.text(),
    };
  } finally {
    await a?.stop();
    await b?.stop();
    await Promise.all(agents.map((agent) => agent.stop()));
    await Deno.remove(file).catch(() => {});
    await server.kill();
    await Deno.remove(store, { recursive: true });
  }
}
