// A root cut off by the network, not by a proxy: the leading root runs in a network namespace of
// its own behind a veth pair; nats-server -js, the agent and a standby root run outside. The
// link goes down (no socket closed, nothing refused: silence both ways). The cut-off root stops
// acting before its lease key can expire and exits 1; the standby leads and adopts the container
// on the agent; the agent never hears the two roots act at once.
//
// Needs root and `ip netns` (CI runs as root) and nats-server; elsewhere the test is ignored, and
// says why.
import assert from "node:assert/strict";
import { NATS_SERVER, NatsServer } from "../nats/_nats_server.ts";
import { VethNamespace } from "../_netns.ts";
import { type AgentProcess, eventually, pause, startAgent } from "./_agents.ts";
import { loggedAt, placedFor, rootTopology, startRoot, TTL } from "./_roots.ts";

const why = NATS_SERVER === null ? "no nats-server" : await VethNamespace.whyNot();
if (why) console.log(`standby_netns_test.ts: ignored (${why})`);

/** Whether the line of an agent's log says root `root` placed (or adopted) something there. */
const actsFor = (line: string, root: string) =>
  /(running|adopted) \S+ \(epoch \d+\) for runtime/.test(line) &&
  line.includes(`for runtime "${root}"`);

Deno.test({
  name:
    "a leading root cut off by a link down (netns) stops acting and exits 1 before its lease can expire; the standby leads and adopts the container; the agent never sees both act",
  ignore: why !== null,
  async fn() {
    const ns = await VethNamespace.create("sb", 11);
    const store = await Deno.makeTempDir({ prefix: "kraken_standby_netns_" });
    let server: NatsServer | null = null;
    let agent: AgentProcess | null = null;
    let file: string | null = null;
    const roots: ReturnType<typeof startRoot>[] = [];
    try {
      // Outside, reachable from the namespace at the host side's address.
      server = await NatsServer.start(["-js", "--store_dir", store, "-a", "0.0.0.0"]);
      agent = await startAgent("node-b", { listen: "tcp://0.0.0.0:0" });
      const agentPort = new URL(agent.url.replace(/^tcp:/, "http:")).port;
      file = await rootTopology(agent.url, server.port, { perRoot: true });
      const a = startRoot(file, "root-a", false, {
        prefix: ns.exec,
        env: {
          AGENT_URL: `tcp://${ns.hostIp}:${agentPort}`,
          NATS_URL: `nats://${ns.hostIp}:${server.port}`,
        },
      });
      roots.push(a);
      await eventually(() => placedFor(agent!, "root-a"), 20_000, "root-a placed x");
      const b = startRoot(file, "root-b", true, {
        env: { AGENT_URL: `tcp://127.0.0.1:${agentPort}`, NATS_URL: server.url },
      });
      roots.push(b);
      await eventually(() => /standing by/.test(b.text()), 20_000, "root-b stands by");

      const cut = performance.now();
      await ns.cut();
      let bound: ReturnType<typeof setTimeout> | undefined;
      const status = await Promise.race([
        a.child.status,
        new Promise<never>((_, reject) => {
          bound = setTimeout(() => reject(new Error(`root-a still runs:\n${a.text()}`)), 5_000);
        }),
      ]).finally(() => clearTimeout(bound));
      const stopped = performance.now() - cut;
      assert.equal(status.code, 1, a.text());
      assert.match(a.text(), /this root lost its lease in bucket "dist_leader"/);
      // It counts its lease from its last renewal sent: it stops within the ttl of the cut.
      assert.ok(stopped < TTL + 1_000, `root-a exited ${Math.round(stopped)} ms after the cut`);

      await eventually(() => placedFor(agent!, "root-b"), 10_000, "root-b placed x");
      const handedOver = performance.now() - cut;
      assert.ok(
        agent.log.some((l) => /adopted x \(epoch \d+\) for runtime "root-b" from "root-a"/.test(l)),
        agent.log.join("\n"),
      );
      assert.ok(!agent.log.some((l) => /stopping x/.test(l)), "x was not fenced");
      // By the machine's clock: root-a had stopped acting before root-b began to lead.
      const aStopped = loggedAt(a.text(), /stops acting as the root/);
      const bLeads = loggedAt(b.text(), /leads \(lease/);
      assert.ok(aStopped < bLeads, `root-a acted until ${aStopped}, root-b from ${bLeads}`);

      // The link back: nothing more from root-a ever reaches the agent.
      await ns.restore();
      await pause(1_500);
      const firstB = agent.log.findIndex((l) => actsFor(l, "root-b"));
      const lateA = agent.log.slice(firstB).filter((l) => actsFor(l, "root-a"));
      assert.deepEqual(lateA, [], "root-a acted on the agent after root-b");
      console.log(
        `netns cut: root-a exited ${Math.round(stopped)} ms after the cut, root-b led ${
          bLeads - aStopped
        } ms after root-a stopped acting, adopted x ${Math.round(handedOver)} ms after the cut`,
      );
    } finally {
      await Promise.all(roots.map((r) => r.stop()));
      await agent?.stop();
      await server?.kill();
      if (file) await Deno.remove(file).catch(() => {});
      await Deno.remove(store, { recursive: true }).catch(() => {});
      await ns.remove();
    }
  },
});
