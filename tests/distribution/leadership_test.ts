// The root's lease logic (distribution/_leadership.ts) on a clock moved by hand, against a store
// that behaves as a JetStream KV bucket with a TTL: revisions, compare-and-set, expiry of a key
// not written for the TTL. The same logic against a real nats-server: tests/nats/leadership_test.ts.
import assert from "node:assert/strict";
import { Leadership, type LeaseHolder, type LeaseStore } from "../../distribution/_leadership.ts";
import { FakeClock } from "../_fake_clock.ts";

/** A KV key with a TTL on `clock`; `cut` makes every request fail, as a cut-off client's would. */
class MemoryStore implements LeaseStore {
  held: { value: Uint8Array; revision: number; at: number } | null = null;
  revision = 0;
  cut = false;
  constructor(readonly clock: FakeClock, readonly ttl: number) {}
  #live() {
    if (this.held && this.clock.now() >= this.held.at + this.ttl) this.held = null;
    if (this.cut) return Promise.reject(new Error("no responders"));
    return Promise.resolve();
  }
  async create(value: Uint8Array) {
    await this.#live();
    if (this.held) return null;
    this.held = { value, revision: ++this.revision, at: this.clock.now() };
    return this.revision;
  }
  async update(value: Uint8Array, revision: number) {
    await this.#live();
    if (this.held?.revision !== revision) return null;
    this.held = { value, revision: ++this.revision, at: this.clock.now() };
    return this.revision;
  }
  async read() {
    await this.#live();
    return this.held && { value: this.held.value, revision: this.held.revision };
  }
  async remove(revision: number) {
    await this.#live();
    if (this.held?.revision === revision) this.held = null;
  }
}

function root(store: LeaseStore, name: string, clock: FakeClock, ttl = 1_000) {
  const seen: string[] = [];
  let holder: LeaseHolder | null = null;
  const leadership = new Leadership(store, {
    name,
    ttl,
    onLead: (h) => {
      holder = h;
      seen.push(`lead@${clock.now()}`);
    },
    onStepDown: (why) => seen.push(`down@${clock.now()}: ${why}`),
  }, clock);
  return { leadership, seen, holder: () => holder };
}

Deno.test("the first root to start leads; a second stays standby while the lease is renewed", async () => {
  const clock = new FakeClock(0);
  const store = new MemoryStore(clock, 1_000);
  const a = root(store, "root-a", clock);
  const b = root(store, "root-b", clock);
  await a.leadership.start();
  await b.leadership.start();
  await clock.advance(10_000);
  assert.deepEqual(a.seen, ["lead@0"]);
  assert.deepEqual(b.seen, []);
  assert.ok(a.leadership.acting());
  assert.ok(!b.leadership.acting());
  assert.ok(store.revision > 10, "renewed by revision-checked updates");
  await a.leadership.close();
  await b.leadership.close();
});

Deno.test("a standby takes over once the leader's key has expired, within ttl and one look", async () => {
  const clock = new FakeClock(0);
  const store = new MemoryStore(clock, 1_000);
  const a = root(store, "root-a", clock);
  const b = root(store, "root-b", clock);
  await a.leadership.start();
  await b.leadership.start();
  await clock.advance(1_000);
  // root-a dies (kill -9): it neither renews nor deletes its key.
  const lastWrite = store.held!.at;
  const term = a.holder()!.term;
  await a.leadership.close().catch(() => {});
  store.held = { ...store.held!, at: lastWrite }; // its close() could not reach the store
  await clock.advance(2_000);
  assert.equal(b.seen.length, 1);
  const at = Number(b.seen[0].split("@")[1]);
  assert.ok(at >= lastWrite + 1_000, `took over at ${at}, the key was written at ${lastWrite}`);
  assert.ok(at <= lastWrite + 1_000 + b.leadership.interval, `took over late, at ${at}`);
  assert.ok(b.holder()!.term > term, "the new term's revision is greater than the old one's");
  await b.leadership.close();
});

