// The supervisor's state machine against OTP's supervisor_SUITE, case by case: the pure core driven
// on a hand-moved clock (tests/supervisor/_sim.ts), no timer, worker or process. Each test's name
// is the OTP case, then the behaviour it pins.
import assert from "node:assert/strict";
import { DEFAULTS, validateTopology } from "../../config/topology.ts";
import { TopologyError } from "../../protocol/errors.ts";
import type { ExitReason } from "../../protocol/envelope.ts";
import type { RestartType } from "../../supervisor/spec.ts";
import { childReports } from "../../supervisor/views.ts";
import { child, crash, Sim } from "./_sim.ts";

const normal: ExitReason = { kind: "normal", message: "done" };
const stoppedOnItsOwn: ExitReason = { kind: "stopped", message: "stop requested" };

/** Instance ids of the effects of one kind from index `from` on. */
function ids(sim: Sim, kind: "start" | "stop", from = 0): string[] {
  return sim.effects.slice(from).flatMap((e) =>
    e.kind === kind ? [sim.instances.get(e.key)!.id] : []
  );
}

// --- flags and child specs ---------------------------------------------------------------------

Deno.test("sup_flags: invalid supervisor flags are refused with the key named, before anything starts", () => {
  const bad: [Record<string, unknown>, string][] = [
    [{ strategy: "one4one" }, "supervisor.strategy"],
    [{ intensity: -1 }, "supervisor.intensity"],
    [{ period: "soon" }, "supervisor.period"],
    [{ backoff: { min: "2s", max: "1s" } }, "supervisor.backoff.max"],
    [{ backoff: { jitter: 2 } }, "supervisor.backoff.jitter"],
  ];
  for (const [supervisor, key] of bad) {
    assert.throws(
      () => validateTopology({ supervisor, containers: {} }, { baseUrl: "file:///app/" }),
      (e: Error) => e instanceof TopologyError && e.key === key,
      key,
    );
  }
  const { supervisor } = validateTopology({ containers: {} }, { baseUrl: "file:///app/" });
  assert.deepEqual(supervisor, {
    strategy: "one_for_one",
    intensity: 5,
    period: 10_000,
    backoff: { min: 20, max: 5_000, jitter: 0.2 },
  });
});

Deno.test("child_specs: a bad child spec names its key; defaults are permanent, 1 replica, 5 s shutdown and keepalive", () => {
  const bad: [Record<string, unknown>, string][] = [
    [{ module: "a.ts", restart: "always" }, "containers.a.restart"],
    [{ module: "a.ts", replicas: -1 }, "containers.a.replicas"],
    [{ module: "a.ts", shutdown: "never" }, "containers.a.shutdown"],
  ];
  for (const [a, key] of bad) {
    assert.throws(
      () => validateTopology({ containers: { a } }, { baseUrl: "file:///app/" }),
      (e: Error) => e instanceof TopologyError && e.key === key,
      key,
    );
  }
  const [a] = validateTopology({ containers: { a: { module: "a.ts" } } }, {
    baseUrl: "file:///app/",
  }).containers;
  assert.deepEqual(
    [a.restart, a.replicas, a.shutdown, a.keepalive],
    ["permanent", 1, 5_000, 5_000],
  );
  assert.equal(DEFAULTS.container.restart, "permanent");
});

// --- restart types -----------------------------------------------------------------------------

function endsWith(restart: RestartType, reason: ExitReason): Sim {
  const sim = new Sim();
  sim.add(child("c", { restart }), child("other"));
  sim.exit("c", reason);
  sim.settle();
  return sim;
}

Deno.test("permanent_normal: a permanent child that ends normally is started again", () => {
  const sim = endsWith("permanent", normal);
  assert.deepEqual(sim.states("c"), ["running"]);
  assert.deepEqual(sim.seen("restart"), ["c#0.2"]);
});

Deno.test("permanent_shutdown: a permanent child that ends with `stopped` on its own is started again", () => {
  const sim = endsWith("permanent", stoppedOnItsOwn);
  assert.deepEqual([sim.states("c"), sim.incarnations("c")], [["running"], [2]]);
});

