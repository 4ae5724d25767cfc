// The placement manager alone, with a fake runtime and a clock moved by hand: which agent each
// policy chooses, what a lost agent's containers do during and after its lease, the fencing of a
// returning agent, and how long a placement may wait for an answer. No real timer.
import type { SupervisorEvent } from "../../supervisor/events.ts";
import assert from "node:assert/strict";
import { validateContainer } from "../../config/topology.ts";
import { PlacementManager } from "../../distribution/_placement.ts";
import type { Envelope } from "../../protocol/envelope.ts";
import { FakeClock, flush } from "../_fake_clock.ts";

const hosts = { a: { address: "tcp://a:1" }, b: { address: "tcp://b:1" } };
const spec = (name: string, extra: Record<string, unknown> = {}) =>
  validateContainer(name, { module: "./m.ts", mode: "remote", ...extra }, {
    baseUrl: "file:///app/",
    hosts,
  });

/** A fake runtime whose agents answer every placement at once (`ok: answer`), or never. */
function fake(answer: boolean | "never" = true) {
  const clock = new FakeClock();
  const sent: [string, Envelope][] = [];
  const events: string[] = [];
  let manager!: PlacementManager;
  const site = {
    send(peer: string, env: Envelope) {
      sent.push([peer, env]);
      // The agent answers at once.
      if (env.k === "place" && answer !== "never") {
        queueMicrotask(() =>
          manager.control(peer, { k: "placed", n: env.n, e: env.e, ok: answer })
        );
      }
      return true;
    },
    liveInstances: () => 1,
    changed() {},
    log() {},
    logFrom() {},
    emit(e: SupervisorEvent) {
      events.push(`${e.type} ${"container" in e ? e.container : e.supervisor}`);
    },
  };
  return {
    clock,
    sent,
    events,
    make(policy: "spread" | "least_loaded", lease = 50) {
      manager = new PlacementManager(site, { policy, lease, clock });
      return manager;
    },
  };
}

const join = (n: string, p: { n: string; e: number }[] = []): Extract<Envelope, { k: "join" }> => ({
  k: "join",
  n,
  c: p.map((x) => x.n),
  a: { permissions: {} },
  p,
});

const hostOf = (m: PlacementManager, name: string) =>
  m.snapshot().find((s) => s.name === name)!.host;

Deno.test("spread: each container goes to the agent running the fewest from here; ties by name", async () => {
  const f = fake();
  const m = f.make("spread");
  m.joined("b", join("b"));
  m.joined("a", join("a"));
  await m.add([spec("x")], 1000);
  await m.add([spec("y")], 1000);
  await m.add([spec("z")], 1000);
  assert.deepEqual([hostOf(m, "x"), hostOf(m, "y"), hostOf(m, "z")], ["a", "b", "a"]);
  m.close();
});

Deno.test("least_loaded: fewest containers as agents report, then least memory", async () => {
  const f = fake();
  const m = f.make("least_loaded");
  m.joined("a", join("a"));
  m.joined("b", join("b"));
  m.control("a", { k: "load", c: 3, m: 100 });
  m.control("b", { k: "load", c: 1, m: 900 });
  await m.add([spec("x")], 1000);
  assert.equal(hostOf(m, "x"), "b");
  m.control("a", { k: "load", c: 1, m: 100 });
  m.control("b", { k: "load", c: 1, m: 900 });
  await m.add([spec("y")], 1000);
  assert.equal(hostOf(m, "y"), "a", "same count: less memory wins");
  m.close();
});

Deno.test("a pinned container waits for its agent, then is placed there", async () => {
  const f = fake();
  const m = f.make("spread");
  m.joined("a", join("a"));
  await m.add([spec("x", { host: "b" })], 0);
  assert.equal(m.snapshot()[0].state, "waiting");
  assert.equal(m.routes().x.w, 1, "senders hold messages for it meanwhile");
  m.joined("b", join("b"));
  await flush();
  assert.deepEqual([hostOf(m, "x"), m.snapshot()[0].state], ["b", "running"]);
  m.close();
});

