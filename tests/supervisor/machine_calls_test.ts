// The supervisor's calls on the pure core — add, remove, restart, scale, replace, update — and
// their races with failures and restart plans (formerly pinned with real workers and real
// backoff timers in races_test.ts; here on a hand-moved clock).
import assert from "node:assert/strict";
import type { ExitReason } from "../../protocol/envelope.ts";
import { routeViews } from "../../supervisor/views.ts";
import { child, Sim } from "./_sim.ts";

const names = (sim: Sim) => sim.state.children.map((c) => c.spec.name);
const errorOf = (sim: Sim, op: number) => sim.reply(op) as Error;

// --- add ---------------------------------------------------------------------------------------

Deno.test("add: a replica that cannot start stops the others, frees the name and fails with the first failure in replica order", () => {
  const sim = new Sim();
  sim.auto.start = false;
  const op = sim.call({ type: "add", spec: child("x", { replicas: 3 }) });
  const [r0, r1, r2] = sim.starting();
  sim.startFails(r2, new Error("third"));
  sim.startFails(r1, new Error("second"));
  assert.equal(sim.reply(op), undefined, "still waiting for replica 0");
  sim.started(r0);
  assert.equal(errorOf(sim, op).message, "second");
  assert.deepEqual(sim.of("stop").map((e) => [e.key, e.mode]), [[r0, "kill"]]);
  assert.deepEqual(names(sim), []);
  sim.auto.start = true;
  const again = sim.call({ type: "add", spec: child("x") });
  assert.equal(sim.reply(again), null);
  assert.deepEqual(sim.incarnations("x"), [1]);
});

Deno.test("add: refused once the supervisor is stopped", () => {
  const sim = new Sim();
  sim.call({ type: "shutdown", message: "bye" });
  const op = sim.call({ type: "add", spec: child("late") });
  assert.equal(errorOf(sim, op).message, 'supervisor "root" is stopped');
});

// --- remove and restart ------------------------------------------------------------------------

Deno.test("remove: an unknown name is a RangeError listing what there is", () => {
  const sim = new Sim();
  sim.add(child("a"));
  const op = sim.call({ type: "remove", name: "ghost", mode: "graceful-then-kill" });
  assert.ok(sim.reply(op) instanceof RangeError);
  assert.equal(errorOf(sim, op).message, 'supervisor "root" has no container "ghost" (it has: a)');
});

for (const strategy of ["one_for_all", "rest_for_one"] as const) {
  Deno.test(`${strategy}: removing a child during a restart plan's backoff neither fails the plan nor brings it back`, () => {
    const sim = new Sim({ strategy, backoff: { min: 200, max: 200 } });
    sim.add(child("a"), child("b"));
    sim.exit("a");
    sim.advance(100);
    const op = sim.call({ type: "remove", name: "b", mode: "graceful-then-kill" });
    assert.equal(sim.reply(op), null);
    sim.settle();
    assert.deepEqual(names(sim), ["a"]);
    assert.deepEqual(sim.states("a"), ["running"]);
    assert.ok(!sim.of("start").some((e) => e.instance === "b#0.2"), "b never started again");
  });
}

Deno.test("restart during a rest_for_one backoff leaves no sibling stuck restarting", () => {
  const sim = new Sim({ strategy: "rest_for_one", backoff: { min: 200, max: 200 } });
  sim.add(child("a"), child("b"));
  sim.exit("a");
  const op = sim.call({ type: "restart", name: "a", mode: "graceful-then-kill" });
  assert.equal(sim.reply(op), null);
  assert.deepEqual(sim.states("a"), ["running"], "restarted at once, out of the plan");
  assert.deepEqual(sim.states("b"), ["restarting"], "still the plan's");
  sim.settle();
  assert.ok(sim.running("a", "b"));
  assert.deepEqual(sim.state.plans, []);
});

Deno.test("restart: stops then starts every replica, counts no restart toward intensity, and starts a held child again", () => {
  const sim = new Sim({ intensity: 0 });
  sim.add(child("m", { replicas: 2 }), child("t", { restart: "transient" }));
  sim.exit("t", { kind: "normal", message: "done" });
  for (const name of ["m", "m", "t"]) {
    assert.equal(sim.reply(sim.call({ type: "restart", name, mode: "graceful-then-kill" })), null);
  }
  assert.deepEqual(sim.incarnations("m"), [3, 3]);
  assert.deepEqual(sim.states("t"), ["running"]);
  assert.deepEqual(sim.seen("restart"), ["m#0.2", "m#1.2", "m#0.3", "m#1.3", "t#0.2"]);
  assert.deepEqual(sim.state.history, []);
  assert.equal(sim.state.status, "running");
});

