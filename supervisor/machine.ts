/**
 * The supervisor as a state machine: `transition(state, input, { now, random }) → { state,
 * effects }`. Every decision a supervisor makes is taken here, from data alone: no clock of its
 * own, no timer, no randomness, no I/O. A runner (`runner.ts`) carries the effects out — starts
 * and stops instances, sets timers — and feeds back what happened as inputs. This module doc is
 * the specification.
 *
 * ## Flags (`SupervisorSpec`) — defaults as `config/` fills them in
 *
 * | flag | default | meaning |
 * |---|---|---|
 * | `strategy` | `one_for_one` | which siblings restart with a failed child (below) |
 * | `intensity` | `5` | more than this many restarts within `period` and it gives up |
 * | `period` | `10000` ms | the sliding window of `intensity` (a restart exactly `period` old counts) |
 * | `backoff.min` | `20` ms | delay before the first restart of a replica |
 * | `backoff.max` | `5000` ms | the delay doubles per consecutive failure up to this |
 * | `backoff.jitter` | `0.2` | ± share of randomness on each delay |
 *
 * ## A child (`ChildSpec`)
 *
 * | field | default | meaning |
 * |---|---|---|
 * | `name` | — | unique among the supervisor's children; instances are `name#replica.incarnation` |
 * | `restart` | `permanent` | `permanent` always restarts; `transient` only after an abnormal exit; `temporary` never |
 * | `replicas` | `1` | instances side by side (peers, not siblings) |
 * | `keepalive` | `5000` ms | silence after which an instance is unresponsive |
 * | `mode` | `worker` | only `inline` matters here: it shares the supervisor's isolate and is never pinged |
 *
 * Graceful stops (`shutdown:`) are the instance's business: a stop effect says `graceful`,
 * `graceful-then-kill` or `kill`, and the runner's instance keeps the timeout.
 *
 * ## Decisions
 *
 * When an instance ends on its own, it leaves the routes at once (`exit` event), what it held is
 * released (its own children stop), and then `strategy.ts` decides, by restart type × exit reason ×
 * the `on_error` verdict (`stop` leaves it, `escalate` gives up at once):
 *
 * | decision | what follows |
 * |---|---|
 * | leave | the slot stays `stopped`; a child with no replica left is `held` (a sibling's restart does not start it) |
 * | restart, `one_for_one` | the failed replica alone |
 * | restart, `one_for_all` | every other live instance stops (reverse start order), then every replica of every child starts, in order |
 * | restart, `rest_for_one` | the children after it stop (reverse order), then the failed replica and every replica of those children start, in order |
 * | give up | no more restarts; every child stops in reverse start order; then it fails upward (`give_up` effect) |
 *
 * A restart counts once toward intensity however many instances it restarts. A `temporary` sibling
 * stopped by a restart is not started again (and is `held`); a `held` sibling is not touched. The
 * restart waits for the stops, then for the backoff (`min·2^(n-1)` up to `max`, ±jitter, `n` the
 * replica's consecutive failures, reset once it stayed up for `max(1 s, backoff.max)`), then starts
 * the children one after another. If a start in the plan fails, that is a failure like any other
 * (an `exit` event, a decision, intensity) — fed back as an input, so the supervisor keeps
 * answering calls while a child keeps failing to start. Two siblings failing in the same turn are
 * one restart: a slot another plan already claimed is not decided again.
 *
 * An instance silent for longer than its `keepalive` is reported `unresponsive` and killed; its
 * exit is then a failure like any other.
 *
 * ## States
 *
 * The supervisor is `running`, `stopping` (shutdown under way), `stopped`, or `gave_up`. Each
 * replica's slot is in a `Phase`: `starting`, `running`, `stopping`, `failed` (ended on its own,
 * being decided; shown as `restarting`), `restarting` (a plan or `rt.restart` will start it) or
 * `stopped`. Restart plans and calls under way are state too (`RestartPlan`, `Operation`), never
 * closures.
 *
 * ## Calls
 *
 * | call | semantics |
 * |---|---|
 * | `add` | starts the child's replicas in parallel; if one fails the others are killed, the child is removed and the call fails with the first failure (replica order) |
 * | `remove` | stops every replica with the mode asked; the child leaves once all are stopped |
 * | `restart` | stops then starts every replica; counts no restart toward intensity |
 * | `scale` | starts new replicas; surplus ones leave the tree at once and stop, last first, listed as draining (`leaving`) until stopped |
 * | `replace` | rolls one replica at a time (`_rollout.ts`): new replica 0 starts beside the old (no traffic), the switch once it runs (with `restart`, a rolling restart of the same spec: each new replica counts one restart more than its predecessor, and the old replicas keep their routes until their turn), then old replica i stops (the call's stop mode, `graceful-then-kill` unless given) before new replica i+1 starts — never more than N + 1 instances; replica 0 failing leaves the old child serving; a later one failing stops the rollout, the new child adopts the old instances still running, and the call fails with a `RolloutError`; a `replace`, `restart` or `scale` of the name meanwhile is refused |
 * | `update` | takes the new spec; nothing restarts |
 * | `shutdown` | cancels plans and the heartbeat, stops the children one at a time in reverse start order (replacements aside first) |
 *
 * ## What the runner promises
 *
 * Every `start` effect is answered by exactly one `started` or `start_failed`, every `stop` by one
 * `stopped`, every `release` by one `released`, every `set_timer` not cleared by one `timer`. An
 * instance's own end is reported once as `exited`. Inputs are handled one at a time, in order.
 *
 * @example A crash restarts the child after its backoff
 * ```ts
 * import assert from "node:assert/strict";
 * import { initialState } from "./state.ts";
 * import { transition } from "./machine.ts";
 * const flags = { strategy: "one_for_one" as const, intensity: 5, period: 10_000,
 *   backoff: { min: 20, max: 5_000, jitter: 0 } };
 * const at = { now: 0, random: 0.5 };
 * const spec = { name: "api", restart: "permanent" as const, replicas: 1, keepalive: 5_000,
 *   mode: "worker" };
 * let { state, effects } = transition(initialState("root", flags), { type: "add", op: 1, spec }, at);
 * const start = effects.find((e) => e.kind === "start")!;
 * ({ state } = transition(state, { type: "started", key: start.key }, at));
 * ({ state, effects } = transition(state, {
 *   type: "exited", key: start.key, reason: { kind: "error", message: "boom" },
 * }, at));
 * ({ state, effects } = transition(state, { type: "released", key: start.key }, at));
 * const timer = effects.find((e) => e.kind === "set_timer")!;
 * assert.equal(timer.kind, "set_timer");
 * assert.equal(timer.delay, 20);
 * ```
 *
 * @module
 */
