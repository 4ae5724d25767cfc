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
  const context = { self: "a", own: new Set(["api"]), shared: (name: string) => name === "moving" };
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

// ---- who a name belongs to ------------------------------------------------------------------

const JOIN_CONTEXT = { self: "a", own: new Set(["front"]), shared: () => false };
const joinOf = (n: string, c: string[] = []) => ({ k: "join" as const, n, c });

Deno.test("a container name belongs to the peer that claimed it while that peer is connected or away, and is free once it is gone", async () => {
  const { clock, table } = world();
  const link = fakeLink();
  const b = table.linked("b", link, ["back"]);
  assert.equal(table.claimant("back", "evil"), "b");
  assert.equal(table.claimant("back", "b"), undefined, "its own claim does not stop it");
  assert.match(
    table.refusal(joinOf("c", ["back"]), undefined, JOIN_CONTEXT)!,
    /"back" already runs on runtime "b"/,
  );
  table.announced(b, routes("orders", "orders#0.1"));
  assert.equal(table.claimant("back", "evil"), undefined, "dropped from its routes: released");
  assert.equal(table.claimant("orders", "evil"), "b", "added by its routes: claimed");
  table.unlinked(b, link);
  await clock.advance(2 * KEEPALIVE - 1);
  assert.equal(table.claimant("orders", "evil"), "b", "away: still its");
  await clock.advance(1);
  assert.equal(table.claimant("orders", "evil"), undefined, "gone: free");
  // What it ran is still shown (and reserved against this runtime's own spawned children).
  assert.deepEqual(table.snapshot()[0].containers, ["orders"], "what a gone peer ran");
  assert.equal(table.refusal(joinOf("c", ["orders"]), undefined, JOIN_CONTEXT), null);
});

Deno.test("a runtime name linked and heard from cannot be taken by a second link; a silent one's can", async () => {
  const { clock, table } = world();
  const b = table.linked("b", fakeLink(), []);
  await clock.advance(KEEPALIVE);
  assert.match(
    table.refusal(joinOf("b"), undefined, JOIN_CONTEXT)!,
    /runtime "b" is already linked and was heard 1000 ms ago; a second link under its name is refused/,
  );
  assert.equal(
    table.refusal(joinOf("b"), "b", { ...JOIN_CONTEXT, replaces: () => true }),
    null,
    "unless the federation says this link replaces that one",
  );
  table.heard(b);
  await clock.advance(KEEPALIVE + 1);
  assert.equal(table.refusal(joinOf("b"), undefined, JOIN_CONTEXT), null, "silent: taken over");
});

Deno.test("a peer's runtime and container names follow the name pattern and are at most 128 characters; refusals quote them escaped", () => {
  const { table } = world();
  const refusal = (n: string, c: string[] = []) =>
    table.refusal(joinOf(n, c), undefined, JOIN_CONTEXT);
  const forged = refusal('x" (0 containers)\n2025-01-01 ERROR [runtime] forged')!;
  assert.ok(!forged.includes("\n"), forged);
  assert.match(
    forged,
    /^its name "x\\" \(0 containers\)\\n2025-01-01 ERROR \[runt…" is not a runtime name/,
  );
  assert.match(refusal("b".repeat(129))!, /is not a runtime name .*at most 128 characters/);
  assert.equal(refusal("b".repeat(128)), null);
  assert.match(refusal("9lives")!, /"9lives" is not a runtime name/);
  assert.match(refusal("b", ["ok", "a#b"])!, /^it lists "a#b" is not a container name/);
  assert.match(refusal("b", ["c".repeat(129)])!, /is not a container name/);
});

Deno.test("peers gone for good are forgotten beyond the last 64; hosts: entries are kept", async () => {
  const { clock, table } = world();
  table.peer("configured").address = "tcp://10.0.0.9:7000";
  for (let k = 0; k < 70; k++) {
    const link = fakeLink();
    const peer = table.linked(`ghost${k}`, link, [`svc${k}`]);
    table.unlinked(peer, link);
    await clock.advance(10);
  }
  await clock.advance(2 * KEEPALIVE);
  const names = table.snapshot().map((p) => p.name);
  assert.equal(names.length, 65);
  assert.ok(names.includes("configured"), "a host it dials is never forgotten");
  assert.ok(!names.includes("ghost5") && names.includes("ghost6") && names.includes("ghost69"));
});

Deno.test("claims are looked up, not scanned: 10,000 names against three peers of 10,000 each take milliseconds", () => {
  const { table } = world();
  const names = (prefix: string) => Array.from({ length: 10_000 }, (_, k) => `${prefix}${k}`);
  for (const peer of ["p", "q", "r"]) table.linked(peer, fakeLink(), names(peer));
  const join = joinOf("s", names("s"));
  const started = performance.now();
  assert.equal(table.refusal(join, undefined, JOIN_CONTEXT), null);
  for (const name of join.c) table.claimant(name, "s");
  // Scanning each peer's list for each name is 3 × 10^8 comparisons: seconds, not milliseconds.
  assert.ok(performance.now() - started < 150, `${performance.now() - started} ms`);
});

Deno.test("a beat that comes late (this isolate was busy) judges nobody: frames that arrived meanwhile are read first", async () => {
  const { clock, table } = world();
  const link = fakeLink();
  const b = table.linked("b", link, []);
  table.beat();
  await clock.advance(5 * KEEPALIVE); // a busy loop: no beat, no frame read
  table.beat();
  assert.equal(link.closed, false, "not judged on a late beat");
  table.heard(b); // its pings, read once the loop is free
  await clock.advance(table.beatEvery);
  table.beat();
  assert.equal(link.closed, false, "heard: alive");
  await clock.advance(KEEPALIVE + 1);
  table.beat(); // late again (more than two beats apart): still not judged
  assert.equal(link.closed, false);
  await clock.advance(table.beatEvery);
  table.beat();
  assert.equal(link.closed, true, "silent through a beat on time: unreachable");
});

Deno.test("a busy thread defers the verdict on a silent peer by one beat only: two late beats in a row judge", async () => {
  const { clock, table } = world();
  const link = fakeLink();
  table.linked("b", link, []);
  table.beat();
  await clock.advance(5 * KEEPALIVE);
  table.beat();
  assert.equal(link.closed, false);
  await clock.advance(5 * KEEPALIVE);
  table.beat();
  assert.equal(link.closed, true);
});
