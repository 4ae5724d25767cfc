// The JetStream and KV packages of nats.js v3 (`@nats-io/jetstream`, `@nats-io/kv`), imported
// beside the core client, against a real `nats-server -js`: what the distribution work builds on
// next (a KV bucket with revisions, compare-and-set and a TTL). Per-key TTLs (`markerTTL`, KV
// `create(k, v, ttl)`) need nats-server 2.11; Debian's is 2.9, so only the bucket's TTL is used.
import assert from "node:assert/strict";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { waitUntil } from "../_helpers.ts";
import { NatsServer, natsTest } from "./_nats_server.ts";

/** `fn` with a connection to a fresh `nats-server -js` (its store in a temporary folder). */
async function withJetStream(fn: (nc: NatsConnection) => Promise<void>): Promise<void> {
  const store = await Deno.makeTempDir({ prefix: "kraken_js_" });
  const server = await NatsServer.start(["-js", "--store_dir", store]);
  let nc: NatsConnection | null = null;
  try {
    nc = await connect({ servers: [server.url] });
    await fn(nc);
  } finally {
    await nc?.drain().catch(() => {});
    await server.kill();
    await Deno.remove(store, { recursive: true });
  }
}

const text = (value: string) => new TextEncoder().encode(value);

natsTest(
  "KV over nats.js v3: every write has a revision, update() is compare-and-set on it, create() refuses an existing key",
  async () => {
    await withJetStream(async (nc) => {
      const kv = await new Kvm(nc).create("placement", { history: 5 });
      const first = await kv.create("orders", text("node-a"));
      await assert.rejects(kv.create("orders", text("node-b")), /wrong last sequence/);
      const second = await kv.update("orders", text("node-b"), first);
      assert.ok(second > first, `revision ${second} after ${first}`);
      // A writer that read the first revision loses: its update names a stale revision.
      await assert.rejects(kv.update("orders", text("node-c"), first), /wrong last sequence/);
      const entry = await kv.get("orders");
      assert.equal(entry?.string(), "node-b");
      assert.equal(entry?.revision, second);
      assert.equal((await kv.get("orders", { revision: first }))?.string(), "node-a");
      const history: string[] = [];
      for await (const e of await kv.history({ key: "orders" })) history.push(e.string());
      assert.deepEqual(history, ["node-a", "node-b"]);
    });
  },
);

natsTest(
  "KV over nats.js v3: a watcher sees each change with its revision; a bucket's TTL expires its keys",
  async () => {
    await withJetStream(async (nc) => {
      const kv = await new Kvm(nc).create("leases", { ttl: 1_000 });
      const seen: string[] = [];
      const watcher = await kv.watch({ key: "leases.>" });
      const watching = (async () => {
        for await (const e of watcher) seen.push(`${e.key}=${e.string()}@${e.revision}`);
      })();
      try {
        const r1 = await kv.put("leases.orders", text("node-a"));
        const r2 = await kv.put("leases.orders", text("node-b"));
        await waitUntil(() => seen.length === 2, 3_000, "two changes watched");
        assert.deepEqual(seen, [`leases.orders=node-a@${r1}`, `leases.orders=node-b@${r2}`]);
      } finally {
        watcher.stop();
        await watching;
      }
      assert.equal((await kv.get("leases.orders"))?.string(), "node-b");
      // Expired: gone within the TTL and the server's expiry sweep (bounded here at 5 s).
      const end = performance.now() + 5_000;
      while ((await kv.get("leases.orders")) !== null) {
        assert.ok(performance.now() < end, "leases.orders did not expire within 5 s");
        await new Promise((r) => setTimeout(r, 100));
      }
      // The bucket is a JetStream stream whose max age is the TTL (nanoseconds).
      const info = await (await jetstreamManager(nc)).streams.info("KV_leases");
      assert.equal(info.config.max_age, 1_000 * 1_000_000);
    });
  },
);

natsTest(
  "JetStream over nats.js v3: a message published to a stream is acknowledged with its sequence and read back by a consumer",
  async () => {
    await withJetStream(async (nc) => {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: "EVENTS", subjects: ["events.>"] });
      const js = jetstream(nc);
      const ack = await js.publish("events.placed", text("orders on node-a"));
      assert.equal(ack.stream, "EVENTS");
      assert.equal(ack.seq, 1);
      const consumer = await js.consumers.get("EVENTS");
      const msg = await consumer.next({ expires: 2_000 });
      assert.equal(msg?.subject, "events.placed");
      assert.equal(msg?.string(), "orders on node-a");
      assert.equal(msg?.seq, 1);
    });
  },
);
