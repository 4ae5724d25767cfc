// Presence announcements are untrusted input: what they may say is bounded (keepalive, buffers,
// names, runtimes, table size), what breaks a bound is refused and counted, and the routing table
// is kept name by name: an announcement touches only the entries of the names it changes.
import assert from "node:assert/strict";
import { NatsPresence, PRESENCE_LIMITS } from "../../distribution/_nats_presence.ts";
import { FakeClock } from "../_fake_clock.ts";

function world() {
  const clock = new FakeClock();
  const seen = { changed: 0, refused: [] as string[] };
  const presence = new NatsPresence({
    self: "me",
    keepalive: 500,
    clock,
    hooks: {
      changed: () => seen.changed++,
      log: () => {},
      unreachable: () => {},
      refused: (problem) => seen.refused.push(problem),
    },
  });
  return { clock, presence, seen };
}

const names = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, i) => `${prefix}${i}`);

const state = (p: NatsPresence, name: string) => p.snapshot().find((s) => s.name === name)?.state;

Deno.test("an announced keepalive is taken within 100 ms and 10 minutes: one of 1e15 ms is away after 20 minutes of silence", async () => {
  const { clock, presence } = world();
  presence.heard({ o: "g1", n: "ghost", c: ["api"], k: 1e15 });
  presence.heard({ o: "t1", n: "twitchy", c: ["web"], k: 1 });
  await clock.advance(201);
  presence.beat(true);
  assert.equal(state(presence, "twitchy"), "connecting", "1 ms is taken as 100 ms");
  await clock.advance(2 * PRESENCE_LIMITS.keepalive.max - 201);
  presence.beat(true);
  assert.equal(state(presence, "ghost"), "connected");
  await clock.advance(1);
  presence.beat(true);
  assert.equal(state(presence, "ghost"), "connecting");
  await clock.advance(2 * PRESENCE_LIMITS.keepalive.max + 1);
  presence.beat(true);
  assert.equal(state(presence, "ghost"), "gone");
  assert.deepEqual(presence.routes(), {});
});

Deno.test("an announced buffer is taken up to 10,000; one that is not a whole number gets the default", () => {
  const { presence } = world();
  presence.heard({ o: "b1", n: "b", c: ["a", "b", "c"], q: [1e9, -5, 0], k: 500 });
  assert.deepEqual(
    Object.values(presence.routes()).map((e) => e.q),
    [PRESENCE_LIMITS.buffer, 1_000, 0],
  );
});

