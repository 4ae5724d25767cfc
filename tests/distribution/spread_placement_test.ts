// The placement manager with `placement: spread` containers, a fake runtime and a clock moved by
// hand: a group of replicas per agent, a lost agent's group held through its lease and then
// re-placed on the survivors, a returning agent's stale group stopped, one-step rebalancing, and
// routes taken only from current groups. No real timer.
import assert from "node:assert/strict";
import { validateContainer } from "../../config/topology.ts";
import { PlacementManager } from "../../distribution/_placement.ts";
import type { Envelope } from "../../protocol/envelope.ts";
import { FakeClock, flush } from "../_fake_clock.ts";

const hosts = {
  a: { address: "tcp://a:1" },
  b: { address: "tcp://b:1" },
  c: { address: "tcp://c:1" },
};
const spec = (replicas: number, extra: Record<string, unknown> = {}) =>
  validateContainer(
    "x",
    { module: "./m.ts", mode: "remote", placement: "spread", replicas, ...extra },
    { baseUrl: "file:///app/", hosts },
  );

function fake(lease = 50) {
  const clock = new FakeClock();
  const sent: [string, Envelope][] = [];
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
    log() {},
    logFrom() {},
    emit() {},
  };
  const m = new PlacementManager(site, { policy: "spread", lease, clock });
  return { clock, sent, m };
}

const join = (n: string, p: { n: string; e: number }[] = []): Extract<Envelope, { k: "join" }> => ({
  k: "join",
  n,
  c: [],
  a: { permissions: {} },
  p,
});
const on = (m: PlacementManager) => m.snapshot()[0].replicasOn;
/** What each place envelope asked: agent → replicas. */
const placed = (sent: [string, Envelope][]) =>
  sent.filter(([, e]) => e.k === "place").map(([peer, e]) =>
    `${peer}:${(e as unknown as { s: { replicas: number } }).s.replicas}`
  );

Deno.test("spread: each agent runs a group of the replicas, one place per agent with its count", async () => {
  const { m, sent } = fake();
  m.joined("a", join("a"));
  m.joined("b", join("b"));
  await m.add([spec(3)], 1000);
  assert.deepEqual(on(m), { a: 2, b: 1 });
  assert.deepEqual(placed(sent), ["a:2", "b:1"]);
  assert.equal(m.snapshot()[0].state, "running");
  assert.ok(m.spreads("x"));
  assert.ok(m.acceptsRoute("a", "x") && m.acceptsRoute("b", "x"), "routes from both groups");
  m.close();
});

Deno.test("spread: scaling adds replicas to the agent with the fewest and removes from the one with the most", async () => {
  const { m, sent } = fake();
  m.joined("a", join("a"));
  m.joined("b", join("b"));
  await m.add([spec(2)], 1000);
  sent.length = 0;
  await m.update(spec(3));
  assert.deepEqual(on(m), { a: 2, b: 1 });
  assert.deepEqual(placed(sent), ["a:2"], "only the agent whose count changed is told");
  sent.length = 0;
  await m.update(spec(1));
  assert.deepEqual(on(m), { a: 1 });
  assert.deepEqual(sent.map(([p, e]) => `${p}:${e.k}`), ["a:place", "b:unplace"]);
  m.close();
});

Deno.test("spread: a lost agent's group is held through its lease, then its replicas go to the survivors", async () => {
  const { m, clock, sent } = fake(80);
  m.joined("a", join("a"));
  m.joined("b", join("b"));
  await m.add([spec(4)], 1000);
  assert.deepEqual(on(m), { a: 2, b: 2 });
  m.lost("a", clock.now());
  assert.equal(m.acceptsRoute("a", "x"), false, "the lost agent's routes are not taken");
  assert.equal(m.acceptsRoute("b", "x"), true);
  assert.equal(m.routes().x, undefined, "no placeholder: the survivors serve meanwhile");
  await clock.advance(179);
  assert.deepEqual(on(m), { a: 2, b: 2 }, "not before the lease (80) and margin (100) run out");
  sent.length = 0;
  await clock.advance(1);
  await flush();
  assert.deepEqual(on(m), { b: 4 });
  assert.deepEqual(placed(sent), ["b:4"]);
  assert.equal(m.snapshot()[0].restarts, 2);
  m.close();
});

