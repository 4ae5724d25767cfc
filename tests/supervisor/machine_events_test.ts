// The supervisor's state machine beyond restarts: heartbeats, on_error verdicts, what its state
// says to the routes, and the machine's own guarantees (pure, deterministic, exhaustive).
import assert from "node:assert/strict";
import type { ExitReason } from "../../protocol/envelope.ts";
import { initialState, type SupervisorState, transition } from "../../supervisor/machine.ts";
import type { ChildSpec } from "../../supervisor/spec.ts";
import { childReports, routeViews } from "../../supervisor/views.ts";
import { child, crash, flags, Sim } from "./_sim.ts";

// --- heartbeats --------------------------------------------------------------------------------

Deno.test("an instance silent beyond its keepalive is reported unresponsive, killed and restarted", () => {
  const sim = new Sim();
  sim.add(child("w", { mode: "worker", keepalive: 300 }));
  const key = sim.key("w");
  sim.advance(600);
  assert.deepEqual(sim.seen("unresponsive"), [], "answering: nothing happens");
  sim.instances.get(key)!.silentFor = 400;
  sim.advance(75);
  assert.deepEqual(sim.events.filter((e) => e.type === "unresponsive"), [
    { type: "unresponsive", container: "w", instance: "w#0.1", silentFor: 400 },
  ]);
  assert.deepEqual(sim.of("kill").map((e) => e.reason), [
    { kind: "unresponsive", message: "no heartbeat for 400 ms" },
  ]);
  sim.settle();
  assert.deepEqual([sim.states("w"), sim.incarnations("w")], [["running"], [2]]);
  assert.equal(childReports(sim.state, sim.now)[0].instances[0].lastExit?.kind, "unresponsive");
});

Deno.test("an unresponsive event always reports a silence longer than the keepalive (in whole ms)", () => {
  const sim = new Sim();
  sim.add(child("w", { mode: "worker", keepalive: 300 }));
  sim.advance(600); // past its start grace
  sim.instances.get(sim.key("w"))!.silentFor = 300.4;
  sim.advance(75);
  assert.deepEqual(sim.seen("unresponsive"), [], "300.4 ms is 300 ms: not beyond 300");
  sim.instances.get(sim.key("w"))!.silentFor = 300.6;
  sim.advance(75);
  const [event] = sim.events.filter((e) => e.type === "unresponsive");
  assert.equal((event as { silentFor: number }).silentFor, 301);
});

Deno.test("the heartbeat runs at a quarter of the smallest keepalive (10 to 250 ms); inline children alone need none", () => {
  const sim = new Sim();
  sim.add(child("i"));
  assert.equal(sim.state.heartbeat, null);
  const every = () => sim.state.heartbeat?.every;
  sim.add(child("slow", { mode: "worker", keepalive: 5_000 }));
  assert.equal(every(), 250);
  sim.add(child("quick", { mode: "process", keepalive: 100 }));
  assert.equal(every(), 25);
  sim.add(child("quicker", { mode: "worker", keepalive: 20 }));
  assert.equal(every(), 10);
  sim.add(child("slower", { mode: "worker", keepalive: 60_000 }));
  assert.equal(every(), 10, "never slows down again");
  assert.equal(sim.timers.size, 1, "one timer per supervisor");
  sim.call({ type: "shutdown", message: "bye" });
  assert.equal(sim.timers.size, 0);
});

// --- on_error verdicts -------------------------------------------------------------------------

Deno.test("on_error stop: even a permanent child stays stopped, is held, and the supervisor says why", () => {
  const sim = new Sim({ intensity: 0 });
  sim.add(child("a"), child("b"));
  const reason: ExitReason = { kind: "error", message: "DbError: gone", action: "stop" };
  sim.exit("a", reason);
  sim.settle();
  assert.deepEqual(sim.states("a"), ["stopped"]);
  assert.equal(childReports(sim.state, sim.now)[0].held, true);
  assert.deepEqual(sim.logs.filter((l) => l.level === "error").map((l) => l.message), [
    "a#0.1 stays stopped (on_error: stop): DbError: gone",
  ]);
  assert.equal(sim.state.status, "running", "intensity 0, yet nothing was counted");
});

