// The placement table on a real `nats-server -js` (distribution/_leadership_kv.ts, kvTableStore):
// rows created, compare-and-set on their revisions, listed; two leaders' writers on their own
// connections, the earlier one refused once the later one loaded.
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { kvTableStore } from "../../distribution/_leadership_kv.ts";
import { encodeRow, parseRow, PlacementTable } from "../../distribution/_placement_table.ts";
import { startLeader, tableBucket } from "../../distribution/_leader.ts";
import type { UnavailableError } from "../../mod.ts";
import { NatsServer, natsTest } from "./_nats_server.ts";

natsTest(
  "over nats-server -js: table rows are revision-checked, and a leader of an earlier term cannot overwrite the later leader's table",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "kraken_table_" });
    const server = await NatsServer.start(["-js", "--store_dir", dir]);
    const a = await connect({ servers: [server.url] });
    const b = await connect({ servers: [server.url] });
    try {
      const storeA = await kvTableStore(a, { bucket: "shop_leader_placement" });
      const storeB = await kvTableStore(b, { bucket: "shop_leader_placement" });
      const row = { term: 1, groups: [{ agent: "node-b", replicas: 2, epoch: 1 }] };
      const first = await storeA.write("x", encodeRow(row), null);
      assert.ok(first !== null);
      assert.equal(await storeA.write("x", encodeRow(row), null), null, "exists: not created");
      assert.equal(await storeA.write("x", encodeRow(row), first + 7), null, "wrong revision");
      assert.equal((await storeB.read("x"))?.revision, first);

      const stale: string[] = [];
      const old = new PlacementTable(storeA, {
        term: () => 3,
        confirm: () => Promise.resolve(false),
        stale: (why) => stale.push(why),
        log() {},
      });
      await old.load(["x"]);
      const next = new PlacementTable(storeB, {
        term: () => 8,
        confirm: () => Promise.resolve(true),
        stale() {},
        log() {},
      });
      const rows = await next.load(["x"]);
      assert.deepEqual(rows.get("x")?.groups, row.groups);
      await old.sync(new Map([["x", [{ agent: "node-c", replicas: 2, epoch: 2 }]]]));
      const stored = await storeB.read("x");
      assert.deepEqual(parseRow(stored!.value), { term: 8, groups: row.groups });
      assert.equal(stale.length, 1, "the earlier leader is told");
    } finally {
      await a.close();
      await b.close();
      await server.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

natsTest(
  "a leading root whose table write meets a forged row of a later term asks the lease, keeps leading, and overwrites the row",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "kraken_table_" });
    const server = await NatsServer.start(["-js", "--store_dir", dir]);
    const nc = await connect({ servers: [server.url] });
    const downs: UnavailableError[] = [];
    const logs: string[] = [];
    const leader = await startLeader(
      { servers: [server.url], bucket: "shop_leader", ttl: 1_000 },
      { name: "root-a" },
      { lead() {}, stepDown: (e) => downs.push(e), log: (_l, m) => logs.push(m) },
    );
    try {
      assert.ok(leader.acting());
      await leader.loadTable(["x"]);
      // Anyone who may write the bucket puts a row of a far later term (no root leads in it).
      const other = await kvTableStore(nc, { bucket: tableBucket("shop_leader") });
      const forged = { term: 2 ** 40, groups: [{ agent: "node-c", replicas: 1, epoch: 9 }] };
      await other.write("x", encodeRow(forged), null);
      const mine = [{ agent: "node-b", replicas: 1, epoch: 1 }];
      leader.syncTable(new Map([["x", mine]]));
      let term = forged.term;
      for (const end = Date.now() + 5_000; term === forged.term && Date.now() < end;) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        term = parseRow((await other.read("x"))!.value)?.term ?? 0;
      }
      assert.notEqual(term, forged.term, "the forged row overwritten within 5 s");
      assert.deepEqual(parseRow((await other.read("x"))!.value)?.groups, mine);
      assert.ok(leader.acting(), "root-a still leads");
      assert.deepEqual(downs, []);
      assert.ok(
        logs.some((l) =>
          /row "x" claims term 1099511627776, after this root's term \d+, but the lease says this root leads/
            .test(l)
        ),
      );
    } finally {
      await leader.close();
      await nc.close();
      await server.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

natsTest(
  "two roots of one deployment share a lease group (app, bucket and the id stored in the bucket); a bucket of the same name on another server is another group",
  async () => {
    const dirs = [await Deno.makeTempDir(), await Deno.makeTempDir()];
    const servers = [
      await NatsServer.start(["-js", "--store_dir", dirs[0]]),
      await NatsServer.start(["-js", "--store_dir", dirs[1]]),
    ];
    const hooks = { lead() {}, stepDown() {}, log() {} };
    const spec = (server: NatsServer) => ({
      servers: [server.url],
      bucket: "shop_leader",
      ttl: 1_000,
    });
    const leaders = [
      await startLeader(spec(servers[0]), { name: "root-a", app: "shop" }, hooks),
      await startLeader(spec(servers[0]), { name: "root-b", app: "shop" }, hooks),
      await startLeader(spec(servers[1]), { name: "evil", app: "shop" }, hooks),
    ];
    try {
      const [a, b, evil] = leaders.map((l) => l.group);
      assert.match(a, /^shop\/shop_leader\/[0-9a-f-]{36}$/);
      assert.equal(b, a, "the standby's group is the leader's");
      assert.notEqual(evil, a, "another deployment's bucket of the same name");
    } finally {
      for (const leader of leaders) await leader.close();
      for (const server of servers) await server.kill();
      for (const dir of dirs) await Deno.remove(dir, { recursive: true });
    }
  },
);