import type { Effect, Moment, SupervisorInput, Transition } from "./messages.ts";
import type { ChildSpec } from "./spec.ts";
import { type Failure, instanceId, type SupervisorState, type Wait } from "./state.ts";
import {
  changed,
  draft,
  emit,
  holding,
  RESTARTING,
  STOPPED,
  stopSlot,
  type Turn,
} from "./_draft.ts";
import { heartbeatFired, silence } from "./_liveness.ts";
import { exited, planProgress, released, restartFailed } from "./_recovery.ts";
import {
  add,
  advanceCall,
  remove,
  reorder,
  replace,
  restart,
  scale,
  setFlags,
  shutdown,
  update,
} from "./_calls.ts";

export type { Effect, Moment, Silence, SupervisorInput, Transition } from "./messages.ts";
export type {
  Child,
  Operation,
  Phase,
  RestartPlan,
  Slot,
  SlotState,
  SupervisorState,
  SupervisorStatus,
} from "./state.ts";
export { initialState } from "./state.ts";

/**
 * Moves a supervisor: the state after `input`, and the effects the runner must carry out, in
 * order. Never changes `state`; reads the clock and randomness only from `moment`.
 *
 * @param state The supervisor now.
 * @param input A call, or what the runner saw happen.
 * @param moment The clock and a random number in [0, 1).
 * @returns The new state and its effects.
 * @throws {TypeError} Only for an input of an unknown type (a bug, not a runtime condition).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { initialState, transition } from "./machine.ts";
 * const flags = { strategy: "one_for_one" as const, intensity: 5, period: 10_000,
 *   backoff: { min: 20, max: 5_000, jitter: 0.2 } };
 * const spec = { name: "db", restart: "permanent" as const, replicas: 2, keepalive: 5_000,
 *   mode: "process" };
 * const { effects } = transition(initialState("root", flags), { type: "add", op: 1, spec }, {
 *   now: 0, random: 0.5,
 * });
 * assert.equal(effects.filter((e) => e.kind === "start").length, 2);
 * ```
 */
