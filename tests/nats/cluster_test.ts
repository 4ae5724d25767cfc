// A 3-node NATS cluster loses the node a runtime is connected to (SIGKILL): the runtime moves to
// another node and requests with retries keep completing — none lost, none run twice.
import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import { FIXTURES, waitUntil } from "../_helpers.ts";
import { NatsServer, natsTest, RuntimeProcess } from "./_nats_server.ts";

const TOTAL = 300;

natsTest(
  "a 3-node cluster keeps serving requests with retries while the node a runtime is on is SIGKILLed",
  async () => {
    const nodes = await NatsServer.cluster(3);
    const servers = nodes.map((n) => n.url);
    let rt: Runtime | null = null;
    let b: RuntimeProcess | null = null;
    const logs: string[] = [];
    try {
      rt = await Runtime.start({
        name: "shop",
        transports: { name: "a", keepalive: "500ms", nats: { servers } },
        containers: { front: { module: "./member.ts", mode: "inline" } },
      }, { baseUrl: FIXTURES.href, logLevel: "info", logger: (e) => logs.push(e.message) });
      b = await RuntimeProcess.start({
        name: "b",
        servers,
        containers: { back: { module: "./member.ts", mode: "worker" } },
      });
      await waitUntil(
        () => rt!.tree().peers.some((p) => p.name === "b" && p.containers.includes("back")),
        5000,
        "a sees b",
      );
      // The node runtime a is connected to.
      let victim: NatsServer | undefined;
      for (const node of nodes) {
        if ((await node.clients()).includes("kraken shop a")) victim = node;
      }
      assert.ok(victim, "runtime a is connected to one of the nodes");

      // 10 requests in flight at any time, each with retries; the node dies a third of the way.
      const counts: number[] = [];
      let issued = 0;
      let killed = false;
      const worker = async () => {
        while (issued < TOTAL) {
          issued++;
          if (issued === TOTAL / 3 && !killed) {
            killed = true;
            await victim!.kill();
          }
          const n = await rt!.ref("back").request("count", undefined, {
            timeout: 1000,
            retries: 5,
          });
          counts.push(n as number);
        }
      };
      await Promise.all(Array.from({ length: 10 }, worker));
      assert.ok(killed);
      assert.equal(counts.length, TOTAL, "every request answered");
      // The counter in b ran exactly once per request: retries of a request that had run were
      // answered from the instance's stored reply.
      assert.deepEqual(
        counts.toSorted((x, y) => x - y),
        Array.from({ length: TOTAL }, (_, i) => i + 1),
      );
      assert.ok(logs.some((l) => /disconnected from NATS server/.test(l)), "a saw its node go");
      assert.ok(logs.some((l) => /reconnected to NATS server/.test(l)), "a moved to another node");
    } finally {
      await b?.stop();
      await rt?.shutdown();
      await Promise.all(nodes.map((n) => n.kill()));
    }
  },
);