Deno.test("transient_normal: a transient child that ends normally stays stopped and is held", () => {
  const sim = endsWith("transient", normal);
  assert.deepEqual(sim.states("c"), ["stopped"]);
  assert.equal(childReports(sim.state, sim.now)[0].held, true);
  assert.deepEqual(sim.seen("restart"), []);
  assert.deepEqual(sim.state.history, [], "a child left stopped counts no restart");
});

Deno.test("transient_shutdown: a transient child that ends with `stopped` stays stopped", () => {
  const sim = endsWith("transient", stoppedOnItsOwn);
  assert.deepEqual(sim.states("c"), ["stopped"]);
});

Deno.test("transient_abnormal: a transient child that crashes, errs, is killed or goes silent is started again", () => {
  for (const kind of ["error", "crashed", "killed", "unresponsive"] as const) {
    const sim = endsWith("transient", { kind, message: kind });
    assert.deepEqual([sim.states("c"), sim.incarnations("c")], [["running"], [2]], kind);
  }
});

Deno.test("temporary_normal / temporary_abnormal: a temporary child is never started again", () => {
  for (const reason of [normal, stoppedOnItsOwn, crash]) {
    const sim = endsWith("temporary", reason);
    assert.deepEqual(sim.states("c"), ["stopped"], reason.kind);
    assert.deepEqual(sim.seen("restart"), []);
  }
});

Deno.test("temporary_bystander: a temporary child stopped by a sibling's restart stays stopped and counts toward nothing", () => {
  // intensity 1: had the bystander's stop counted as a restart, this supervisor would give up.
  const sim = new Sim({ strategy: "one_for_all", intensity: 1 });
  sim.add(child("a"), child("t", { restart: "temporary" }));
  sim.exit("a");
  sim.settle();
  assert.deepEqual([sim.states("a"), sim.states("t")], [["running"], ["stopped"]]);
  assert.deepEqual(sim.incarnations("t"), [1]);
  assert.equal(childReports(sim.state, sim.now)[1].held, true);
  assert.deepEqual(sim.state.history, [0]);
  assert.equal(sim.state.status, "running");
});

// --- strategies --------------------------------------------------------------------------------

Deno.test("one_for_one: only the failed child restarts", () => {
  const sim = new Sim();
  sim.add(child("a"), child("b"), child("c"));
  const from = sim.effects.length;
  sim.exit("b");
  sim.settle();
  assert.deepEqual(ids(sim, "stop", from), []);
  assert.deepEqual(ids(sim, "start", from), ["b#0.2"]);
  assert.deepEqual([sim.incarnations("a"), sim.incarnations("c")], [[1], [1]]);
});

Deno.test("one_for_all: the others stop in reverse start order, then all start again in order", () => {
  const sim = new Sim({ strategy: "one_for_all" });
  sim.add(child("a"), child("b"), child("c"));
  const from = sim.effects.length;
  sim.exit("b");
  assert.deepEqual(ids(sim, "stop", from), ["c#0.1", "a#0.1"]);
  sim.settle();
  assert.deepEqual(ids(sim, "start", from), ["a#0.2", "b#0.2", "c#0.2"]);
  assert.ok(sim.running("a", "b", "c"));
  assert.deepEqual(sim.state.history, [0], "one restart, however many children");
});

Deno.test("rest_for_one: the children after the failed one stop (reverse), then it and they start (in order)", () => {
  const sim = new Sim({ strategy: "rest_for_one" });
  sim.add(child("a"), child("b"), child("c"), child("d"));
  const from = sim.effects.length;
  sim.exit("b");
  assert.deepEqual(ids(sim, "stop", from), ["d#0.1", "c#0.1"]);
  sim.settle();
  assert.deepEqual(ids(sim, "start", from), ["b#0.2", "c#0.2", "d#0.2"]);
  assert.deepEqual(sim.incarnations("a"), [1]);
});

Deno.test("one_for_one with replicas: a failed replica restarts alone; under one_for_all every replica restarts", () => {
  const one = new Sim();
  one.add(child("r", { replicas: 3 }));
  one.exit("r", crash, 1);
  one.settle();
  assert.deepEqual(one.incarnations("r"), [1, 2, 1]);
  const all = new Sim({ strategy: "one_for_all" });
  all.add(child("r", { replicas: 3 }));
  all.exit("r", crash, 1);
  all.settle();
  assert.deepEqual(all.incarnations("r"), [2, 2, 2]);
});