Deno.test("restart and remove of the same child in one turn, either order: it is gone and its name is free", () => {
  for (const first of ["restart", "remove"] as const) {
    const sim = new Sim();
    sim.auto.stop = false;
    sim.add(child("a"));
    const calls =
      (first === "restart" ? ["restart", "remove"] as const : ["remove", "restart"] as const)
        .map((type) => sim.call({ type, name: "a", mode: "graceful-then-kill" }));
    sim.stopped(sim.stopping()[0]);
    assert.deepEqual(calls.map((op) => sim.reply(op)), [null, null], first);
    assert.deepEqual(names(sim), [], first);
    sim.add(child("a"));
    assert.deepEqual(sim.incarnations("a"), [1], first);
  }
});

// --- restart plans racing failures -------------------------------------------------------------

Deno.test("two siblings failing in the same turn under one_for_all count as one restart", () => {
  const sim = new Sim({ strategy: "one_for_all", intensity: 1 });
  sim.auto.release = false;
  sim.add(child("a"), child("b"));
  sim.exit("a");
  sim.exit("b");
  const [ra, rb] = sim.of("release").map((e) => e.key);
  sim.send({ type: "released", key: ra });
  sim.send({ type: "released", key: rb });
  sim.settle();
  assert.ok(sim.running("a", "b"));
  assert.deepEqual(sim.state.history, [0]);
  assert.equal(sim.state.status, "running");
});

Deno.test("a sibling stopped while a restart plan starts it is not reported as a failed restart", () => {
  const sim = new Sim({ strategy: "rest_for_one", intensity: 2 });
  sim.add(child("a"), child("b"));
  sim.auto.start = false;
  sim.exit("a");
  sim.settle();
  sim.started(sim.starting()[0]); // a#0.2; the plan now starts b#0.2
  const b = sim.starting()[0];
  sim.auto.stop = false;
  sim.exit("a"); // a fails again while b starts: the new plan stops b
  sim.startFails(b, new Error("stopped while starting")); // its start ends before its stop does
  sim.stopped(b);
  sim.settle();
  for (const key of sim.starting()) sim.started(key);
  sim.settle();
  for (const key of sim.starting()) sim.started(key);
  assert.ok(sim.running("a", "b"));
  assert.deepEqual(sim.seen("exit"), ["a#0.1", "a#0.2"]);
  assert.equal(sim.state.status, "running");
});

Deno.test("a sibling still stopping when the backoff would end is waited for, and held for meanwhile", () => {
  const sim = new Sim({ strategy: "one_for_all", backoff: { min: 300, max: 300 } });
  sim.add(child("a"), child("c"));
  sim.auto.stop = false;
  sim.exit("a");
  sim.advance(1_000);
  assert.deepEqual(sim.of("start").length, 2, "nothing started while c still stops");
  const c = routeViews(sim.state).find((v) => v.spec.name === "c")!;
  assert.deepEqual([c.live, c.waiting], [[], true], "senders hold messages for c");
  sim.stopped(sim.stopping()[0]);
  sim.settle();
  assert.ok(sim.running("a", "c"));
});

Deno.test("an exit reported twice, or a release of an instance no longer current, changes nothing", () => {
  const sim = new Sim();
  sim.add(child("a"));
  const key = sim.key("a");
  sim.exit("a");
  sim.send({ type: "exited", key, reason: { kind: "crashed", message: "again" } });
  sim.send({ type: "released", key });
  sim.settle();
  sim.send({ type: "released", key });
  assert.deepEqual(sim.seen("exit"), ["a#0.1"]);
  assert.deepEqual(sim.incarnations("a"), [2]);
  assert.equal(sim.state.history.length, 1);
});

// --- scale -------------------------------------------------------------------------------------

Deno.test("scale: new replicas start; surplus ones leave the tree at once and stop, last first", () => {
  const sim = new Sim();
  sim.add(child("m"));
  assert.equal(sim.reply(sim.call({ type: "scale", name: "m", replicas: 3 })), null);
  assert.deepEqual(sim.states("m"), ["running", "running", "running"]);
  sim.auto.stop = false;
  const down = sim.call({ type: "scale", name: "m", replicas: 1 });
  assert.deepEqual(sim.states("m"), ["running"]);
  assert.deepEqual(sim.of("stop").map((e) => sim.instances.get(e.key)!.id), ["m#2.1", "m#1.1"]);
  assert.equal(sim.reply(down), undefined, "until they are gone");
  for (const key of sim.stopping()) sim.stopped(key);
  assert.equal(sim.reply(down), null);
  const unknown = sim.call({ type: "scale", name: "ghost", replicas: 1 });
  assert.ok(sim.reply(unknown) instanceof RangeError);
});

