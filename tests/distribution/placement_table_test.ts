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
  TABLE_CONCURRENCY,
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
  reads: string[] = [];
  read(name: string) {
    this.reads.push(name);
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

/** A writer leading in `term.now`; `leads` is what the lease key says when asked. */
function writer(store: TableStore, term: { now: number }, leads = () => false) {
  const stale: string[] = [];
  const logs: string[] = [];
  const table = new PlacementTable(store, {
    term: () => term.now,
    confirm: () => Promise.resolve(leads()),
    stale: (why) => stale.push(why),
    log: (_level, message) => logs.push(message),
  });
  return { table, stale, logs };
}

/** The containers of the topology in these tests. */
const NAMES = ["x", "y", "z"];

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
  await table.load(NAMES);
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
  assert.deepEqual(await table.load(NAMES), new Map(), "a standby reads nothing");
  term.now = 5;
  await table.load(NAMES);
  term.now = 0;
  await table.sync(new Map([["x", []]]));
  assert.deepEqual(store.row("x"), { term: 5, groups: [g("b", 1, 1)] }, "claimed, then kept");
});

Deno.test("a new leader's load rewrites every row under its term: the old leader's next write fails and it is told it is stale", async () => {
  const store = new MemoryTable();
  const old = writer(store, { now: 3 });
  await old.table.load(NAMES);
  await old.table.sync(new Map([["x", [g("b", 2, 1)]]]));
  const next = writer(store, { now: 8 });
  const rows = await next.table.load(NAMES);
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
  await old.table.load(NAMES);
  const next = writer(store, { now: 8 });
  await next.table.load(NAMES);
  await next.table.sync(new Map([["z", [g("c", 1, 9)]]]));
  await old.table.sync(new Map([["z", [g("b", 1, 2)]]]));
  assert.deepEqual(store.row("z"), { term: 8, groups: [g("c", 1, 9)] });
  assert.equal(old.stale.length, 1);
});

Deno.test("a leader finding a row of a later term when it loads, the lease naming another root, is stale and adopts nothing", async () => {
  const store = new MemoryTable();
  store.put("x", { term: 9, groups: [g("b", 1, 1)] });
  const { table, stale } = writer(store, { now: 4 });
  assert.deepEqual(await table.load(NAMES), new Map());
  assert.equal(stale.length, 1);
  assert.deepEqual(store.row("x"), { term: 9, groups: [g("b", 1, 1)] });
});

Deno.test("a write the store failed is logged, and the next sync writes the row again even with nothing changed", async () => {
  const store = new MemoryTable();
  const { table, logs } = writer(store, { now: 2 });
  await table.load(NAMES);
  const write = store.write.bind(store);
  store.write = () => Promise.reject(new Error("TimeoutError: timeout"));
  await table.sync(new Map([["x", [g("b", 1, 1)]]]));
  assert.deepEqual(logs, ["placement table: TimeoutError: timeout"]);
  store.write = write;
  await table.sync(new Map([["x", [g("b", 1, 1)]]]));
  assert.deepEqual(store.row("x"), { term: 2, groups: [g("b", 1, 1)] });
});

