// What a child isolate can make its parent hold is bounded, and goes when it does: its topics,
// the names it claims, the routing tables it reports and how often they are handed on. And an
// instance id names one instance: no later listing moves it to another node.
import assert from "node:assert/strict";
import type { Envelope, RouteTable } from "../../protocol/envelope.ts";
import { MAX_NODE_TOPICS, Topics } from "../../runtime/_topics.ts";
import { ChildReports, MAX_CLAIMS, NameClaims } from "../../runtime/_claims.ts";
import {
  MAX_ROUTE_ENTRIES,
  MAX_ROUTE_INSTANCES,
  mergeRoutes,
  sanitizeRoutes,
} from "../../protocol/routes.ts";
import { RoutePace } from "../../runtime/_route_pace.ts";
import { RouteBook } from "../../runtime/_route_book.ts";

function hubTopics(refusals: string[] = []): Topics {
  return new Topics({
    id: "host",
    isHub: true,
    links: new Map(),
    upstream: () => null,
    refuse: (from) => refusals.push(from),
  });
}

Deno.test("a topic leaves the hub's table when its last subscriber node unsubscribes or is dropped", () => {
  const topics = hubTopics();
  topics.note({ k: "sub", t: "a" }, "w1");
  topics.note({ k: "sub", t: "a" }, "w2");
  topics.note({ k: "sub", t: "b" }, "w1");
  assert.equal(topics.nodeTopics, 2);
  topics.note({ k: "unsub", t: "a" }, "w1");
  assert.equal(topics.nodeTopics, 2, "w2 still wants a");
  topics.note({ k: "unsub", t: "a" }, "w2");
  assert.equal(topics.nodeTopics, 1);
  topics.dropNode("w1");
  assert.equal(topics.nodeTopics, 0);
  assert.equal(topics.wants("b"), false);
});

Deno.test("a node may hold at most 10,000 topics at the hub; a sub past that is refused, others' are not", () => {
  const refusals: string[] = [];
  const topics = hubTopics(refusals);
  for (let i = 0; i < MAX_NODE_TOPICS + 5; i++) topics.note({ k: "sub", t: `t${i}` }, "p1");
  assert.equal(topics.nodeTopics, MAX_NODE_TOPICS);
  assert.deepEqual(refusals, ["p1", "p1", "p1", "p1", "p1"]);
  topics.note({ k: "sub", t: "t0" }, "p1"); // one it has: no new topic
  topics.note({ k: "sub", t: "other" }, "w2");
  assert.equal(refusals.length, 5);
  assert.equal(topics.wants("other"), true);
  // Its topic names are bounded in length too.
  topics.note({ k: "sub", t: "x".repeat(2_000_000) }, "w3");
  assert.deepEqual(refusals.at(-1), "w3");
});

Deno.test("a middle node unsubscribes upstream for what a dropped node below it wanted", () => {
  const sent: Envelope[] = [];
  const topics = new Topics({
    id: "p1",
    isHub: false,
    links: new Map(),
    upstream: () => ({ send: (env: Envelope) => sent.push(env) }) as never,
    refuse: () => {},
  });
  topics.note({ k: "sub", t: "news" }, "p1/w1");
  topics.dropNode("p1/w1");
  assert.deepEqual(sent, [{ k: "sub", t: "news" }, { k: "unsub", t: "news" }]);
});

Deno.test("a reported routing table keeps at most 10,000 entries and 10,000 instances", () => {
  const many: Record<string, unknown> = {};
  for (let i = 0; i < MAX_ROUTE_ENTRIES + 3; i++) {
    many[`c${i}`] = { balance: "round_robin", instances: [{ i: `c${i}#0.1`, n: "p1" }] };
  }
  const all = { node: "p1", may: () => true };
  const cut = sanitizeRoutes(many, all);
  assert.equal(Object.keys(cut.routes).length, MAX_ROUTE_ENTRIES);
  assert.match(cut.refused[0], /3 entries past the 10000/);
  const wide = {
    a: {
      balance: "round_robin",
      instances: Array.from(
        { length: MAX_ROUTE_INSTANCES },
        (_, k) => ({ i: `a#${k}.1`, n: "p1" }),
      ),
      x: [{ i: "a#0.0", n: "p1" }],
    },
    b: { balance: "round_robin", instances: [{ i: "b#0.1", n: "p1" }] },
  };
  const capped = sanitizeRoutes(wide, all);
  assert.equal(capped.routes.a.instances.length, MAX_ROUTE_INSTANCES);
  assert.equal(capped.routes.a.x, undefined);
  assert.deepEqual(capped.routes.b.instances, []);
  assert.match(capped.refused[0], /2 instances past the 10000/);
});