Deno.test("scale: replicas scaled down stay listed as draining until stopped, so what they hold is answered", () => {
  const sim = new Sim();
  sim.add(child("m", { replicas: 3 }));
  sim.auto.stop = false;
  sim.call({ type: "scale", name: "m", replicas: 1 });
  const view = () => {
    const [v] = routeViews(sim.state).filter((r) => r.spec.name === "m");
    return { live: v.live.map((i) => i.id), draining: v.draining.map((i) => i.id) };
  };
  assert.deepEqual(view(), { live: ["m#0.1"], draining: ["m#2.1", "m#1.1"] });
  const [last, first] = sim.stopping();
  sim.stopped(first);
  sim.settle();
  assert.equal(view().draining.length, 1, "a stopped one is no longer listed");
  sim.stopped(last);
  sim.settle();
  assert.deepEqual(view(), { live: ["m#0.1"], draining: [] });
  assert.ok(!("leaving" in sim.state.children[0]), "nothing left behind");
});

// --- replace -----------------------------------------------------------------------------------

Deno.test("replace: the new replica 0 starts beside the old ones with no traffic, and takes over once it runs (the rest rolls one at a time: machine_rolling_test.ts)", () => {
  const sim = new Sim();
  sim.add(child("a", { replicas: 2 }));
  sim.auto.start = false;
  const op = sim.call({ type: "replace", spec: child("a", { replicas: 2, keepalive: 1_000 }) });
  const view = () => {
    const v = routeViews(sim.state).filter((r) => r.spec.name === "a");
    return v.map((r) => ({ live: r.live.map((i) => i.id), draining: r.draining.map((i) => i.id) }));
  };
  assert.deepEqual(view(), [{ live: ["a#0.1", "a#1.1"], draining: [] }], "staged: no traffic");
  assert.equal(sim.starting().length, 1, "one new replica at a time");
  sim.started(sim.starting()[0]);
  assert.deepEqual(view(), [
    { live: ["a#0.2"], draining: [] },
    { live: [], draining: ["a#0.1", "a#1.1"] },
  ]);
  assert.equal(sim.state.children[0].spec.keepalive, 1_000, "in the old one's place");
  assert.equal(sim.reply(op), undefined);
  sim.advance(0); // one timer turn: the new routes reach the senders first
  sim.started(sim.starting()[0]); // old a#0.1 drained (auto stop); now the new a#1.2
  assert.equal(sim.reply(op), null);
  assert.deepEqual(sim.state.aside, []);
  assert.deepEqual(sim.incarnations("a"), [2, 2]);
});

Deno.test("replace: a replacement that cannot start leaves the old instances serving and fails", () => {
  const sim = new Sim();
  sim.add(child("a", { replicas: 2 }));
  sim.failing.set("a", 1);
  const op = sim.call({ type: "replace", spec: child("a", { replicas: 2 }) });
  assert.equal(errorOf(sim, op).message, "a#0.2 cannot start");
  assert.deepEqual([sim.states("a"), sim.incarnations("a")], [["running", "running"], [1, 1]]);
  assert.deepEqual(sim.state.aside, []);
});

Deno.test("replace: abandoned when the old child was removed meanwhile", () => {
  const sim = new Sim();
  sim.add(child("a"));
  sim.auto.start = false;
  const op = sim.call({ type: "replace", spec: child("a") });
  sim.call({ type: "remove", name: "a", mode: "kill" });
  sim.started(sim.starting()[0]);
  assert.match(errorOf(sim, op).message, /replacement of "a" was abandoned/);
  assert.deepEqual([names(sim), sim.state.aside], [[], []]);
});

// --- update, flags, order ----------------------------------------------------------------------

Deno.test("update: the new spec applies from now on and nothing restarts; an unknown name is a RangeError", () => {
  const sim = new Sim();
  sim.add(child("a"));
  const starts = sim.of("start").length;
  assert.equal(
    sim.reply(sim.call({ type: "update", spec: child("a", { restart: "temporary" }) })),
    null,
  );
  assert.equal(sim.of("start").length, starts);
  sim.exit("a");
  sim.settle();
  assert.deepEqual(sim.states("a"), ["stopped"], "now temporary");
  assert.ok(sim.reply(sim.call({ type: "update", spec: child("zz") })) instanceof RangeError);
});

Deno.test("set_flags and reorder: a new strategy applies to the next failure; the new order to the next restart and stop", () => {
  const sim = new Sim();
  sim.add(child("a"), child("b"), child("c"));
  sim.send({ type: "set_flags", flags: { ...sim.state.flags, strategy: "one_for_all" } });
  sim.send({ type: "reorder", names: ["c", "b", "a"] });
  const from = sim.effects.length;
  sim.exit("b");
  sim.settle();
  const started = sim.effects.slice(from).flatMap((e) => e.kind === "start" ? [e.instance] : []);
  assert.deepEqual(started, ["c#0.2", "b#0.2", "a#0.2"]);
});

Deno.test("a transient child that ended normally is not started by a sibling's one_for_all restart (held)", () => {
  const sim = new Sim({ strategy: "one_for_all" });
  sim.add(child("a"), child("t", { restart: "transient" }));
  sim.exit("t", { kind: "normal", message: "done" } as ExitReason);
  sim.exit("a");
  sim.settle();
  assert.deepEqual([sim.states("a"), sim.states("t")], [["running"], ["stopped"]]);
});