// --- intensity and escalation ------------------------------------------------------------------

for (const strategy of ["one_for_one", "one_for_all", "rest_for_one"] as const) {
  Deno.test(`${strategy}_escalation: more than intensity restarts within period: every child stops in reverse order, then it fails upward`, () => {
    const sim = new Sim({ strategy, intensity: 1 });
    sim.add(child("a"), child("b"), child("c"));
    sim.exit("b");
    sim.settle();
    const from = sim.effects.length;
    sim.exit("b");
    // Which incarnations the first restart left running, by strategy.
    const live = {
      one_for_one: ["c#0.1", "a#0.1"],
      one_for_all: ["c#0.2", "a#0.2"],
      rest_for_one: ["c#0.2", "a#0.1"],
    };
    assert.deepEqual(ids(sim, "stop", from), live[strategy]);
    assert.equal(sim.state.status, "gave_up");
    assert.deepEqual(sim.gaveUp.map((g) => [g.done, g.giveUp.why, g.giveUp.child]), [
      [false, "intensity", "b"],
      [true, "intensity", "b"],
    ]);
    const escalate = sim.events.find((e) => e.type === "escalate");
    assert.deepEqual(escalate, {
      type: "escalate",
      supervisor: "root",
      intensity: 1,
      period: 10_000,
      why: "intensity",
      child: "b",
      failure: "boom",
    });
    assert.deepEqual(["a", "b", "c"].map((n) => sim.states(n)[0]), [
      "stopped",
      "stopped",
      "stopped",
    ]);
    const starts = sim.of("start").length;
    sim.settle();
    assert.equal(sim.of("start").length, starts, "nothing starts after giving up");
  });
}

Deno.test("multiple_restarts: restarts spaced wider than the period never trip intensity (sliding window)", () => {
  const sim = new Sim({ intensity: 1, period: 1_000 });
  sim.add(child("a"));
  for (let i = 0; i < 10; i++) {
    sim.exit("a");
    sim.settle();
    sim.advance(1_001);
  }
  assert.equal(sim.state.status, "running");
  assert.deepEqual(sim.incarnations("a"), [11]);
  assert.equal(sim.seen("restart").length, 10);
});

