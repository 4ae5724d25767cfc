// A replacement rolls one replica at a time (supervisor/_rollout.ts), on the pure core: the order
// of its starts and stops, never more than N + 1 instances nor fewer than N listening, and what a
// failed start, a shutdown, a removal or another call mid-rollout leave.
import assert from "node:assert/strict";
import { RolloutError } from "../../protocol/errors.ts";
import { childReports } from "../../supervisor/views.ts";
import { child, Sim } from "./_sim.ts";

/** Instances of `name` that exist (started and not gone), and those that listen (running, not asked to stop). */
function census(sim: Sim, name: string) {
  const all = [...sim.instances.values()].filter((i) => i.name === name && i.status !== "exited");
  return {
    alive: all.length,
    listening: all.filter((i) => i.status === "running" && !i.stop).length,
  };
}

/**
 * Answers every start and stop by hand, one at a time, checking the bounds after each: at most
 * `most` instances, and at least `least` listening once the first new one runs.
 */
function driveChecked(sim: Sim, name: string, most: number, least: number): string[] {
  const steps: string[] = [];
  for (let turn = 0; turn < 100; turn++) {
    const [starting] = sim.starting();
    const [stopping] = sim.stopping();
    if (starting !== undefined) {
      steps.push(`start ${sim.instances.get(starting)!.id}`);
      sim.started(starting);
    } else if (stopping !== undefined) {
      steps.push(`stop ${sim.instances.get(stopping)!.id}`);
      sim.stopped(stopping);
    } else if (sim.timers.size > 0) sim.settle();
    else return steps;
    const { alive, listening } = census(sim, name);
    assert.ok(alive <= most, `${alive} instances after ${steps.at(-1)}`);
    assert.ok(listening >= least, `${listening} listening after ${steps.at(-1)}`);
  }
  throw new Error("the rollout did not end in 100 steps");
}

function rolling(replicas: number) {
  const sim = new Sim();
  sim.add(child("a", { replicas }));
  sim.auto.start = false;
  sim.auto.stop = false;
  return sim;
}

Deno.test("replace rolls one replica at a time: new 0 starts beside the old ones, then each old replica drains before the next new one starts", () => {
  const sim = rolling(3);
  const op = sim.call({ type: "replace", spec: child("a", { replicas: 3, keepalive: 1_000 }) });
  const steps = driveChecked(sim, "a", 4, 3);
  assert.deepEqual(steps, [
    "start a#0.2",
    "stop a#0.1",
    "start a#1.2",
    "stop a#1.1",
    "start a#2.2",
    "stop a#2.1",
  ]);
  assert.equal(sim.reply(op), null);
  assert.deepEqual(sim.states("a"), ["running", "running", "running"]);
  assert.deepEqual(sim.incarnations("a"), [2, 2, 2]);
  assert.deepEqual(sim.state.aside, []);
  assert.ok(sim.of("stop").every((e) => e.mode === "graceful-then-kill"), "old ones drain");
});

Deno.test("the tree lists the replaced replicas still there beside the new ones (a new one not started yet is shown by its old one), and only the new ones count as running", () => {
  const sim = rolling(2);
  sim.call({ type: "replace", spec: child("a", { replicas: 2 }) });
  sim.started(sim.starting()[0]);
  sim.settle();
  const [report] = childReports(sim.state, sim.now);
  assert.deepEqual(report.instances.map((i) => [i.id, i.state]), [
    ["a#0.2", "running"],
    ["a#0.1", "stopping"],
    ["a#1.1", "running"],
  ]);
  assert.equal(report.running, 1);
});

Deno.test("replace to more or fewer replicas rolls too: never more than the larger count plus one", () => {
  const up = rolling(2);
  const grow = up.call({ type: "replace", spec: child("a", { replicas: 3 }) });
  assert.deepEqual(driveChecked(up, "a", 3, 2), [
    "start a#0.2",
    "stop a#0.1",
    "start a#1.2",
    "stop a#1.1",
    "start a#2.2",
  ]);
  assert.equal(up.reply(grow), null);
  assert.deepEqual(up.incarnations("a"), [2, 2, 2]);

  const down = rolling(3);
  const shrink = down.call({ type: "replace", spec: child("a", { replicas: 1 }) });
  assert.deepEqual(driveChecked(down, "a", 4, 1), [
    "start a#0.2",
    "stop a#0.1",
    "stop a#1.1",
    "stop a#2.1",
  ]);
  assert.equal(down.reply(shrink), null);
  assert.deepEqual(down.states("a"), ["running"]);
  assert.deepEqual(down.state.aside, []);
});