Deno.test("a leader cut off from the store stops acting at ttl − margin after its last renewal, before its key can expire", async () => {
  const clock = new FakeClock(0);
  const store = new MemoryStore(clock, 1_000);
  const a = root(store, "root-a", clock);
  const b = root(store, "root-b", clock);
  await a.leadership.start();
  await b.leadership.start();
  await clock.advance(500);
  const lastWrite = store.held!.at;
  store.cut = true;
  await clock.advance(lastWrite + 750 - 1 - clock.now());
  assert.ok(a.leadership.acting(), "still within its lease");
  await clock.advance(1);
  assert.ok(!a.leadership.acting(), "stopped at last renewal + ttl − margin");
  assert.equal(a.seen.at(-1), `down@${lastWrite + 750}: could not renew the lease within 750 ms`);
  store.cut = false;
  // The key expires at lastWrite + 1000: only then does a root (here either) lead again.
  await clock.advance(lastWrite + 1_000 - 1 - clock.now());
  assert.equal(b.seen.length + a.seen.length, 2, "no one leads before the key expired");
  await clock.advance(1_000);
  assert.equal(
    [...a.seen, ...b.seen].filter((s) => s.startsWith("lead")).length,
    2,
    "exactly one new term once the key expired",
  );
  await a.leadership.close();
  await b.leadership.close();
});

Deno.test("a leader whose key another root overwrote steps down at its next renewal", async () => {
  const clock = new FakeClock(0);
  const store = new MemoryStore(clock, 1_000);
  const a = root(store, "root-a", clock);
  await a.leadership.start();
  store.held = { value: new Uint8Array(), revision: ++store.revision, at: clock.now() };
  await clock.advance(a.leadership.interval);
  assert.ok(!a.leadership.acting());
  assert.match(a.seen.at(-1)!, /another root holds the lease now/);
  await a.leadership.close();
});

Deno.test("a leader that closes deletes its key: the standby leads at its next look", async () => {
  const clock = new FakeClock(0);
  const store = new MemoryStore(clock, 10_000);
  const a = root(store, "root-a", clock, 10_000);
  const b = root(store, "root-b", clock, 10_000);
  await a.leadership.start();
  await b.leadership.start();
  await a.leadership.close();
  await clock.advance(b.leadership.interval);
  assert.deepEqual(b.seen, [`lead@${b.leadership.interval}`]);
  await b.leadership.close();
});

Deno.test("a leader told elsewhere that another root leads (a stale placement table) resigns: it stops acting at once", async () => {
  const clock = new FakeClock(0);
  const store = new MemoryStore(clock, 1_000);
  const a = root(store, "root-a", clock);
  await a.leadership.start();
  assert.ok(a.leadership.acting());
  a.leadership.resign('the placement table\'s row "x" was written in term 9');
  assert.ok(!a.leadership.acting());
  assert.deepEqual(a.seen, [
    "lead@0",
    'down@0: the placement table\'s row "x" was written in term 9',
  ]);
  a.leadership.resign("twice");
  assert.equal(a.seen.length, 2, "told once");
  await a.leadership.close();
});

Deno.test("confirm asks the lease key whether it still names this root's term: yes while it leads, no once another root's term is there, and rejects when the store is cut off", async () => {
  const clock = new FakeClock(0);
  const store = new MemoryStore(clock, 1_000);
  const a = root(store, "root-a", clock);
  await a.leadership.start();
  await clock.advance(500);
  assert.equal(await a.leadership.confirm(), true, "renewed since: the same term");
  store.cut = true;
  await assert.rejects(a.leadership.confirm(), /no responders/);
  store.cut = false;
  // Another root's lease (as if root-a had been cut off and replaced): not this root's term.
  store.held = {
    value: new TextEncoder().encode('{"root":"root-b","token":"root-b.1"}'),
    revision: ++store.revision,
    at: clock.now(),
  };
  assert.equal(await a.leadership.confirm(), false);
  await a.leadership.close();
});