Deno.test("one_for_all_other_child_fails_restart: a sibling that fails to start during a group restart makes the group restart again", () => {
  const sim = new Sim({ strategy: "one_for_all" });
  sim.add(child("a"), child("b"));
  sim.failing.set("b", 1);
  sim.exit("a");
  sim.settle();
  assert.deepEqual(sim.seen("exit"), ["a#0.1", "b#0.2"]);
  const exits = sim.events.filter((e) => e.type === "exit") as { reason: ExitReason }[];
  assert.match(exits[1].reason.message, /^restart failed: b#0\.2 cannot start/);
  assert.ok(sim.running("a", "b"));
  assert.deepEqual([sim.incarnations("a"), sim.incarnations("b")], [[3], [3]]);
  assert.equal(sim.state.history.length, 2, "the failed restart counted toward intensity");
});

Deno.test("rest_for_one_other_child_fails_restart: a later sibling that fails to start is restarted from itself on", () => {
  const sim = new Sim({ strategy: "rest_for_one" });
  sim.add(child("a"), child("b"), child("c"));
  sim.failing.set("c", 1);
  sim.exit("b");
  sim.settle();
  assert.ok(sim.running("a", "b", "c"));
  assert.deepEqual(
    [sim.incarnations("a"), sim.incarnations("b"), sim.incarnations("c")],
    [[1], [2], [3]],
  );
});

Deno.test("hanging_restart_loop: a child that keeps failing to start is retried after each backoff until intensity gives up", () => {
  const sim = new Sim({ intensity: 3, period: 60_000, backoff: { min: 100, max: 100 } });
  sim.add(child("h"), child("other"));
  sim.failing.set("h", Infinity);
  sim.exit("h");
  for (let attempt = 1; attempt <= 3; attempt++) {
    sim.advance(99);
    assert.equal(sim.seen("exit").length, attempt, `no attempt before the backoff (${attempt})`);
    sim.advance(1);
  }
  assert.deepEqual(sim.seen("exit"), ["h#0.1", "h#0.2", "h#0.3", "h#0.4"]);
  assert.equal(sim.state.status, "gave_up");
  assert.equal(sim.gaveUp[0].giveUp.failure, "restart failed: h#0.4 cannot start");
  assert.deepEqual(sim.states("other"), ["stopped"]);
});

Deno.test("hanging_restart_loop: the supervisor answers remove and shutdown while a child keeps failing to start", () => {
  const sim = new Sim({ backoff: { min: 100, max: 100 } });
  sim.add(child("h"), child("other"));
  sim.failing.set("h", Infinity);
  sim.exit("h");
  sim.advance(250);
  assert.ok(sim.seen("exit").length >= 3, "still looping");
  const removed = sim.call({ type: "remove", name: "other", mode: "graceful-then-kill" });
  assert.equal(sim.reply(removed), null);
  const shutdown = sim.call({ type: "shutdown", message: "bye" });
  assert.equal(sim.reply(shutdown), null);
  assert.equal(sim.state.status, "stopped");
  const starts = sim.of("start").length;
  sim.advance(10_000);
  assert.equal(sim.of("start").length, starts, "the loop ended with the shutdown");
  assert.equal(sim.timers.size, 0, "no timer left behind");
});

// --- order, stop and shutdown ------------------------------------------------------------------

Deno.test("order_of_children: children start in order and stop in reverse, each after the later one is gone", () => {
  const sim = new Sim();
  sim.auto.stop = false;
  sim.add(child("a"), child("b", { replicas: 2 }), child("c"));
  assert.deepEqual(ids(sim, "start"), ["a#0.1", "b#0.1", "b#1.1", "c#0.1"]);
  const op = sim.call({ type: "shutdown", message: "bye" });
  const stopping = () => sim.stopping().map((k) => sim.instances.get(k)!.id);
  assert.deepEqual(stopping(), ["c#0.1"]);
  sim.stopped(sim.stopping()[0]);
  assert.deepEqual(stopping(), ["b#0.1", "b#1.1"], "the replicas of one child stop together");
  for (const key of sim.stopping()) sim.stopped(key);
  assert.deepEqual(stopping(), ["a#0.1"]);
  assert.equal(sim.reply(op), undefined);
  sim.stopped(sim.stopping()[0]);
  assert.equal(sim.reply(op), null);
  assert.equal(sim.state.status, "stopped");
});

Deno.test("shutdown_timeout: a graceful stop asks and lets the instance keep its timeout; graceful-only fails and leaves it stopping; kill ends it", () => {
  const sim = new Sim();
  sim.stubborn.add("s");
  sim.add(child("s"), child("t"));
  const graceful = sim.call({ type: "remove", name: "s", mode: "graceful" });
  assert.match(
    String((sim.reply(graceful) as Error).message),
    /^instance s#0\.1 did not stop gracefully in time; stop it with mode "kill"$/,
  );
  assert.deepEqual(sim.states("s"), ["stopping"]);
  const kill = sim.call({ type: "remove", name: "s", mode: "kill" });
  assert.equal(sim.reply(kill), null);
  assert.deepEqual(sim.state.children.map((c) => c.spec.name), ["t"]);
  // The default: ask, and kill once the instance's shutdown time is over (the runner's part).
  sim.call({ type: "remove", name: "t", mode: "graceful-then-kill" });
  assert.equal(sim.of("stop").at(-1)!.mode, "graceful-then-kill");
});

Deno.test("sup_stop_brutal_kill: a kill stop ends the instance at once", () => {
  const sim = new Sim();
  sim.auto.stop = false;
  sim.add(child("a"));
  sim.call({ type: "remove", name: "a", mode: "kill" });
  assert.deepEqual(sim.of("stop").map((e) => e.mode), ["kill"]);
});

Deno.test("shutdown completes while children exit on their own: their ends are not failures", () => {
  const sim = new Sim();
  sim.auto.stop = false;
  sim.add(child("a"), child("b"));
  const op = sim.call({ type: "shutdown", message: "bye" });
  sim.exit("b"); // crashes during its stop
  sim.send({ type: "stopped", key: sim.key("b"), done: true });
  sim.exit("a", normal); // not asked yet: ends by itself before its turn
  assert.equal(sim.reply(op), undefined);
  sim.send({ type: "stopped", key: sim.key("a"), done: true });
  assert.equal(sim.reply(op), null);
  assert.deepEqual(sim.seen("exit"), [], "no exit event, no decision");
  assert.equal(sim.timers.size, 0);
});

// --- counting and backoff ----------------------------------------------------------------------

Deno.test("count_children / count_restarting_children: running, restarting, held and restarts per child", () => {
  const sim = new Sim({ backoff: { min: 100, max: 100 } });
  sim.add(child("a", { replicas: 2 }), child("b", { restart: "transient" }), child("c"));
  sim.exit("b", normal);
  sim.exit("c");
  const counts = () =>
    childReports(sim.state, sim.now).map((c) => ({
      name: c.spec.name,
      running: c.running,
      restarts: c.restarts,
      held: c.held,
      states: c.instances.map((i) => i.state).join(),
    }));
  assert.deepEqual(counts(), [
    { name: "a", running: 2, restarts: 0, held: false, states: "running,running" },
    { name: "b", running: 0, restarts: 0, held: true, states: "stopped" },
    { name: "c", running: 0, restarts: 0, held: false, states: "restarting" },
  ]);
  sim.settle();
  assert.deepEqual(counts()[2], {
    name: "c",
    running: 1,
    restarts: 1,
    held: false,
    states: "running",
  });
  assert.equal(childReports(sim.state, sim.now + 250)[2].instances[0].uptime, 250);
});

Deno.test("restart_backoff: the delay doubles per consecutive failure up to max, and resets after a stable period", () => {
  const sim = new Sim({ backoff: { min: 20, max: 80, jitter: 0 } });
  sim.add(child("a"));
  const delays: number[] = [];
  for (let i = 0; i < 4; i++) {
    sim.exit("a");
    delays.push(sim.of("set_timer").at(-1)!.delay);
    sim.settle();
  }
  assert.deepEqual(delays, [20, 40, 80, 80]);
  assert.deepEqual(
    sim.events.filter((e) => e.type === "restart").map((e) => (e as { delay: number }).delay),
    [20, 40, 80, 80],
  );
  sim.advance(1_001); // up for longer than max(1 s, backoff.max)
  sim.exit("a");
  assert.equal(sim.of("set_timer").at(-1)!.delay, 20);
});

Deno.test("restart_backoff: jitter spreads the delay by ±jitter with the random number given", () => {
  for (const [random, delay] of [[0, 80], [0.5, 100], [0.999999, 120]]) {
    const sim = new Sim({ backoff: { min: 100, max: 100, jitter: 0.2 } });
    sim.random = random;
    sim.add(child("a"));
    sim.exit("a");
    assert.equal(sim.of("set_timer").at(-1)!.delay, delay, `random ${random}`);
  }
});

// --- nesting -----------------------------------------------------------------------------------

Deno.test("nested supervisors: a leaf's failure restarts only the leaf; a child supervisor that gives up restarts its parent's group", () => {
  const outer = new Sim({ strategy: "one_for_all" });
  outer.add(child("parent"), child("sibling"));
  const inner = new Sim({ intensity: 1 }, "parent");
  inner.add(child("leaf"));
  inner.exit("leaf");
  inner.settle();
  assert.deepEqual(inner.incarnations("leaf"), [2]);
  assert.deepEqual(outer.seen("exit"), [], "the parent's supervisor saw nothing");
  assert.deepEqual([outer.incarnations("parent"), outer.incarnations("sibling")], [[1], [1]]);
  inner.exit("leaf");
  assert.equal(inner.gaveUp.at(-1)?.done, true);
  // The runtime turns a give-up into its container's failure (SupervisorGaveUpError).
  outer.exit("parent", { kind: "error", message: "SupervisorGaveUpError: parent gave up" });
  outer.settle();
  assert.deepEqual([outer.incarnations("parent"), outer.incarnations("sibling")], [[2], [2]]);
});
