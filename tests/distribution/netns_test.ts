// A host cut off rather than killed: a host agent in its own network namespace behind a veth
// pair. Taking the link down silences it without closing a socket; its container serves again on
// another agent within 3 s, requests with retries issued meanwhile complete, and when the link
// comes back the cut-off agent has fenced its own copy and rejoins as capacity.
//
// Needs root and `ip netns` (CI runs as root); elsewhere the test is skipped, and says so.
import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import { alive, eventually, FIXTURES_DIR, pause, SECRET, startAgent } from "./_agents.ts";
import { VethNamespace } from "../_netns.ts";

const why = await VethNamespace.whyNot();
if (why) console.log(`netns_test.ts: skipping the network-namespace cases (${why})`);

Deno.test({
  name:
    "a host agent cut off by a link down (netns): its container moves within 3 s, requests complete, the agent fences its copy and rejoins",
  ignore: why !== null,
  async fn() {
    const agents: Awaited<ReturnType<typeof startAgent>>[] = [];
    let rt: Runtime | null = null;
    const ns = await VethNamespace.create("ns", 7);
    try {
      // "node-a" sorts first: with both agents idle, spread places x on it (behind the veth).
      const cut = await startAgent("node-a", {
        listen: `tcp://${ns.nsIp}:0`,
        prefix: ns.exec,
      });
      agents.push(cut);
      const other = await startAgent("node-z");
      agents.push(other);
      rt = await Runtime.start({
        name: "dist",
        transports: { name: "root", secret: SECRET, keepalive: "1s" },
        hosts: { "node-a": { address: cut.url }, "node-z": { address: other.url } },
        containers: { x: { module: "./member.ts", mode: "remote" } },
      }, { baseUrl: `file://${FIXTURES_DIR}`, logLevel: "silent" });
      const runtime = rt;
      const x = () => runtime.tree().containers.find((c) => c.name === "x")!;
      assert.equal(x().host, "node-a");
      const stalePid = await rt.ref("x").request("pid") as number;

      let running = true;
      const end = performance.now() + 120_000; // should a failure skip `running = false`
      const stats = { ok: 0, failed: [] as string[] };
      const loops = Array.from({ length: 4 }, async () => {
        while (running && performance.now() < end) {
          try {
            await runtime.ref("x").request("pid", undefined, { timeout: 2_000, retries: 3 });
            stats.ok++;
          } catch (error) {
            stats.failed.push((error as Error).message);
          }
          await pause(5);
        }
      });
      await pause(200);
      const cutAt = performance.now();
      await ns.cut();
      await eventually(() => x().host === "node-z" && x().running === 1, 3_000, "x moved");
      const moved = performance.now() - cutAt;
      await pause(300);
      running = false;
      await Promise.all(loops);
      assert.deepEqual(stats.failed, [], `${stats.ok} succeeded`);
      assert.ok(moved < 3_000, `moved after ${Math.round(moved)} ms`);

      // The cut-off agent stopped its own copy when it lost the root (its lease), before the link
      // is back: there never were two reachable copies.
      await eventually(() => !alive(stalePid), 4_000, "the cut-off copy stopped itself");
      await ns.restore();
      await eventually(
        () => runtime.tree().peers.some((p) => p.name === "node-a" && p.state === "connected"),
        12_000,
        "node-a rejoined",
      );
      assert.equal(x().host, "node-z", "x stays where it moved");
      await rt.spawn("y", { module: "./member.ts", mode: "remote" });
      assert.equal(
        runtime.tree().containers.find((c) => c.name === "y")!.host,
        "node-a",
        "the returning agent is capacity again",
      );
    } finally {
      await rt?.shutdown();
      await Promise.all(agents.map((a) => a.stop()));
      await ns.remove();
    }
  },
});
