// The placement table on a real `nats-server -js` (distribution/_leadership_kv.ts, kvTableStore):
// rows created, compare-and-set on their revisions, listed; two leaders' writers on their own
// connections, the earlier one refused once the later one loaded.
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { kvTableStore } from "../../distribution/_leadership_kv.ts";
import { encodeRow, parseRow, PlacementTable } from "../../distribution/_placement_table.ts";
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
