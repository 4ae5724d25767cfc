// `placement: spread` with one agent cut off rather than killed: it runs in its own network
// namespace behind a veth pair whose link goes down (silence, no closed socket). Under retried
// load nothing is lost, the survivor's group serves meanwhile (the cut link is suspect within
// ~150 ms), the cut-off group is re-placed on the survivor; when the link is back the cut-off
// agent has stopped its own replicas, rejoins, and takes half of them back by rebalance without
// losing a request.
//
// Needs root and `ip netns` (CI runs as root); elsewhere the test is skipped, and says so.
import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import { VethNamespace } from "../_netns.ts";
import {
  alive,
  childrenOf,
  eventually,
  FIXTURES_DIR,
  pause,
  SECRET,
  startAgent,
} from "./_agents.ts";

const RETRY_TIMEOUT = 1_000;
const KEEPALIVE = 1_000;
/** The longest gap between replies allowed, ms: well within one retry timeout (see below). */
const CUT_GAP = 450;

const why = await VethNamespace.whyNot();
if (why) console.log(`spread_netns_test.ts: skipping (${why})`);

Deno.test({
  name:
    "spread: an agent cut off by a link down (netns) under retried load loses no request, its replicas are re-placed on the survivor, and on its return it takes half back by rebalance",
  ignore: why !== null,
  async fn() {
    const agents: Awaited<ReturnType<typeof startAgent>>[] = [];
    let rt: Runtime | null = null;
    const ns = await VethNamespace.create("sp", 9);
    try {
      const cut = await startAgent("node-a", {
        listen: `tcp://${ns.nsIp}:0`,
        prefix: ns.exec,
        keepalive: KEEPALIVE,
      });
      agents.push(cut);
      const other = await startAgent("node-z", { keepalive: KEEPALIVE });
      agents.push(other);
      rt = await Runtime.start({
        name: "dist",
        transports: { name: "root", secret: SECRET, keepalive: "1s" },
        hosts: { "node-a": { address: cut.url }, "node-z": { address: other.url } },
        containers: {
          x: { module: "./member.ts", mode: "remote", placement: "spread", replicas: 4 },
        },
      }, { baseUrl: `file://${FIXTURES_DIR}`, logLevel: "silent" });
      const runtime = rt;
      const x = () => runtime.tree().containers.find((c) => c.name === "x")!;
      await eventually(() => x().running === 4, 10_000, "4 replicas routed");
      assert.deepEqual(x().placement?.replicasOn, { "node-a": 2, "node-z": 2 });
      const stale = childrenOf(cut.pid);
      assert.equal(stale.length, 2, "node-a runs two replica processes");

      let running = true;
      let last = performance.now();
      let gap = 0;
      const end = performance.now() + 120_000; // should a failure skip `running = false`
      const stats = { ok: 0, failed: [] as string[] };
      const loops = Array.from({ length: 4 }, async () => {
        while (running && performance.now() < end) {
          try {
            await runtime.ref("x").request("pid", undefined, {
              timeout: RETRY_TIMEOUT,
              retries: 3,
            });
            const now = performance.now();
            gap = Math.max(gap, now - last);
            last = now;
            stats.ok++;
          } catch (error) {
            stats.failed.push((error as Error).message);
          }
          await pause(2);
        }
      });
      await pause(300);
      gap = 0;
      last = performance.now();
      await ns.cut();
      await eventually(
        () =>
          JSON.stringify(x().placement?.replicasOn) === JSON.stringify({ "node-z": 4 }) &&
          x().running === 4,
        8_000,
        "node-a's replicas re-placed on node-z",
      );
      // The cut-off agent stopped its own replicas when it lost the root (its lease), before
      // the link is back: never two reachable copies of its group.
      await eventually(() => stale.every((pid) => !alive(pid)), 4_000, "node-a's replicas stopped");
      await ns.restore();
      await eventually(
        () => runtime.tree().peers.some((p) => p.name === "node-a" && p.state === "connected"),
        12_000,
        "node-a rejoined",
      );
      assert.deepEqual(x().placement?.replicasOn, { "node-z": 4 }, "nothing moves by itself");
      const moves = await runtime.rebalance("x");
      await pause(300);
      running = false;
      await Promise.all(loops);
      assert.deepEqual(stats.failed, [], `${stats.ok} requests answered`);
      // Cut off, its link is suspect long before the keepalive judges it lost (a ping
      // unanswered for 100 ms): requests go to node-z at once, those waiting on node-a with them.
      assert.ok(
        gap <= CUT_GAP,
        `longest gap between replies ${Math.round(gap)} ms (bound ${CUT_GAP} ms)`,
      );
      console.log(`  cut off: ${stats.ok} replies, longest gap ${Math.round(gap)} ms`);
      assert.equal(moves.length, 2);
      assert.deepEqual(x().placement?.replicasOn, { "node-a": 2, "node-z": 2 });
      await eventually(() => x().running === 4, 5_000, "4 replicas routed again");
    } finally {
      await rt?.shutdown();
      await Promise.all(agents.map((a) => a.stop()));
      await ns.remove();
    }
  },
});
