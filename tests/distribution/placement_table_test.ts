// The placement table (distribution/_placement_table.ts): rows parsed as untrusted input, a new
// leader's plan from a row, and the writer's fencing — revision-checked writes, a row of a later
// term never overwritten, an earlier leader's write failing once the new one loaded — against a
// store that behaves as a JetStream KV bucket (revisions, compare-and-set). The same store on a
// real nats-server: tests/nats/placement_table_kv_test.ts.
import assert from "node:assert/strict";
import {
  encodeRow,
  parseRow,
  PlacementTable,
  planFromRow,
  type TableGroup,
  type TableRow,
  type TableStore,
  type Versioned,
} from "../../distribution/_placement_table.ts";

/** One bucket; `writes` counts the writes that went through. */
class MemoryTable implements TableStore {
  rows = new Map<string, Versioned>();
  revision = 0;
  writes = 0;
  list() {
    return Promise.resolve(new Map(this.rows));
  }
  read(name: string) {
    return Promise.resolve(this.rows.get(name) ?? null);
  }
  write(name: string, value: Uint8Array, revision: number | null): Promise<number | null> {
    if ((this.rows.get(name)?.revision ?? null) !== revision) return Promise.resolve(null);
    this.rows.set(name, { value, revision: ++this.revision });
    this.writes++;
    return Promise.resolve(this.revision);
  }
  row(name: string): TableRow | null {
    const stored = this.rows.get(name);
    return stored ? parseRow(stored.value) : null;
  }
  put(name: string, row: TableRow) {
    this.rows.set(name, { value: encodeRow(row), revision: ++this.revision });
  }
}

function writer(store: TableStore, term: { now: number }) {
  const stale: string[] = [];
  const logs: string[] = [];
  const table = new PlacementTable(store, {
    term: () => term.now,
    stale: (why) => stale.push(why),
    log: (_level, message) => logs.push(message),
  });
  return { table, stale, logs };
}

const g = (agent: string, replicas: number, epoch: number): TableGroup => ({
  agent,
  replicas,
  epoch,
});

Deno.test("a row that is not one (wrong types, a duplicate agent, a bad name, no JSON) parses as null", () => {
  const bad = [
    "not json",
    "null",
    '{"term":-1,"groups":[]}',
    '{"term":1,"groups":{}}',
    '{"term":1,"groups":[{"agent":"b","replicas":0,"epoch":1}]}',
    '{"term":1,"groups":[{"agent":"b","replicas":1,"epoch":1.5}]}',
    `{"term":1,"groups":[{"agent":"b","replicas":1,"epoch":${2 ** 53}}]}`,
    '{"term":1,"groups":[{"agent":"../b","replicas":1,"epoch":1}]}',
    '{"term":1,"groups":[{"agent":"b","replicas":1,"epoch":1},{"agent":"b","replicas":1,"epoch":2}]}',
  ];
  for (const text of bad) assert.equal(parseRow(new TextEncoder().encode(text)), null, text);
  const row = { term: 3, groups: [g("b", 2, 1), g("c", 1, 2)] };
  assert.deepEqual(parseRow(encodeRow(row)), row);
});

Deno.test("a whole container's plan keeps its one agent when linked and allowed by its pin; unlinked, it is away (held), never placed twice", () => {
  const row = { term: 2, groups: [g("c", 1, 4)] };
  assert.deepEqual(planFromRow(row, { replicas: 2 }, ["b", "c"]), {
    epoch: 4,
    on: { c: 2 },
    away: {},
  });
  assert.deepEqual(planFromRow(row, { replicas: 2 }, ["b"]), { epoch: 4, on: {}, away: { c: 1 } });
  const none = { epoch: 4, on: {}, away: {} };
  assert.deepEqual(planFromRow(row, { replicas: 2, host: "b" }, ["b", "c"]), none, "pinned away");
  assert.deepEqual(
    planFromRow({ term: 2, groups: [g("b", 1, 1), g("c", 1, 4)] }, { replicas: 1 }, ["b", "c"]),
    none,
    "a whole container on two agents is not adopted by guess",
  );
});

Deno.test("a spread container's plan keeps every group that still fits, holds those on unlinked agents, and places the rest by the policy", () => {
  const row = { term: 2, groups: [g("b", 2, 5), g("c", 3, 7)] };
  // The policy alone, from nothing, gives b 3 and c 2 (ties by name): the table keeps b 2, c 3.
  assert.deepEqual(planFromRow(row, { replicas: 5, spread: { maxPerHost: 3 } }, ["b", "c"]), {
    epoch: 7,
    on: { b: 2, c: 3 },
    away: {},
  });
  // Agent c is not linked: its 3 are held (it may still run them), the rest stays on b.
  assert.deepEqual(planFromRow(row, { replicas: 5, spread: {} }, ["b", "d"]), {
    epoch: 7,
    on: { b: 2 },
    away: { c: 3 },
  });
  // More wanted than the table held: the new one goes by the policy.
  assert.deepEqual(planFromRow(row, { replicas: 6, spread: {} }, ["b", "c", "d"]), {
    epoch: 7,
    on: { b: 2, c: 3, d: 1 },
    away: {},
  });
  // Fewer replicas wanted now: the fullest agent gives one up.
  assert.deepEqual(planFromRow(row, { replicas: 4, spread: {} }, ["b", "c"]), {
    epoch: 7,
    on: { b: 2, c: 2 },
    away: {},
  });
  // c is no longer among its hosts.
  assert.deepEqual(
    planFromRow(row, { replicas: 5, spread: { hosts: ["b", "d"] } }, ["b", "c", "d"]),
    { epoch: 7, on: { b: 3, d: 2 }, away: {} },
  );
});

