// What time decides about peer runtimes, on a clock moved by hand: when a silent peer is
// unreachable, how long an away peer's containers are held for before it is gone, and the redial
// backoff. Fake links (the table only sends on them and closes them); no real timer.
import assert from "node:assert/strict";
import type { TransportsSpec } from "../../config/topology.ts";
import { Timers } from "../../distribution/_clock.ts";
import { Federation } from "../../distribution/_federation.ts";
import { PeerTable } from "../../distribution/_peers.ts";
import type { Hub } from "../../distribution/types.ts";
import type { Envelope, RouteTable } from "../../protocol/envelope.ts";
import { FakeClock } from "../_fake_clock.ts";
import { defaultTransports } from "../../transports/defaults.ts";
import { TransportSet } from "../../transports/transport_set.ts";

const KEEPALIVE = 1_000;

function fakeLink() {
  const link = {
    sent: [] as Envelope[],
    closed: false,
    send(env: Envelope) {
      link.sent.push(env);
    },
    close() {
      link.closed = true;
    },
  };
  return link;
}

function world() {
  const clock = new FakeClock();
  const timers = new Timers(clock);
  const seen = {
    changed: 0,
    logs: [] as string[],
    unreachable: [] as string[],
    lost: [] as [string, number][],
  };
  const table = new PeerTable(KEEPALIVE, {
    changed: () => seen.changed++,
    log: (_level, message) => seen.logs.push(message),
    unreachable: (container, instance, silentFor) =>
      seen.unreachable.push(`${container} ${instance} ${silentFor}`),
    lost: (peer, lastSeen) => seen.lost.push([peer, lastSeen]),
  }, timers);
  return { clock, timers, table, seen };
}

const routes = (name: string, instance: string): RouteTable => ({
  [name]: { balance: "round_robin", instances: [{ i: instance, n: `@b/w1` }], q: 7 },
});

Deno.test("a linked peer heard within its keepalive is pinged at each beat; one silent for longer is declared unreachable and its link closed", async () => {
  const { clock, table, seen } = world();
  const link = fakeLink();
  const b = table.linked("b", link, ["api"]);
  await clock.advance(900);
  table.heard(b);
  await clock.advance(1_000);
  table.beat();
  assert.deepEqual(link.sent, [{ k: "ping" }]);
  assert.equal(link.closed, false, "heard 1000 ms ago: not yet");
  await clock.advance(1);
  table.beat();
  assert.equal(link.closed, true);
  assert.match(seen.logs.at(-1)!, /runtime "b" silent for 1001 ms: unreachable/);
});

Deno.test("a peer whose link is lost is away: its instances reported unreachable, its containers held for, then gone after twice its keepalive", async () => {
  const { clock, table, seen } = world();
  const link = fakeLink();
  const b = table.linked("b", link, ["api"]);
  assert.deepEqual(table.routes().api.instances, [], "known by name until its routes arrive");
  assert.equal(table.routes().api.w, 1);
  table.announced(b, routes("api", "api#0.1"));
  await clock.advance(300);
  assert.equal(table.unlinked(b, link), true);
  assert.deepEqual(seen.unreachable, ["api api#0.1 300"]);
  assert.deepEqual(seen.lost, [["b", 1_000]]);
  assert.deepEqual(table.routes().api, { balance: "round_robin", instances: [], w: 1, q: 7 });
  assert.equal(table.snapshot()[0].state, "connecting");
  await clock.advance(2 * KEEPALIVE - 1);
  assert.equal(table.snapshot()[0].state, "connecting", "still held for");
  await clock.advance(1);
  assert.equal(table.snapshot()[0].state, "gone");
  assert.deepEqual(table.routes(), {}, "its containers are dropped: senders fail fast");
  assert.equal(table.send("b", { k: "ping" }), false);
});

Deno.test("a peer that links again while away is not dropped, and an old link closing later changes nothing", async () => {
  const { clock, table, seen } = world();
  const first = fakeLink();
  const b = table.linked("b", first, ["api"]);
  table.unlinked(b, first);
  await clock.advance(KEEPALIVE);
  const second = fakeLink();
  table.linked("b", second, ["api"]);
  await clock.advance(10 * KEEPALIVE);
  assert.equal(table.snapshot()[0].state, "connected");
  assert.equal(table.unlinked(b, first), false, "not its current link");
  assert.equal(seen.lost.length, 1);
});

Deno.test("a link replaced by a newer one is closed", () => {
  const { table } = world();
  const first = fakeLink();
  table.linked("b", first, []);
  table.linked("b", fakeLink(), []);
  assert.equal(first.closed, true);
});

Deno.test("after close, a link that ends holds nothing for and sets no timer", () => {
  const { clock, table, seen } = world();
  const link = fakeLink();
  const b = table.linked("b", link, ["api"]);
  table.close();
  assert.equal(table.unlinked(b, link), true);
  assert.deepEqual([seen.lost, seen.unreachable], [[], []]);
  assert.equal(clock.pending, 0);
});

Deno.test("a joining runtime is refused for our own name, an unexpected name, or a container another runtime runs (unless shared)", () => {
  const { table } = world();
  table.linked("c", fakeLink(), ["billing"]);
  const join = (n: string, c: string[]) => ({ k: "join" as const, n, c });
  const context = { self: "a", own: ["api"], shared: (name: string) => name === "moving" };
  assert.match(table.refusal(join("a", []), undefined, context)!, /this runtime's own name "a"/);
  assert.match(table.refusal(join("x", []), "b", context)!, /expected "b" at that address/);
  assert.match(table.refusal(join("b", ["api"]), "b", context)!, /both runtimes run "api"/);
  assert.match(
    table.refusal(join("b", ["billing"]), "b", context)!,
    /"billing" already runs on runtime "c"/,
  );
  assert.equal(table.refusal(join("b", ["moving", "orders"]), "b", context), null);
});

// The dial loop itself, on the fake clock: a host nothing listens at fails at once, and is
// dialed again after 100, 200, 400, … ms, never more than 5 s apart.
Deno.test("an unreachable host is redialed with backoff: 100 ms doubling up to 5 s", async () => {
  const clock = new FakeClock();
  const dials: number[] = [];
  const hub: Hub = {
    routes: {},
    attachPeer() {},
    detach() {},
    reportRefused() {},
    send() {},
  };
  const spec: TransportsSpec = {
    name: "a",
    secret: "s".repeat(32),
    keepalive: 1_000,
    maxFrame: 1 << 20,
  };
  const federation = new Federation(hub, {
    spec,
    hosts: { b: { address: "memory://nothing-listens-here" } },
    transports: new TransportSet(defaultTransports()),
    clock,
    hooks: {
      ownNames: () => [],
      ownRoutes: () => ({}),
      changed() {},
      log: (_level, message) => {
        if (message.startsWith("cannot link to b")) dials.push(clock.now() - 1_000);
      },
      unreachable() {},
    },
  });
  await federation.start();
  await clock.advance(0);
  for (let i = 0; i < 8; i++) await clock.advance(5_000);
  assert.deepEqual(dials.slice(0, 9), [0, 100, 300, 700, 1_500, 3_100, 6_300, 11_300, 16_300]);
  await federation.close();
  assert.equal(clock.pending, 0, "no dial, beat or sleep left behind");
});
