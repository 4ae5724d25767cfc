// A root taking over (a standby that now leads) places from the placement table, with a fake
// runtime and a clock moved by hand: each container and spread group goes where the table says
// it runs (its agent adopts it), epochs continuing; what runs on an agent not linked now is held
// until that agent's lease has run out — never placed a second time meanwhile. No real timer.
import assert from "node:assert/strict";
import { validateContainer } from "../../config/topology.ts";
import { PlacementManager } from "../../distribution/_placement.ts";
import type { TableRow } from "../../distribution/_placement_table.ts";
import type { Envelope } from "../../protocol/envelope.ts";
import { FakeClock } from "../_fake_clock.ts";

const hosts = {
  a: { address: "tcp://a:1" },
  b: { address: "tcp://b:1" },
  c: { address: "tcp://c:1" },
};
const spec = (name: string, extra: Record<string, unknown> = {}) =>
  validateContainer(name, { module: "./m.ts", mode: "remote", ...extra }, {
    baseUrl: "file:///app/",
    hosts,
  });

/** Lease: how long a lost (or away) agent may still run what it was given, ms. */
const LEASE = 50;

function fake() {
  const clock = new FakeClock();
  const sent: [string, Envelope][] = [];
  const logs: string[] = [];
  const site = {
    send(peer: string, env: Envelope) {
      sent.push([peer, env]);
      if (env.k === "place") {
        queueMicrotask(() => m.control(peer, { k: "placed", n: env.n, e: env.e, ok: true }));
      }
      return true;
    },
    liveInstances: () => 1,
    changed() {},
    log: (level: string, message: string) => void logs.push(`${level} ${message}`),
    logFrom() {},
    emit() {},
  };
  const m = new PlacementManager(site, { policy: "spread", lease: LEASE, clock });
  const join = (n: string) => m.joined(n, { k: "join", n, c: [], a: { permissions: {} }, p: [] });
  /** Each place envelope as `name@agent#epoch:replicas`. */
  const places = () =>
    sent.filter(([, e]) => e.k === "place").map(([peer, e]) => {
      const p = e as Extract<Envelope, { k: "place" }>;
      return `${p.n}@${peer}#${p.e}:${(p.s as { replicas: number }).replicas}`;
    }).sort();
  return { clock, sent, m, join, places, logs };
}

const group = (agent: string, replicas: number, epoch: number) => ({ agent, replicas, epoch });

Deno.test("a root taking over places each group and whole container where the table says it runs (same counts, epochs continuing), not where its policy alone would", async () => {
  const { m, join, places } = fake();
  join("a");
  join("b");
  const table = new Map<string, TableRow>([
    ["x", { term: 4, groups: [group("a", 1, 6), group("b", 3, 7)] }],
    ["w", { term: 4, groups: [group("b", 1, 3)] }],
  ]);
  // Alone, the policy gives x a: 2, b: 2, and w (fewest placements, ties by name) agent a.
  await m.add(
    [spec("x", { placement: "spread", replicas: 4, max_per_host: 3 }), spec("w")],
    1000,
    table,
  );
  assert.deepEqual(m.snapshot().find((p) => p.name === "x")?.replicasOn, { a: 1, b: 3 });
  assert.deepEqual(places(), ["w@b#4:1", "x@a#8:1", "x@b#9:3"]);
  assert.deepEqual(
    m.table(),
    new Map([
      ["x", [group("a", 1, 8), group("b", 3, 9)]],
      ["w", [group("b", 1, 4)]],
    ]),
    "what the table gets written",
  );
  m.close();
});

Deno.test("a whole container the table puts on an agent not linked now is held (senders wait) until that agent's lease has run out, then placed by the policy", async () => {
  const { m, clock, join, places } = fake();
  join("a");
  join("b");
  const table = new Map<string, TableRow>([["w", { term: 3, groups: [group("c", 1, 5)] }]]);
  await m.add([spec("w")], 0, table);
  assert.deepEqual(places(), [], "not placed while c may still run it");
  assert.equal(m.snapshot()[0].state, "held");
  assert.deepEqual(Object.keys(m.routes()), ["w"], "senders hold their messages for it");
  await clock.advance(LEASE - 1);
  assert.deepEqual(places(), []);
  await clock.advance(200);
  assert.deepEqual(places(), ["w@a#6:1"]);
  assert.equal(m.snapshot()[0].state, "running");
  m.close();
});

