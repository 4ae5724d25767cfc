// The placement table on a real `nats-server -js` (distribution/_leadership_kv.ts, kvTableStore):
// rows created, compare-and-set on their revisions, listed; two leaders' writers on their own
// connections, the earlier one refused once the later one loaded.
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { kvTableStore } from "../../distribution/_leadership_kv.ts";
import { encodeRow, parseRow, PlacementTable } from "../../distribution/_placement_table.ts";
import { startLeader, tableBucket } from "../../distribution/_leader.ts";
import type { UnavailableError } from "../../mod.ts";
import { waitUntil } from "../_helpers.ts";
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
      assert.deepEqual([...(await storeB.list()).keys()], ["x"]);

      const stale: string[] = [];
      const old = new PlacementTable(storeA, {
        term: () => 3,
        stale: (why) => stale.push(why),
        log() {},
      });
      await old.load();
      const next = new PlacementTable(storeB, { term: () => 8, stale() {}, log() {} });
      const rows = await next.load();
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
  "a leading root whose table write meets a row of a later term stops acting at once (UnavailableError naming the row and terms)",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "kraken_table_" });
    const server = await NatsServer.start(["-js", "--store_dir", dir]);
    const nc = await connect({ servers: [server.url] });
    const downs: UnavailableError[] = [];
    const leader = await startLeader(
      { servers: [server.url], bucket: "shop_leader", ttl: 1_000 },
      { name: "root-a" },
      { lead() {}, stepDown: (e) => downs.push(e), log() {} },
    );
    try {
      assert.ok(leader.acting());
      await leader.loadTable();
      // Another root, in a later term, wrote x's row (as if root-a were cut off and replaced).
      const other = await kvTableStore(nc, { bucket: tableBucket("shop_leader") });
      const row = { term: 2 ** 40, groups: [{ agent: "node-c", replicas: 1, epoch: 9 }] };
      await other.write("x", encodeRow(row), null);
      leader.syncTable(new Map([["x", [{ agent: "node-b", replicas: 1, epoch: 1 }]]]));
      await waitUntil(() => downs.length > 0, 5_000, "root-a stepped down");
      assert.ok(!leader.acting());
      assert.match(
        downs[0].message,
        /this root lost its lease in bucket "shop_leader": the placement table's row "x" was written in term 1099511627776, after this root's term \d+/,
      );
      assert.deepEqual(parseRow((await other.read("x"))!.value), row, "not overwritten");
    } finally {
      await leader.close();
      await nc.close();
      await server.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
