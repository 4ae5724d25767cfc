// The placement manager alone, with a fake runtime: which agent each policy chooses, what a lost
// agent's containers do during and after its lease, and the fencing of a returning agent.
import assert from "node:assert/strict";
import { validateContainer } from "../../config/topology.ts";
import type { Envelope } from "../../protocol/envelope.ts";
import { PlacementManager } from "../../runtime/_placement.ts";

const hosts = { a: { address: "tcp://a:1" }, b: { address: "tcp://b:1" } };
const spec = (name: string, extra: Record<string, unknown> = {}) =>
  validateContainer(name, { module: "./m.ts", mode: "remote", ...extra }, {
    baseUrl: "file:///app/",
    hosts,
  });

function fake(answer = true) {
  const sent: [string, Envelope][] = [];
  const events: string[] = [];
  let manager!: PlacementManager;
  const site = {
    send(peer: string, env: Envelope) {
      sent.push([peer, env]);
      // The agent answers at once.
      if (env.k === "place") {
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
    emit(e: { type: string; container: string }) {
      events.push(`${e.type} ${e.container}`);
    },
  };
  return {
    sent,
    events,
    make(policy: "spread" | "least_loaded", lease = 50) {
      manager = new PlacementManager(site, policy, lease);
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
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual([hostOf(m, "x"), m.snapshot()[0].state], ["b", "running"]);
  m.close();
});

Deno.test("a lost agent's containers are held through its lease, then placed elsewhere with a new epoch", async () => {
  const f = fake();
  const m = f.make("spread", 80);
  m.joined("a", join("a"));
  m.joined("b", join("b"));
  await m.add([spec("x")], 1000);
  assert.equal(hostOf(m, "x"), "a");
  m.lost("a", performance.now());
  assert.equal(m.snapshot()[0].state, "held");
  assert.equal(m.acceptsRoute("a", "x"), false, "the lost agent's routes are not taken");
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(m.snapshot()[0].state, "held", "not before the lease runs out");
  await new Promise((r) => setTimeout(r, 150));
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
  m.lost("a", performance.now());
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(m.snapshot()[0].state, "held", "the agent may still run it: not moved yet");
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(hostOf(m, "x"), "b");
  m.close();
});