Deno.test("spread: a returning agent's stale group is stopped; it takes replicas back by rebalance, one at a time", async () => {
  const { m, clock, sent } = fake(20);
  m.joined("a", join("a"));
  m.joined("b", join("b"));
  await m.add([spec(4)], 1000);
  const epochA = (sent.find(([p, e]) => p === "a" && e.k === "place")![1] as { e: number }).e;
  m.lost("a", clock.now());
  await clock.advance(200);
  await flush();
  assert.deepEqual(on(m), { b: 4 });
  sent.length = 0;
  m.joined("a", join("a", [{ n: "x", e: epochA }]));
  await flush();
  assert.deepEqual(sent, [["a", { k: "unplace", n: "x", e: epochA }]], "fenced, nothing new");
  sent.length = 0;
  assert.deepEqual(await m.rebalance("x"), { from: "b", to: "a" });
  assert.deepEqual(sent.map(([p, e]) => `${p}:${e.k}`), ["a:place", "b:place"], "start, then stop");
  assert.deepEqual(placed(sent), ["a:1", "b:3"]);
  assert.deepEqual(await m.rebalance("x"), { from: "b", to: "a" });
  assert.deepEqual(on(m), { a: 2, b: 2 });
  assert.equal(await m.rebalance("x"), undefined, "even: nothing to move");
  m.close();
});

Deno.test("spread: hosts: and max_per_host: bound where replicas go; a new agent fills what did not fit", async () => {
  const { m } = fake();
  m.joined("a", join("a"));
  m.joined("c", join("c"));
  await m.add([spec(3, { hosts: ["a", "b"], max_per_host: 2 })], 1000);
  assert.deepEqual(on(m), { a: 2 }, "c is not among hosts:, and a holds at most 2");
  m.joined("b", join("b"));
  await flush();
  assert.deepEqual(on(m), { a: 2, b: 1 });
  m.close();
});

Deno.test("spread: changing only hosts: or max_per_host: moves replicas without replacing the groups that stay", async () => {
  const { m, sent } = fake();
  m.joined("a", join("a"));
  m.joined("b", join("b"));
  await m.add([spec(2)], 1000);
  sent.length = 0;
  await m.update(spec(2, { hosts: ["a"], max_per_host: 2 }));
  assert.deepEqual(on(m), { a: 2 });
  assert.deepEqual(sent.map(([p, e]) => `${p}:${e.k}`), ["a:place", "b:unplace"]);
  assert.deepEqual(placed(sent), ["a:2"], "a rescales once; nothing is replaced");
  m.close();
});

Deno.test("spread: rebalance: auto moves replicas onto an agent as it links, one at a time, until even", async () => {
  const { m, sent } = fake();
  m.joined("b", join("b"));
  await m.add([spec(4, { rebalance: "auto" })], 1000);
  assert.deepEqual(on(m), { b: 4 });
  sent.length = 0;
  m.joined("a", join("a"));
  for (let i = 0; i < 20; i++) await flush();
  assert.deepEqual(on(m), { a: 2, b: 2 });
  assert.deepEqual(placed(sent), ["a:1", "b:3", "a:2", "b:2"], "start there, then stop here");
  m.close();
});

Deno.test("spread: without rebalance: auto a linking agent takes nothing from the others", async () => {
  const { m } = fake();
  m.joined("b", join("b"));
  await m.add([spec(4)], 1000);
  m.joined("a", join("a"));
  for (let i = 0; i < 20; i++) await flush();
  assert.deepEqual(on(m), { b: 4 });
  m.close();
});

Deno.test("spread: an agent back within its lease takes no replicas by rebalance until its held group is re-placed", async () => {
  const { m, clock } = fake(80);
  m.joined("a", join("a"));
  m.joined("b", join("b"));
  await m.add([spec(6)], 1000);
  assert.deepEqual(on(m), { a: 3, b: 3 });
  m.lost("a", clock.now());
  m.joined("a", join("a"));
  m.joined("c", join("c"));
  await flush();
  // a's group is still held: c, not a, takes the move.
  assert.deepEqual(await m.rebalance("x"), { from: "b", to: "c" });
  assert.deepEqual(on(m), { a: 3, b: 2, c: 1 });
  await clock.advance(200);
  for (let i = 0; i < 10; i++) await flush();
  assert.deepEqual(
    Object.values(on(m) ?? {}).reduce((n, k) => n + k, 0),
    6,
    "re-placed once the lease ran out: 6 in all",
  );
  m.close();
});