Deno.test("a lost agent's containers are held through its lease (+100 ms), then placed elsewhere with a new epoch", async () => {
  const f = fake();
  const m = f.make("spread", 80);
  m.joined("a", join("a"));
  m.joined("b", join("b"));
  await m.add([spec("x")], 1000);
  assert.equal(hostOf(m, "x"), "a");
  m.lost("a", f.clock.now());
  assert.equal(m.snapshot()[0].state, "held");
  assert.equal(m.acceptsRoute("a", "x"), false, "the lost agent's routes are not taken");
  await f.clock.advance(179);
  assert.equal(m.snapshot()[0].state, "held", "not before the lease (80) and margin (100) run out");
  await f.clock.advance(1);
  const x = m.snapshot()[0];
  assert.deepEqual([x.host, x.state, x.epoch, x.restarts], ["b", "running", 2, 1]);
  assert.deepEqual(f.events, ["start x", "exit x", "start x", "restart x"]);
  // The lost agent returns still running epoch 1: it is told to stop it.
  f.sent.length = 0;
  m.joined("a", join("a", [{ n: "x", e: 1 }]));
  assert.deepEqual(f.sent, [["a", { k: "unplace", n: "x", e: 1 }]]);
  assert.equal(m.acceptsRoute("a", "x"), false);
  assert.equal(m.acceptsRoute("b", "x"), true);
  m.close();
});

Deno.test("a refusal from the agent fails the placement with the agent's error", async () => {
  const f = fake(false);
  const m = f.make("spread");
  m.joined("a", join("a"));
  await assert.rejects(m.add([spec("x")], 1000), /refused/);
  assert.equal(m.snapshot()[0].state, "failed");
  m.close();
});

Deno.test("an agent's announced lease, when longer than the root's, decides when its containers move", async () => {
  const f = fake();
  const m = f.make("spread", 20);
  m.joined("a", { ...join("a"), a: { permissions: {}, lease: 150 } });
  m.joined("b", join("b"));
  await m.add([spec("x")], 1000);
  assert.equal(hostOf(m, "x"), "a");
  m.lost("a", f.clock.now());
  await f.clock.advance(249);
  assert.equal(m.snapshot()[0].state, "held", "the agent may still run it: not moved yet");
  await f.clock.advance(1);
  assert.equal(hostOf(m, "x"), "b");
  m.close();
});

Deno.test("the lease counts from when the agent was last heard, not from when its loss was noticed", async () => {
  const f = fake();
  const m = f.make("spread", 500);
  m.joined("a", join("a"));
  m.joined("b", join("b"));
  await m.add([spec("x")], 1000);
  const lastSeen = f.clock.now();
  await f.clock.advance(400); // the link is declared lost only now
  m.lost("a", lastSeen);
  await f.clock.advance(199);
  assert.equal(m.snapshot()[0].state, "held");
  await f.clock.advance(1);
  assert.equal(hostOf(m, "x"), "b", "moved 600 ms after it was last heard");
  m.close();
});

Deno.test("a placement its agent never answers fails after 30 s, naming the agent", async () => {
  const f = fake("never");
  const m = f.make("spread");
  m.joined("a", join("a"));
  const added = m.add([spec("x")], 60_000).then(() => null, (e: Error) => e);
  await f.clock.advance(29_999);
  assert.equal(m.snapshot()[0].state, "placing");
  await f.clock.advance(1);
  const error = await added;
  assert.match(String(error), /no answer from agent "a" within 30000 ms/);
  assert.equal(m.snapshot()[0].state, "failed");
  m.close();
});

