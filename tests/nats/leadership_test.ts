// The root's lease on a real `nats-server -js` (distribution/_leadership_kv.ts): two roots' lease
// logic, each on its own connection, the leader's through a proxy the test cuts.
import assert from "node:assert/strict";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Leadership } from "../../distribution/_leadership.ts";
import { kvLeaseStore } from "../../distribution/_leadership_kv.ts";
import { waitUntil } from "../_helpers.ts";
import { CuttableProxy } from "../_proxy.ts";
import { NatsServer, natsTest } from "./_nats_server.ts";

const TTL = 1_000;

natsTest(
  "over nats-server -js: a leader cut off from NATS stops acting before its key expires, and the standby then leads within ttl + 1 s",
  async () => {
    const store = await Deno.makeTempDir({ prefix: "kraken_lead_" });
    const server = await NatsServer.start(["-js", "--store_dir", store]);
    const proxy = CuttableProxy.start({ port: server.port });
    const connections: NatsConnection[] = [];
    const roots: Leadership[] = [];
    try {
      const events: string[] = [];
      const t0 = performance.now();
      const stamp = () => Math.round(performance.now() - t0);
      const open = async (name: string, port: number) => {
        const nc = await connect({
          servers: [`nats://127.0.0.1:${port}`],
          maxReconnectAttempts: -1,
          reconnectTimeWait: 100,
        });
        connections.push(nc);
        const leadership = new Leadership(
          await kvLeaseStore(nc, { bucket: "shop_leader", ttl: TTL }),
          {
            name,
            ttl: TTL,
            onLead: () => events.push(`${name} leads@${stamp()}`),
            onStepDown: (why) => events.push(`${name} down@${stamp()}: ${why}`),
          },
        );
        roots.push(leadership);
        await leadership.start();
        return leadership;
      };
      const a = await open("root-a", proxy.port);
      const b = await open("root-b", server.port);
      assert.ok(a.acting() && !b.acting());
      await new Promise((r) => setTimeout(r, 1_500)); // renewed several times
      assert.ok(a.acting() && !b.acting(), events.join("; "));
      const cutAt = stamp();
      proxy.cut();
      await waitUntil(() => b.acting(), 5_000, "root-b leads");
      assert.ok(!a.acting(), "root-a stopped acting");
      const down = events.find((e) => e.startsWith("root-a down@"));
      const lead = events.find((e) => e.startsWith("root-b leads@"))!;
      assert.ok(down, `root-a never stepped down: ${events.join("; ")}`);
      const downAt = Number(down!.split("@")[1].split(":")[0]);
      const leadAt = Number(lead.split("@")[1]);
      assert.ok(downAt < leadAt, `root-a acted until ${downAt} ms, root-b from ${leadAt} ms`);
      assert.ok(leadAt - cutAt <= TTL + 1_000, `hand-over took ${leadAt - cutAt} ms`);
      assert.ok(b.holder!.term > 0);
      // Back on NATS, root-a finds the key held and stays standby.
      proxy.restore();
      await new Promise((r) => setTimeout(r, 1_000));
      assert.ok(!a.acting() && b.acting(), events.join("; "));
    } finally {
      for (const root of roots) await root.close();
      for (const nc of connections) await nc.close().catch(() => {});
      await proxy.close();
      await server.kill();
      await Deno.remove(store, { recursive: true });
    }
  },
);

natsTest(
  "over nats-server -js: a leader that closes deletes its key and the standby leads at once",
  async () => {
    const store = await Deno.makeTempDir({ prefix: "kraken_lead_" });
    const server = await NatsServer.start(["-js", "--store_dir", store]);
    const connections: NatsConnection[] = [];
    try {
      const make = async (name: string) => {
        const nc = await connect({ servers: [server.url] });
        connections.push(nc);
        const store = await kvLeaseStore(nc, { bucket: "shop_leader", ttl: 6_000 });
        return new Leadership(store, { name, ttl: 6_000, onLead() {}, onStepDown() {} });
      };
      const a = await make("root-a");
      const b = await make("root-b");
      await a.start();
      await b.start();
      assert.ok(a.acting() && !b.acting());
      const closed = performance.now();
      await a.close();
      await waitUntil(() => b.acting(), b.interval + 1_000, "root-b leads");
      const took = performance.now() - closed;
      assert.ok(took < b.interval + 500, `took ${Math.round(took)} ms, not the 6 s expiry`);
      await b.close();
    } finally {
      for (const nc of connections) await nc.close().catch(() => {});
      await server.kill();
      await Deno.remove(store, { recursive: true });
    }
  },
);

natsTest(
  "over a 3-node JetStream cluster: the node the leader is connected to is SIGKILLed, and exactly one root leads again within 10 s, never two at once",
  async () => {
    const stores = await Promise.all(
      [0, 1, 2].map(() => Deno.makeTempDir({ prefix: "kraken_js3_" })),
    );
    const nodes = await NatsServer.cluster(3, (i) => [
      "-js",
      "--store_dir",
      stores[i],
      "--server_name",
      `n${i}`,
    ]);
    const connections: NatsConnection[] = [];
    const roots: Leadership[] = [];
    let stepDowns = 0;
    try {
      const servers = nodes.map((n) => n.url);
      const open = async (name: string, first: number) => {
        // Each root first connects to a node of its own (the list rotated), then fails over.
        const nc = await connect({
          servers: [...servers.slice(first), ...servers.slice(0, first)],
          noRandomize: true,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 100,
          pingInterval: 250,
          maxPingOut: 2,
        });
        connections.push(nc);
        // The cluster's JetStream needs a meta leader first: bounded retries while it elects one.
        let store;
        for (let tries = 0;; tries++) {
          try {
            store = await kvLeaseStore(nc, { bucket: "shop_leader", ttl: TTL, replicas: 3 });
            break;
          } catch (error) {
            if (tries > 50) throw error;
            await new Promise((r) => setTimeout(r, 200));
          }
        }
        const leadership = new Leadership(store, {
          name,
          ttl: TTL,
          onLead() {},
          onStepDown: () => stepDowns++,
        });
        roots.push(leadership);
        await leadership.start();
        return leadership;
      };
      const a = await open("root-a", 0);
      const b = await open("root-b", 1);
      await waitUntil(() => a.acting() || b.acting(), 5_000, "a root leads");
      const leader = a.acting() ? 0 : 1;
      let both = 0;
      const watch = setInterval(() => {
        if (a.acting() && b.acting()) both++;
      }, 5);
      try {
        await nodes[leader].kill();
        const killed = performance.now();
        await new Promise((r) => setTimeout(r, 500));
        await waitUntil(() => a.acting() !== b.acting(), 10_000, "exactly one root leads");
        console.log(
          `NATS node of the leader killed: a root leads ${
            Math.round(performance.now() - killed)
          } ms later (${a.acting() ? "root-a" : "root-b"}; ${stepDowns} step-down(s))`,
        );
      } finally {
        clearInterval(watch);
      }
      assert.equal(both, 0, "two roots acted at once");
    } finally {
      for (const root of roots) await root.close().catch(() => {});
      for (const nc of connections) await nc.close().catch(() => {});
      await Promise.all(nodes.map((n) => n.kill()));
      for (const store of stores) await Deno.remove(store, { recursive: true });
    }
  },
);
