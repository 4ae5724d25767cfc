// The lease's buckets on real nats-servers (distribution/_leader.ts, _leadership_kv.ts): a bucket
// that exists with another TTL than the topology's is refused (a split-brain risk), and opening
// the buckets waits for a fresh JetStream cluster to elect its meta leader, within a bound.
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { startLeader, tableBucket } from "../../distribution/_leader.ts";
import type { LeadershipSpec } from "../../config/model.ts";
import { TopologyError, UnavailableError } from "../../mod.ts";
import { freePort, NatsServer, natsTest } from "./_nats_server.ts";

const hooks = (log: string[] = []) => ({
  lead: () => log.push("leads"),
  stepDown: () => log.push("down"),
  log: (_level: string, message: string) => void log.push(message),
});

const spec = (servers: string[], ttl = 1_000): LeadershipSpec => ({
  servers,
  bucket: "shop_leader",
  ttl,
});

natsTest(
  "a lease bucket that exists with another TTL: the root refuses to lead or stand by (TopologyError naming both TTLs and the fix), and the bucket is left as it is",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "kraken_bucket_" });
    const server = await NatsServer.start(["-js", "--store_dir", dir]);
    const nc = await connect({ servers: [server.url] });
    try {
      await new Kvm(jetstream(nc)).create("shop_leader", { ttl: 3_000, history: 1 });
      await assert.rejects(
        startLeader(spec([server.url], 1_000), { name: "root-a" }, hooks()),
        (e: Error) =>
          e instanceof TopologyError && e.key === "leadership.ttl" &&
          /1000 ms, but key-value bucket "shop_leader" exists .* TTL \(max age\) of 3000 ms/.test(
            e.message,
          ) && /leadership\.ttl: 3000ms/.test(e.message) &&
          /nats kv del shop_leader/.test(e.message),
      );
      const kv = await new Kvm(jetstream(nc)).open("shop_leader");
      assert.equal((await kv.status()).ttl, 3_000, "the bucket was not changed");
      assert.equal(await kv.get("leader"), null, "no root took the lease");
      // The same TTL is the bucket's: leads.
      const log: string[] = [];
      const leader = await startLeader(spec([server.url], 3_000), { name: "root-a" }, hooks(log));
      assert.ok(leader.acting(), log.join("; "));
      await leader.close();
    } finally {
      await nc.close();
      await server.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

natsTest(
  "a placement-table bucket that exists with a TTL is refused (its rows would expire under the leader)",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "kraken_bucket_" });
    const server = await NatsServer.start(["-js", "--store_dir", dir]);
    const nc = await connect({ servers: [server.url] });
    try {
      await new Kvm(jetstream(nc)).create(tableBucket("shop_leader"), { ttl: 60_000 });
      await assert.rejects(
        startLeader(spec([server.url]), { name: "root-a" }, hooks()),
        (e: Error) =>
          e instanceof TopologyError && e.key === "leadership.bucket" &&
          /"shop_leader_placement" \(the placement table\) .* 60000 ms, expected none/.test(
            e.message,
          ),
      );
    } finally {
      await nc.close();
      await server.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

natsTest(
  "a fresh 3-node JetStream cluster still electing its meta leader: the root's first start waits for it and leads",
  async () => {
    const dirs = await Promise.all([0, 1, 2].map(() => Deno.makeTempDir({ prefix: "kraken_js_" })));
    const ports = [0, 1, 2].map(() => freePort());
    const cports = [0, 1, 2].map(() => freePort());
    const routes = cports.map((p) => `nats://127.0.0.1:${p}`).join(",");
    const node = (i: number) =>
      NatsServer.start([
        "-js",
        "--store_dir",
        dirs[i],
        "--server_name",
        `n${i}`,
        "--cluster_name",
        "kraken-fresh",
        "--cluster",
        `nats://127.0.0.1:${cports[i]}`,
        "--routes",
        routes,
      ], ports[i]);
    const nodes: NatsServer[] = [];
    try {
      // One node of three: no majority, so no meta leader, and JetStream does not answer yet.
      nodes.push(await node(0));
      const started = performance.now();
      const log: string[] = [];
      const leading = startLeader(spec([nodes[0].url]), { name: "root-a" }, hooks(log));
      leading.catch(() => {}); // (awaited below: a failure fails the test there)
      await new Promise((r) => setTimeout(r, 1_500));
      nodes.push(await node(1), await node(2));
      const leader = await leading;
      const took = performance.now() - started;
      console.log(`led ${Math.round(took)} ms after the first start (the other nodes at 1.5 s)`);
      assert.ok(leader.acting(), log.join("; "));
      assert.ok(took >= 1_500, `led before the cluster could elect: ${took} ms`);
      await leader.close();
    } finally {
      await Promise.all(nodes.map((n) => n.kill()));
      for (const dir of dirs) await Deno.remove(dir, { recursive: true });
    }
  },
);

natsTest(
  "JetStream off: the start fails once its retries run out, naming JetStream off and a cluster electing its meta leader",
  async () => {
    const server = await NatsServer.start();
    try {
      const started = performance.now();
      await assert.rejects(
        startLeader(spec([server.url]), { name: "root-a", retryFor: 600 }, hooks()),
        (e: Error) =>
          e instanceof UnavailableError &&
          /cannot use key-value bucket "shop_leader" on nats:\/\/127\.0\.0\.1:\d+, tried for 0\.6 s/
            .test(e.message) &&
          /JetStream is off \(start nats-server with -js/.test(e.message) &&
          /electing its meta leader/.test(e.message),
      );
      assert.ok(performance.now() - started >= 500, "tried again before failing");
    } finally {
      await server.kill();
    }
  },
);
