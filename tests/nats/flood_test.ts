// A client on the application's subjects (no secret here: NATS permissions are the only
// boundary) floods presence: announcements under fresh ids listing 10,000 names each with an
// absurd keepalive. The runtime keeps what its bounds allow, refuses the rest, and keeps
// answering its own requests at once; no container restarts. (How often a changing announcement
// costs a table hand-over is throttle_test.ts.)
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { Runtime } from "../../mod.ts";
import { MsgpackEncoder } from "../../protocol/msgpack.ts";
import { FIXTURES } from "../_helpers.ts";
import { NatsServer, natsTest } from "./_nats_server.ts";

const encoder = new MsgpackEncoder();

async function flooded(
  flood: (publish: (body: unknown) => Promise<void>) => Promise<void>,
): Promise<Runtime> {
  const server = await NatsServer.start();
  const rt = await Runtime.start({
    name: "shop",
    transports: { name: "a", keepalive: "500ms", nats: { servers: [server.url] } },
    containers: { front: { module: "./member.ts", mode: "worker" } },
  }, { baseUrl: FIXTURES.href, logLevel: "silent" });
  const exits: string[] = [];
  rt.on("exit", (e) => exits.push(e.instance));
  const nc = await connect({ servers: [server.url] });
  try {
    assert.equal(await rt.ref("front").request("whoami"), "front#0.1");
    // Each announcement flushed on its own: they arrive one by one, not in one batch.
    await flood(async (body) => {
      nc.publish("kraken.shop.presence", encoder.encode(body));
      await nc.flush();
    });
    const began = performance.now();
    assert.equal(await rt.ref("front").request("whoami", null, { timeout: 30_000 }), "front#0.1");
    const took = performance.now() - began;
    assert.ok(took < 5_000, `answered after ${Math.round(took)} ms`);
    assert.deepEqual(exits, [], "no container restarted");
    return rt;
  } finally {
    await nc.close();
    await rt.shutdown();
    await server.kill();
  }
}

natsTest(
  "30 announcements of 10,000 names each with a keepalive of 1e15 ms stall nothing: one is kept, the rest refused",
  async () => {
    const rt = await flooded(async (publish) => {
      for (let j = 0; j < 30; j++) {
        const c = Array.from({ length: 10_000 }, (_, k) => `g${j}x${k}`);
        await publish({ o: `ghost${j}`, n: `ghost${j}`, c, q: [], k: 1e15 });
      }
    });
    const tree = rt.tree();
    assert.deepEqual(tree.peers.map((p) => p.name), ["ghost0"]);
    assert.ok(tree.refused >= 29, `refused ${tree.refused}`);
  },
);