Deno.test("a whole container held for an away agent goes back to that agent when it linked meanwhile", async () => {
  const { m, clock, join, places } = fake();
  join("a");
  const table = new Map<string, TableRow>([["w", { term: 3, groups: [group("c", 1, 5)] }]]);
  await m.add([spec("w")], 0, table);
  join("c");
  assert.deepEqual(places(), [], "still held: c may run the lost root's copy");
  await clock.advance(LEASE + 200);
  assert.deepEqual(places(), ["w@c#6:1"]);
  m.close();
});

Deno.test("a spread group the table puts on an agent not linked now is held; the linked groups are adopted, and its replicas placed once its lease has run out", async () => {
  const { m, clock, join, places } = fake();
  join("a");
  join("b");
  const table = new Map<string, TableRow>([
    ["x", { term: 3, groups: [group("a", 1, 2), group("c", 3, 4)] }],
  ]);
  await m.add([spec("x", { placement: "spread", replicas: 4 })], 1000, table);
  assert.deepEqual(places(), ["x@a#5:1"], "only a's group now: c's 3 may still run");
  const x = () => m.snapshot().find((p) => p.name === "x")!;
  assert.deepEqual(x().replicasOn, { a: 1, c: 3 });
  await clock.advance(LEASE + 200);
  assert.deepEqual(x().replicasOn, { a: 2, b: 2 }, "c's replicas placed on the linked agents");
  m.close();
});

Deno.test("a root told by its agent that a container no longer runs there for it (adopted by a later term meanwhile) places it again rather than report it running", async () => {
  const { m, join, places, sent } = fake();
  join("a");
  await m.add([spec("w")], 1000);
  assert.deepEqual(places(), ["w@a#1:1"]);
  m.control("a", {
    k: "placed",
    n: "w",
    e: 1,
    ok: false,
    x: { name: "UnavailableError", message: 'runtime "root-b" adopted it in lease term 5' },
  });
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(places(), ["w@a#1:1", "w@a#2:1"]);
  // A stale refusal (an epoch it no longer runs at) changes nothing.
  m.control("a", { k: "placed", n: "w", e: 1, ok: false, x: { name: "Error", message: "old" } });
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(sent.filter(([, e]) => e.k === "place").length, 2);
  m.close();
});

Deno.test("a run-time scale survives a take-over: the table's count is kept over the topology's when the topology is the one the row was written under (logged)", async () => {
  const { m, join, places, logs } = fake();
  join("a");
  join("b");
  // Scaled from 4 to 6 on the earlier leader; this root's topology still says 4.
  const table = new Map<string, TableRow>([
    ["x", { term: 4, groups: [group("a", 3, 6), group("b", 3, 7)], declared: 4 }],
    ["w", { term: 4, groups: [group("b", 3, 3)], declared: 1 }],
  ]);
  await m.add([spec("x", { placement: "spread", replicas: 4 }), spec("w")], 1000, table);
  assert.deepEqual(places(), ["w@b#4:3", "x@a#8:3", "x@b#9:3"], "adopted as they run");
  const x = m.snapshot().find((p) => p.name === "x")!;
  assert.deepEqual([x.spec.replicas, x.replicasOn], [6, { a: 3, b: 3 }]);
  assert.ok(
    logs.some((l) =>
      /^info x: keeps 6 replicas, as the placement table says .* not the topology's 4/.test(l)
    ),
    logs.join("\n"),
  );
  m.close();
});

Deno.test("a topology edited since the row was written wins over the table's count, with a warning naming both", async () => {
  const { m, join, places, logs } = fake();
  join("a");
  join("b");
  const table = new Map<string, TableRow>([
    ["x", { term: 4, groups: [group("a", 3, 6), group("b", 3, 7)], declared: 4 }],
  ]);
  await m.add([spec("x", { placement: "spread", replicas: 8 })], 1000, table);
  assert.deepEqual(m.snapshot()[0].replicasOn, { a: 4, b: 4 });
  assert.deepEqual(places(), ["x@a#8:4", "x@b#9:4"]);
  assert.ok(
    logs.some((l) =>
      /^warn x: 8 replicas, as this root's topology says, not the 6 .* topology of 4: the topology was edited since/
        .test(l)
    ),
    logs.join("\n"),
  );
  m.close();
});