Deno.test("an announcement listing more than 10,000 containers, a name that is not a container name, or one name twice is refused and counted", () => {
  const { presence, seen } = world();
  const cases: [unknown[], RegExp][] = [
    [names("c", PRESENCE_LIMITS.names + 1), /lists 10001 containers, more than 10000/],
    [["ok", "no spaces"], /field "c\[1\]" is "no spaces", expected a container name/],
    [["ok", "x".repeat(300)], /field "c\[1\]" is a 300-character text/],
    [["ok", 5], /field "c\[1\]" is 5/],
    [["ok", "ok"], /lists container "ok" twice/],
  ];
  for (const [c, why] of cases) {
    assert.equal(presence.heard({ o: "b1", n: "b", c, k: 500 }), false);
    assert.match(seen.refused.at(-1)!, why);
  }
  assert.equal(presence.heard({ o: "b1", n: "not a name", c: [] }), false);
  assert.match(seen.refused.at(-1)!, /field "n" \(the runtime's name\) is "not a name"/);
  assert.equal(presence.heard({ o: "b.1", n: "b", c: [] }), false);
  assert.match(seen.refused.at(-1)!, /field "o" \(the runtime's id\) is "b.1"/);
  assert.deepEqual(presence.snapshot(), []);
  assert.deepEqual(presence.routes(), {});
  assert.equal(seen.changed, 0);
  // At the bound exactly, it is taken.
  assert.equal(presence.heard({ o: "b1", n: "b", c: names("c", PRESENCE_LIMITS.names) }), true);
  assert.equal(Object.keys(presence.routes()).length, PRESENCE_LIMITS.names);
});

Deno.test("the containers reached over NATS are at most 10,000 names: an announcement adding more is refused, the ones kept stay", () => {
  const { presence, seen } = world();
  presence.heard({ o: "b1", n: "b", c: names("b", 6_000) });
  assert.equal(presence.heard({ o: "c1", n: "c", c: names("c", 5_000) }), false);
  assert.match(seen.refused.at(-1)!, /would bring the containers reached over NATS to 11000/);
  // Replicas of names already known add no entry: taken.
  assert.equal(presence.heard({ o: "d1", n: "d", c: names("b", 6_000) }), true);
  assert.equal(presence.heard({ o: "e1", n: "e", c: names("e", 4_000) }), true);
  assert.equal(Object.keys(presence.routes()).length, 10_000);
  assert.deepEqual(presence.snapshot().map((s) => s.name), ["b", "d", "e"]);
});

Deno.test("at most 1,000 runtimes are kept: a newcomer beyond is refused until one is gone and forgotten", async () => {
  const { clock, presence, seen } = world();
  for (let i = 0; i < PRESENCE_LIMITS.runtimes; i++) {
    presence.heard({ o: `r${i}`, n: `r${i}`, c: [], k: 500 });
  }
  assert.equal(presence.heard({ o: "late", n: "late", c: ["x"], k: 500 }), false);
  assert.match(seen.refused.at(-1)!, /runtime "late" is one more than the 1000 runtimes kept/);
  await clock.advance(1_001);
  presence.beat(true);
  await clock.advance(1_001);
  presence.beat(true);
  assert.equal(presence.snapshot().length, PRESENCE_LIMITS.gone, "gone ones beyond 64 forgotten");
  assert.equal(presence.heard({ o: "late", n: "late", c: ["x"], k: 500 }), true);
});

Deno.test("an announcement that lists what the last one did changes nothing; a change touches only its names' entries", () => {
  const { presence, seen } = world();
  presence.heard({ o: "b1", n: "b", c: names("n", 5_000), k: 500 });
  presence.heard({ o: "c1", n: "c", c: ["solo"], k: 500 });
  assert.equal(seen.changed, 2);
  const before = { ...presence.routes() };
  presence.heard({ o: "b1", n: "b", c: names("n", 5_000), k: 500 });
  assert.equal(seen.changed, 2, "the same list: no republication");
  presence.heard({ o: "c1", n: "c", c: ["solo", "duo"], q: [3, 4], k: 500 });
  assert.equal(seen.changed, 3);
  const after = presence.routes();
  assert.deepEqual(after.duo, {
    balance: "round_robin",
    instances: [{ i: "duo@nats", n: "@nats" }],
    q: 4,
  });
  assert.equal(after.solo.q, 3);
  // Every other entry is the very object it was: nothing else was recomputed.
  for (const name of names("n", 5_000)) assert.equal(after[name], before[name], name);
});

Deno.test("a container announced by a live runtime and one away is live; by runtimes away only, held for with their largest buffer", async () => {
  const { clock, presence } = world();
  presence.heard({ o: "b1", n: "b", c: ["api"], q: [5], k: 500 });
  presence.heard({ o: "c1", n: "c", c: ["api"], q: [9], k: 2_000 });
  await clock.advance(1_001);
  presence.beat(true); // b is away, c is not
  assert.deepEqual(presence.routes().api.instances, [{ i: "api@nats", n: "@nats" }]);
  assert.equal(presence.routes().api.q, 9);
  presence.heard({ o: "c1", n: "c", c: ["api"], q: [9], k: 2_000, x: 1 });
  assert.deepEqual(presence.routes().api, { balance: "round_robin", instances: [], w: 1, q: 9 });
  assert.equal(presence.announcedBy("b1", "api"), true, "away, not gone: its replies count");
  assert.equal(presence.announcedBy("b1", "web"), false);
  assert.equal(presence.announcedBy("nobody", "api"), false);
});