Deno.test("a later new replica that cannot start stops the rollout: the old ones still running are adopted, none stops, and the call fails with a RolloutError naming the replica", () => {
  const sim = rolling(3);
  const op = sim.call({ type: "replace", spec: child("a", { replicas: 3, keepalive: 1_000 }) });
  sim.started(sim.starting()[0]); // a#0.2
  sim.settle();
  sim.stopped(sim.stopping()[0]); // a#0.1 gone
  const stopsBefore = sim.of("stop").length;
  sim.startFails(sim.starting()[0], new Error("port busy")); // a#1.2
  const error = sim.reply(op);
  assert.ok(error instanceof RolloutError, String(error));
  assert.equal(error.container, "a");
  assert.equal(error.replica, 1);
  assert.match(error.message, /a#1\.2 could not start: port busy/);
  assert.match(error.message, /a#0\.2 run the new spec; a#1\.1, a#2\.1 keep running/);
  assert.equal(sim.of("stop").length, stopsBefore, "no old replica stops without a successor");
  assert.deepEqual(sim.states("a"), ["running", "running", "running"]);
  assert.deepEqual(sim.incarnations("a"), [2, 1, 1]);
  assert.deepEqual(sim.state.aside, [], "nothing is left outside the tree");
  assert.deepEqual(census(sim, "a"), { alive: 3, listening: 3 });
  // Adopted: the new child owns it, and restarts it with the new spec when it fails.
  sim.auto.start = true;
  sim.exit("a", undefined, 1);
  sim.settle();
  const last = sim.of("start").at(-1)!;
  assert.equal(last.instance, "a#1.2");
  assert.equal(last.spec.keepalive, 1_000);
  assert.deepEqual(sim.states("a"), ["running", "running", "running"]);
});

Deno.test("a new replica that cannot start where its old one is already gone is restarted by the usual rules (backoff, an exit event)", () => {
  const sim = rolling(2);
  const op = sim.call({ type: "replace", spec: child("a", { replicas: 2 }) });
  sim.started(sim.starting()[0]); // a#0.2
  sim.settle();
  // The old a#1.1 crashes while set aside: it is not restarted (it is being replaced).
  const old = sim.state.aside[0];
  assert.equal(old.slots[1].phase.state, "running");
  const key = old.slots[1].phase.state === "running" ? old.slots[1].phase.key : -1;
  sim.instances.get(key)!.status = "exited";
  sim.send({ type: "exited", key, reason: { kind: "error", message: "old one died" } });
  sim.stopped(sim.stopping()[0]); // a#0.1 gone: now the new a#1.2
  sim.startFails(sim.starting()[0], new Error("no start"));
  const error = sim.reply(op);
  assert.ok(error instanceof RolloutError);
  assert.match(error.message, /a#1\.2 could not start: no start/);
  assert.ok(sim.seen("exit").includes("a#1.2"), sim.seen("exit").join());
  assert.deepEqual(sim.states("a"), ["running", "restarting"]);
  sim.auto.start = true;
  sim.settle(); // the backoff
  assert.deepEqual(sim.states("a"), ["running", "running"]);
  assert.deepEqual(sim.incarnations("a"), [2, 3]);
});

Deno.test("shutdown mid-rollout stops the old replicas left and the new ones, starts nothing more, and the rollout fails with a RolloutError", () => {
  const sim = rolling(3);
  const op = sim.call({ type: "replace", spec: child("a", { replicas: 3 }) });
  sim.started(sim.starting()[0]); // a#0.2
  sim.settle();
  sim.stopped(sim.stopping()[0]); // a#0.1 gone
  assert.equal(sim.starting().length, 1, "a#1.2 starting");
  const down = sim.call({ type: "shutdown", message: "bye" });
  sim.auto.stop = true;
  for (const key of sim.stopping()) sim.stopped(key);
  const startsBefore = sim.of("start").length;
  sim.settle();
  assert.equal(sim.of("start").length, startsBefore, "nothing starts after the shutdown");
  assert.equal(sim.reply(down), null);
  assert.equal(sim.state.status, "stopped");
  const error = sim.reply(op);
  assert.ok(error instanceof RolloutError, String(error));
  assert.match(error.message, /stopped at replica 1: supervisor "root" is stopping/);
  assert.deepEqual(census(sim, "a").alive, 0);
  assert.deepEqual(sim.state.aside, []);
});

Deno.test("remove mid-rollout stops the old replicas still serving as well as the new ones; the rollout fails", () => {
  const sim = rolling(2);
  const op = sim.call({ type: "replace", spec: child("a", { replicas: 2 }) });
  sim.started(sim.starting()[0]); // a#0.2
  sim.settle(); // a#0.1 draining
  sim.auto.stop = true;
  const removed = sim.call({ type: "remove", name: "a", mode: "graceful-then-kill" });
  for (const key of sim.stopping()) sim.stopped(key);
  assert.equal(sim.reply(removed), null);
  const error = sim.reply(op);
  assert.ok(error instanceof RolloutError, String(error));
  assert.match(error.message, /the container was removed/);
  assert.deepEqual(sim.state.children, []);
  assert.deepEqual(sim.state.aside, []);
  assert.equal(census(sim, "a").alive, 0);
  assert.equal(sim.starting().length, 0);
});

Deno.test("another replace, a restart or a scale of a container mid-rollout is refused; once it is done they work", () => {
  const sim = rolling(2);
  const op = sim.call({ type: "replace", spec: child("a", { replicas: 2 }) });
  const refused = [
    sim.call({ type: "replace", spec: child("a", { replicas: 2 }) }),
    sim.call({ type: "restart", name: "a", mode: "graceful-then-kill" }),
    sim.call({ type: "scale", name: "a", replicas: 4 }),
  ];
  for (const call of refused) {
    const error = sim.reply(call);
    assert.ok(error instanceof RangeError, String(error));
    assert.match(error.message, /container "a" is being replaced/);
  }
  sim.auto.start = true;
  sim.auto.stop = true;
  sim.started(sim.starting()[0]);
  sim.settle();
  assert.equal(sim.reply(op), null);
  const again = sim.call({ type: "replace", spec: child("a", { replicas: 2 }) });
  sim.settle();
  assert.equal(sim.reply(again), null);
  assert.deepEqual(sim.incarnations("a"), [3, 3]);
});