Deno.test("on_error escalate: the supervisor gives up at once, whatever its intensity", () => {
  const sim = new Sim({ intensity: 1_000 });
  sim.add(child("a"), child("b"));
  sim.exit("b", { kind: "error", message: "Corrupt: x", action: "escalate" });
  assert.equal(sim.state.status, "gave_up");
  assert.deepEqual(sim.gaveUp.map((g) => [g.done, g.giveUp]), [
    [false, { why: "escalate", child: "b", failure: "Corrupt: x" }],
    [true, { why: "escalate", child: "b", failure: "Corrupt: x" }],
  ]);
  assert.deepEqual(sim.states("a"), ["stopped"]);
});

// --- what the routes see -----------------------------------------------------------------------

Deno.test("routes: a restarting child is waited for; a held one is not; a removed one's running instances only drain", () => {
  const sim = new Sim({ backoff: { min: 100, max: 100 } });
  sim.add(child("r"), child("h", { restart: "transient" }), child("x"));
  sim.exit("r");
  sim.exit("h", { kind: "normal", message: "done" });
  sim.auto.stop = false;
  sim.call({ type: "remove", name: "x", mode: "graceful-then-kill" });
  const views = Object.fromEntries(routeViews(sim.state).map((v) => [v.spec.name, v]));
  assert.deepEqual([views.r.live, views.r.waiting], [[], true]);
  assert.deepEqual([views.h.live, views.h.waiting], [[], false]);
  assert.deepEqual(
    [views.x.live, views.x.draining.map((i) => i.id), views.x.waiting],
    [[], ["x#0.1"], false],
  );
});

Deno.test("routes: while shutting down, nothing is waited for", () => {
  const sim = new Sim({ backoff: { min: 100, max: 100 } });
  sim.add(child("a"), child("b"));
  sim.auto.stop = false;
  sim.exit("b");
  sim.call({ type: "shutdown", message: "bye" });
  assert.ok(routeViews(sim.state).every((v) => !v.waiting));
});

// --- the machine itself ------------------------------------------------------------------------

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

Deno.test("transition() never changes the state it is given, and gives the same answer for the same input and moment", () => {
  const sim = new Sim({ strategy: "one_for_all" });
  sim.add(child("a", { replicas: 2 }), child("b", { mode: "worker" }));
  sim.auto.release = false;
  sim.exit("a", crash, 1);
  const before: SupervisorState<ChildSpec> = deepFreeze(structuredClone(sim.state));
  const input = { type: "released" as const, key: sim.of("release")[0].key };
  const moment = { now: 5, random: 0.3 };
  const first = transition(before, input, moment);
  const second = transition(before, input, moment);
  assert.deepEqual(first, second);
  assert.ok(first.effects.some((e) => e.kind === "stop"), "it did decide something");
  for (const call of ["add", "shutdown"] as const) {
    const frozen = deepFreeze(structuredClone(sim.state));
    transition(
      frozen,
      call === "add"
        ? { type: "add", op: 1, spec: child("c") }
        : { type: "shutdown", op: 1, message: "bye" },
      moment,
    );
  }
});

Deno.test("transition() refuses an input of an unknown type with a TypeError", () => {
  const state = initialState<ChildSpec>("root", flags());
  assert.throws(
    () => transition(state, { type: "reboot" } as never, { now: 0, random: 0 }),
    (e: Error) => e instanceof TypeError && /unknown supervisor input/.test(e.message),
  );
});

Deno.test("the clock comes only from the moment: a start at now=1234 has run 0 ms at 1234 and 66 ms at 1300", () => {
  const sim = new Sim();
  sim.now = 1_234;
  sim.add(child("a"));
  assert.equal(childReports(sim.state, 1_234)[0].instances[0].uptime, 0);
  assert.equal(childReports(sim.state, 1_300)[0].instances[0].uptime, 66);
});