Deno.test("the leader writes what changed only, each row revision-checked under its term", async () => {
  const store = new MemoryTable();
  const { table } = writer(store, { now: 4 });
  await table.load();
  await table.sync(new Map([["x", [g("b", 2, 1)]], ["y", [g("c", 1, 1)]]]));
  assert.equal(store.writes, 2);
  await table.sync(new Map([["x", [g("b", 2, 1)]], ["y", [g("c", 1, 1)]]]));
  assert.equal(store.writes, 2, "nothing changed: nothing written");
  await table.sync(new Map([["x", [g("b", 2, 1), g("c", 2, 2)]]]));
  assert.deepEqual(store.row("x"), { term: 4, groups: [g("b", 2, 1), g("c", 2, 2)] });
  assert.deepEqual(store.row("y"), { term: 4, groups: [] }, "a container no longer placed");
});

Deno.test("nothing is written before the table was loaded, nor while the root does not lead", async () => {
  const store = new MemoryTable();
  store.put("x", { term: 1, groups: [g("b", 1, 1)] });
  const term = { now: 0 };
  const { table } = writer(store, term);
  await table.sync(new Map([["x", []]]));
  assert.equal(store.writes, 0, "not loaded yet");
  assert.deepEqual(await table.load(), new Map(), "a standby reads nothing");
  term.now = 5;
  await table.load();
  term.now = 0;
  await table.sync(new Map([["x", []]]));
  assert.deepEqual(store.row("x"), { term: 5, groups: [g("b", 1, 1)] }, "claimed, then kept");
});

Deno.test("a new leader's load rewrites every row under its term: the old leader's next write fails and it is told it is stale", async () => {
  const store = new MemoryTable();
  const old = writer(store, { now: 3 });
  await old.table.load();
  await old.table.sync(new Map([["x", [g("b", 2, 1)]]]));
  const next = writer(store, { now: 8 });
  const rows = await next.table.load();
  assert.deepEqual(rows, new Map([["x", { term: 3, groups: [g("b", 2, 1)] }]]));
  assert.deepEqual(store.row("x"), { term: 8, groups: [g("b", 2, 1)] }, "claimed by term 8");
  // The old leader, not yet aware, moves x: refused on the revision, then stopped by the term.
  await old.table.sync(new Map([["x", [g("c", 2, 2)]]]));
  assert.deepEqual(store.row("x"), { term: 8, groups: [g("b", 2, 1)] });
  assert.equal(old.stale.length, 1);
  assert.match(old.stale[0], /row "x" was written in term 8, after this root's term 3/);
  // Stale, it writes nothing more, not even a row the new leader has not touched.
  const writes = store.writes;
  await old.table.sync(new Map([["x", [g("c", 2, 2)]], ["z", [g("b", 1, 2)]]]));
  assert.equal(store.writes, writes);
  assert.equal(old.stale.length, 1);
});

Deno.test("a row created by a later term is never overwritten by an earlier leader that never saw it", async () => {
  const store = new MemoryTable();
  const old = writer(store, { now: 3 });
  await old.table.load();
  const next = writer(store, { now: 8 });
  await next.table.load();
  await next.table.sync(new Map([["z", [g("c", 1, 9)]]]));
  await old.table.sync(new Map([["z", [g("b", 1, 2)]]]));
  assert.deepEqual(store.row("z"), { term: 8, groups: [g("c", 1, 9)] });
  assert.equal(old.stale.length, 1);
});

Deno.test("a leader finding a row of a later term when it loads is stale and adopts nothing", async () => {
  const store = new MemoryTable();
  store.put("x", { term: 9, groups: [g("b", 1, 1)] });
  const { table, stale } = writer(store, { now: 4 });
  assert.deepEqual(await table.load(), new Map());
  assert.equal(stale.length, 1);
  assert.deepEqual(store.row("x"), { term: 9, groups: [g("b", 1, 1)] });
});

Deno.test("a write the store failed is logged, and the next sync writes the row again even with nothing changed", async () => {
  const store = new MemoryTable();
  const { table, logs } = writer(store, { now: 2 });
  await table.load();
  const write = store.write.bind(store);
  store.write = () => Promise.reject(new Error("TimeoutError: timeout"));
  await table.sync(new Map([["x", [g("b", 1, 1)]]]));
  assert.deepEqual(logs, ["placement table: TimeoutError: timeout"]);
  store.write = write;
  await table.sync(new Map([["x", [g("b", 1, 1)]]]));
  assert.deepEqual(store.row("x"), { term: 2, groups: [g("b", 1, 1)] });
});

Deno.test("each row says which topology count it was written under, and a new leader's load keeps what the row said", async () => {
  const store = new MemoryTable();
  const a = new PlacementTable(store, {
    term: () => 2,
    stale() {},
    log() {},
    declared: (name) => name === "x" ? 4 : undefined,
  });
  await a.load();
  await a.sync(new Map([["x", [g("b", 6, 1)]], ["spawned", [g("b", 1, 1)]]]));
  assert.deepEqual(store.row("x"), { term: 2, groups: [g("b", 6, 1)], declared: 4 });
  assert.deepEqual(store.row("spawned"), { term: 2, groups: [g("b", 1, 1)] });
  const b = new PlacementTable(store, { term: () => 5, stale() {}, log() {}, declared: () => 8 });
  const rows = await b.load();
  assert.equal(rows.get("x")?.declared, 4);
  assert.deepEqual(store.row("x"), { term: 5, groups: [g("b", 6, 1)], declared: 4 });
  assert.equal(parseRow(new TextEncoder().encode('{"term":1,"groups":[],"declared":-1}')), null);
});