Deno.test("start waits for an agent at most the time it was given; the container then stays held for", async () => {
  const f = fake();
  const m = f.make("spread");
  let settled = false;
  const added = m.add([spec("x")], 10_000).then(() => (settled = true));
  await f.clock.advance(9_999);
  assert.equal(settled, false);
  await f.clock.advance(1);
  await added;
  assert.equal(m.snapshot()[0].state, "waiting");
  assert.equal(m.routes().x.w, 1);
  m.joined("a", join("a"));
  await flush();
  assert.equal(m.snapshot()[0].state, "running", "placed as soon as an agent links");
  m.close();
});

Deno.test("closing the manager cancels every timer it set", async () => {
  const f = fake();
  const m = f.make("spread", 1_000);
  m.joined("a", join("a"));
  m.joined("b", join("b"));
  await m.add([spec("x")], 1000);
  m.lost("a", f.clock.now());
  assert.ok(f.clock.pending > 0);
  m.close();
  assert.equal(f.clock.pending, 0);
});

Deno.test("an agent's supervision events are kept only when well formed and about a container placed on it", async () => {
  const f = fake();
  const m = f.make("spread");
  m.joined("a", join("a"));
  m.joined("b", join("b"));
  await m.add([spec("x", { host: "a" }), spec("y", { host: "b" })], 0);
  f.events.length = 0;
  const restart = { type: "restart", container: "x", instance: "x#0.1", incarnation: 2, delay: 0 };
  m.control("b", { k: "event", e: restart }); // b speaks of a's container
  m.control("a", { k: "event", e: { ...restart, delay: "soon" } }); // malformed
  m.control("a", { k: "event", e: { ...restart, instance: "y#0.1", container: "x" } }); // mismatched
  m.control("a", { k: "event", e: { type: "escalate", supervisor: "x" } }); // not a placement event
  assert.deepEqual(f.events, []);
  assert.equal(m.snapshot().find((s) => s.name === "x")?.restarts, 0);
  m.control("a", { k: "event", e: restart });
  assert.deepEqual(f.events, ["restart x"]);
  assert.equal(m.snapshot().find((s) => s.name === "x")?.restarts, 1);
  m.close();
});

Deno.test("a placement carries max_memory to the agent, which measures and restarts the container", async () => {
  const f = fake();
  const m = f.make("spread");
  m.joined("a", join("a"));
  await m.add([spec("x", { max_memory: "64MiB" }), spec("y")], 1000);
  const placed = f.sent.filter(([, env]) => env.k === "place") as [
    string,
    Extract<Envelope, { k: "place" }>,
  ][];
  assert.deepEqual(placed.map(([, env]) => [env.n, env.s.max_memory]), [
    ["x", 64 * 2 ** 20],
    ["y", undefined],
  ]);
  // What the agent reads back is the same limit.
  const read = validateContainer("x", { ...placed[0][1].s, mode: "process" }, {
    baseUrl: "file:///app/",
  });
  assert.equal(read.maxMemory, 64 * 2 ** 20);
  m.close();
});

Deno.test("an agent's usage figures are kept only for the instances of containers placed on it, each report replacing the last", async () => {
  const f = fake();
  const m = f.make("spread");
  m.joined("a", join("a"));
  m.joined("b", join("b"));
  await m.add([spec("x", { host: "a" }), spec("y", { host: "b" })], 0);
  const usage = (name: string) => m.snapshot().find((s) => s.name === name)?.usage;
  assert.equal(usage("x"), undefined, "no report yet");
  m.control("a", {
    k: "load",
    c: 1,
    m: 100,
    u: [["x#0.1", 30_000_000, 2.5], ["y#0.1", 1, 1], ["z#0.1", 1, 1]], // y is b's; z is no one's
  });
  assert.deepEqual(usage("x"), { "x#0.1": { memoryBytes: 30_000_000, cpuPercent: 2.5 } });
  assert.equal(usage("y"), undefined, "a cannot speak for b's container");
  m.control("a", { k: "load", c: 1, m: 100, u: [["x#0.2", 31_000_000, null]] });
  assert.deepEqual(usage("x"), { "x#0.2": { memoryBytes: 31_000_000, cpuPercent: null } });
  m.close();
});