Deno.test("a row claiming a later term while the lease names this root is forged: logged once, overwritten under this root's term, never adopted, and the root keeps leading", async () => {
  const store = new MemoryTable();
  store.put("x", { term: 2 ** 48, groups: [g("evil", 1, 2 ** 48)] });
  let asked = 0;
  const { table, stale, logs } = writer(store, { now: 4 }, () => (asked++, true));
  assert.deepEqual(await table.load(NAMES), new Map(), "its groups are not adopted");
  assert.equal(asked, 1, "the lease was asked");
  assert.deepEqual(stale, []);
  assert.deepEqual(store.row("x"), { term: 4, groups: [] }, "overwritten under term 4");
  await table.sync(new Map([["x", [g("b", 1, 1)]]]));
  assert.deepEqual(store.row("x"), { term: 4, groups: [g("b", 1, 1)] });
  // Forged again while it leads: its next write checks the lease again and overwrites it.
  store.put("x", { term: 2 ** 48, groups: [] });
  await table.sync(new Map([["x", [g("b", 1, 2)]]]));
  assert.deepEqual(store.row("x"), { term: 4, groups: [g("b", 1, 2)] });
  assert.deepEqual(stale, []);
  assert.equal(logs.filter((l) => /row "x" claims term 281474976710656/.test(l)).length, 1);
  assert.match(logs[0], /after this root's term 4, but the lease says this root leads: forged/);
});

Deno.test("a write meeting a row of a later term stops the root only when the lease names another root; an unreadable lease decides nothing", async () => {
  const store = new MemoryTable();
  const lease = { readable: false };
  const table = new PlacementTable(store, {
    term: () => 3,
    confirm: () =>
      lease.readable ? Promise.resolve(false) : Promise.reject(new Error("TimeoutError")),
    stale: (why) => stale.push(why),
    log: (_level, message) => logs.push(message),
  });
  const stale: string[] = [];
  const logs: string[] = [];
  await table.load(NAMES);
  store.put("x", { term: 9, groups: [g("c", 1, 1)] });
  await table.sync(new Map([["x", [g("b", 1, 1)]]]));
  assert.deepEqual([stale, logs], [[], ["placement table: TimeoutError"]]);
  lease.readable = true;
  await table.sync(new Map([["x", [g("b", 1, 2)]]]));
  assert.equal(stale.length, 1);
  assert.deepEqual(store.row("x"), { term: 9, groups: [g("c", 1, 1)] }, "not overwritten");
});

Deno.test("a leader reads only its own containers' rows: thousands of junk rows are never read nor written", async () => {
  const store = new MemoryTable();
  for (let i = 0; i < 5_000; i++) store.put(`f${i}`, { term: 1, groups: [g("b", 1, 1)] });
  store.put("x", { term: 1, groups: [g("b", 1, 1)] });
  const { table } = writer(store, { now: 2 });
  const rows = await table.load(NAMES);
  assert.deepEqual([...rows.keys()], ["x"]);
  assert.deepEqual(store.reads.sort(), NAMES);
  assert.equal(store.writes, 1, "only x claimed");
});

Deno.test("the table keeps at most TABLE_CONCURRENCY requests to the store in flight, however many rows change at once", async () => {
  const store = new MemoryTable();
  let inFlight = 0;
  let most = 0;
  const slow = <T>(work: () => Promise<T>) => async () => {
    most = Math.max(most, ++inFlight);
    await new Promise((resolve) => setTimeout(resolve, 1));
    try {
      return await work();
    } finally {
      inFlight--;
    }
  };
  const bounded: TableStore = {
    read: (name) => slow(() => store.read(name))(),
    write: (name, value, revision) => slow(() => store.write(name, value, revision))(),
  };
  const names = Array.from({ length: 200 }, (_, i) => `c${i}`);
  for (const name of names) store.put(name, { term: 1, groups: [g("b", 1, 1)] });
  const { table } = writer(bounded, { now: 2 });
  assert.equal((await table.load(names)).size, 200);
  await table.sync(new Map(names.map((name) => [name, [g("c", 1, 2)]])));
  assert.deepEqual(store.row("c199"), { term: 2, groups: [g("c", 1, 2)] });
  assert.ok(most <= TABLE_CONCURRENCY, `${most} in flight`);
  assert.ok(most > 1, "but concurrent");
});

Deno.test("each row says which topology count it was written under, and a new leader's load keeps what the row said", async () => {
  const store = new MemoryTable();
  const a = new PlacementTable(store, {
    term: () => 2,
    confirm: () => Promise.resolve(true),
    stale() {},
    log() {},
    declared: (name) => name === "x" ? 4 : undefined,
  });
  await a.load(["x", "spawned"]);
  await a.sync(new Map([["x", [g("b", 6, 1)]], ["spawned", [g("b", 1, 1)]]]));
  assert.deepEqual(store.row("x"), { term: 2, groups: [g("b", 6, 1)], declared: 4 });
  assert.deepEqual(store.row("spawned"), { term: 2, groups: [g("b", 1, 1)] });
  const b = new PlacementTable(store, {
    term: () => 5,
    confirm: () => Promise.resolve(true),
    stale() {},
    log() {},
    declared: () => 8,
  });
  const rows = await b.load(["x", "spawned"]);
  assert.equal(rows.get("x")?.declared, 4);
  assert.deepEqual(store.row("x"), { term: 5, groups: [g("b", 6, 1)], declared: 4 });
  assert.equal(parseRow(new TextEncoder().encode('{"term":1,"groups":[],"declared":-1}')), null);
});