Deno.test("a reported routing table keeps only container names (not constructor, not 300 characters)", () => {
  const entry = (i: string) => ({ balance: "round_robin", instances: [{ i, n: "p1" }] });
  const long = "a".repeat(300);
  const { routes, refused } = sanitizeRoutes({
    constructor: entry("constructor#0.1"),
    toString: entry("toString#0.1"),
    "9lives": entry("9lives#0.1"),
    [long]: entry(`${long}#0.1`),
    ok: entry(`ok#0.1`),
    far: { balance: "round_robin", instances: [{ i: "far#0.1", n: `p1/${"w".repeat(300)}` }] },
  }, { node: "p1", may: () => true });
  assert.deepEqual(Object.keys(routes), ["ok", "far"]);
  assert.deepEqual(routes.far.instances, [], "a node id of 300 characters");
  assert.equal(refused.length, 5);
});

Deno.test("a name a child held is free again once it ends; a replica gone from the state is forgotten", () => {
  const claims = new NameClaims();
  const reports = new ChildReports(claims);
  const nobody = () => false;
  assert.equal(claims.claim("dyn", reports.of(1, 0), nobody), null);
  assert.equal(claims.claim("other", reports.of(2, 0), nobody), null);
  assert.equal(claims.size, 2);
  reports.prune((child) => child === 1 ? "ended" : "live");
  assert.equal(claims.size, 1, "an ended replica's names are let go");
  assert.notEqual(reports.get(1, 0), undefined, "but what it reported is kept (it may come back)");
  reports.prune((child) => child === 2 ? "gone" : "live");
  assert.equal(claims.size, 0);
  assert.equal(reports.get(2, 0), undefined);
  const full = new NameClaims(MAX_CLAIMS);
  const owner = {};
  for (let i = 0; i < MAX_CLAIMS; i++) assert.equal(full.claim(`n${i}`, owner, nobody), null);
  assert.equal(full.claim("one-more", owner, nobody), "full");
});

Deno.test("route changes reported by children go out at most once per interval; the runtime's own at once", async () => {
  const out: string[] = [];
  let table = 0;
  const pace = new RoutePace({
    update: () => table++,
    broadcast: () => out.push(`table ${table}`),
  }, 30);
  try {
    const began = performance.now();
    for (let turn = 0; turn < 20; turn++) {
      pace.changed(true);
      await new Promise((r) => setTimeout(r, 0));
    }
    const took = performance.now() - began;
    assert.equal(table, 20, "the hub's own table follows every report");
    // One at once, then at most one per 30 ms (not one per report).
    assert.ok(out.length <= 2 + Math.floor(took / 30), `${out.length} in ${took} ms`);
    assert.ok(out.length < 20);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(out.at(-1), "table 20", "the last table goes out once the interval is over");
    const before = out.length;
    pace.changed(true);
    pace.changed();
    await Promise.resolve();
    assert.equal(out.length, before + 1, "an own change goes out in the same turn");
  } finally {
    pace.close();
  }
});

Deno.test("an instance id keeps the node of its first listing: a later or draining one cannot move it", () => {
  const book = new RouteBook(() => 0);
  book.setGlobal({
    billing: {
      balance: "round_robin",
      instances: [{ i: "billing#0.1", n: "w2" }],
      x: [{ i: "billing#0.1", n: "p1" }],
    },
  });
  assert.equal(book.nodeOf("billing#0.1"), "w2");
  const table: RouteTable = {
    billing: { balance: "round_robin", instances: [{ i: "billing#0.1", n: "w2" }] },
  };
  mergeRoutes(table, {
    billing: {
      balance: "round_robin",
      instances: [{ i: "billing#0.1", n: "p1" }],
      x: [{ i: "billing#0.1", n: "p1" }],
    },
  });
  assert.deepEqual(table.billing.instances, [{ i: "billing#0.1", n: "w2" }]);
  assert.equal(table.billing.x, undefined);
});