export function transition<S extends ChildSpec>(
  state: SupervisorState<S>,
  input: SupervisorInput<S>,
  moment: Moment,
): Transition<S> {
  const fx: Effect<S>[] = [];
  const t: Turn<S> = { s: draft(state), fx, now: moment.now, random: moment.random };
  switch (input.type) {
    case "add":
      add(t, input.op, input.spec);
      break;
    case "remove":
      remove(t, input.op, input.name, input.mode);
      break;
    case "restart":
      restart(t, input.op, input.name, input.mode);
      break;
    case "scale":
      scale(t, input.op, input.name, input.replicas);
      break;
    case "replace":
      replace(t, input.op, input.spec, { mode: input.mode, restart: input.restart });
      break;
    case "update":
      update(t, input.op, input.spec);
      break;
    case "set_flags":
      setFlags(t, input.flags);
      break;
    case "reorder":
      reorder(t, input.names);
      break;
    case "shutdown":
      shutdown(t, input.op, input.message);
      break;
    case "started":
      started(t, input.key);
      break;
    case "start_failed":
      startFailed(t, input.key, input.error);
      break;
    case "stopped":
      stopped(t, input.key, input.done);
      break;
    case "exited":
      exited(t, input.key, input.reason);
      break;
    case "released":
      released(t, input.key);
      break;
    case "timer":
      if (!heartbeatFired(t, input.id)) notify(t, input.id, "timer", null);
      break;
    case "silence":
      silence(t, input.readings);
      break;
    default: {
      const never: never = input;
      throw new TypeError(`unknown supervisor input ${JSON.stringify(never)}`);
    }
  }
  return { state: t.s, effects: t.fx };
}

/** Instance `key` takes messages (or, if the supervisor stopped meanwhile, is killed). */
function started<S extends ChildSpec>(t: Turn<S>, key: number): void {
  const found = holding(t, key);
  const phase = found?.slot.phase;
  if (found && phase?.state === "starting") {
    const { child, slot } = found;
    if (t.s.status !== "running") {
      stopSlot(t, child, slot, "kill", `supervisor ${t.s.name} stopped`, "stopped");
    } else {
      slot.phase = { state: "running", key };
      slot.startedAt = t.now;
      t.fx.push({ kind: "running", key });
      changed(t);
      const instance = instanceId(child.spec.name, slot);
      const { incarnation } = slot;
      emit(t, { type: "start", container: child.spec.name, instance, incarnation });
      if (phase.cause !== "start") {
        emit(t, {
          type: "restart",
          container: child.spec.name,
          instance,
          incarnation,
          delay: phase.delay,
        });
      }
    }
  }
  notify(t, key, "start", null);
}

/**
 * Instance `key` could not start. Its caller hears the error; a restart plan's failed start is a
 * failure of the child. A start cancelled by a stop is no failure.
 */
function startFailed<S extends ChildSpec>(t: Turn<S>, key: number, error: unknown): void {
  const found = holding(t, key);
  let failure: Failure | null = null;
  if (found?.slot.phase.state === "starting") {
    const { child, slot } = found;
    const cause = found.slot.phase.cause;
    slot.phase = STOPPED;
    failure = { key, error };
    // Decided before the plan moves on, so a new plan can claim the siblings still to start.
    if (cause === "plan") restartFailed(t, child, slot, key, error);
  }
  notify(t, key, "start", failure);
}

/** A stop of instance `key` ended: gone, or still there after a graceful-only stop gave up. */
function stopped<S extends ChildSpec>(t: Turn<S>, key: number, done: boolean): void {
  const found = holding(t, key);
  let failure: Failure | null = null;
  const phase = found?.slot.phase;
  const id = found ? instanceId(found.child.spec.name, found.slot) : `#${key}`;
  if (found && phase?.state === "stopping") {
    const { child, slot } = found;
    slot.phase = !done
      ? { ...phase, inFlight: false }
      : child.removed || phase.then === "stopped"
      ? STOPPED
      : RESTARTING;
    // A replica a scale-down took out is over once stopped: nothing lists it any more.
    if (done && child.leaving?.includes(slot)) {
      child.leaving = child.leaving.filter((s) => s !== slot);
      if (child.leaving.length === 0) delete child.leaving;
    }
    changed(t);
  }
  if (!done) {
    failure = {
      key,
      error: new Error(
        `instance ${id} did not stop gracefully in time; stop it with mode "kill"`,
      ),
    };
  }
  notify(t, key, "stop", failure);
}

/**
 * Tells the plans and calls waiting on `id` that it happened. A start waited for is also over
 * when its instance was stopped first (the start was cancelled: no failure of the start).
 */
function notify<S extends ChildSpec>(
  t: Turn<S>,
  id: number,
  on: Wait["on"],
  failure: Failure | null,
): void {
  const matches = (w: Wait) => w.id === id && (w.on === on || (w.on === "start" && on === "stop"));
  for (const plan of [...t.s.plans]) {
    if (!t.s.plans.includes(plan) || !plan.waiting.some(matches)) continue;
    plan.waiting = plan.waiting.filter((w) => !matches(w));
    if (plan.waiting.length === 0) planProgress(t, plan);
  }
  for (const call of [...t.s.operations]) {
    if (!t.s.operations.includes(call) || !call.waiting.some(matches)) continue;
    const exact = call.waiting.some((w) => matches(w) && w.on === on);
    call.waiting = call.waiting.filter((w) => !matches(w));
    if (failure && exact) call.failures = [...call.failures, failure];
    if (call.waiting.length === 0) advanceCall(t, call);
  }
}
