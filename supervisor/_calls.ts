/**
 * The calls a supervisor answers — add, remove, restart, scale, replace, update, shutdown — each
 * carried out in stages that wait for starts, stops or a timer, and ended with a `reply`.
 *
 * @module
 */
import type { ChildSpec, StopMode, SupervisorSpec } from "./spec.ts";
import type { Failure, Wait } from "./state.ts";
import {
  changed,
  childById,
  childNamed,
  type DraftChild,
  type DraftOp,
  finish,
  launch,
  newSlot,
  nextId,
  noSuchChild,
  reply,
  stopSlot,
  type Turn,
  waits,
} from "./_draft.ts";
import { unwatch, watch } from "./_liveness.ts";
import { cancelPlans } from "./_recovery.ts";
import { beginWalk, continueWalk } from "./_walk.ts";
import { advanceReplace, rollingNow, rolloutOf } from "./_rollout.ts";

export { replace } from "./_rollout.ts";

type Call<K extends DraftOp["kind"]> = Extract<DraftOp, { kind: K }>;

function refuse<S extends ChildSpec>(t: Turn<S>, op: number, error: Error): void {
  reply(t, op, { key: -1, error });
}

function begin<S extends ChildSpec>(t: Turn<S>, call: DraftOp): void {
  t.s.operations.push(call);
  if (call.waiting.length === 0) advanceCall(t, call);
}

/** Adds a child and starts its replicas. */
export function add<S extends ChildSpec>(t: Turn<S>, op: number, spec: S): void {
  if (t.s.status !== "running") {
    return refuse(t, op, new Error(`supervisor "${t.s.name}" is ${t.s.status}`));
  }
  const child: DraftChild<S> = {
    id: nextId(t),
    spec,
    slots: [],
    held: false,
    removed: false,
    staged: false,
  };
  t.s.children.push(child);
  watch(t, spec);
  for (let replica = 0; replica < spec.replicas; replica++) child.slots.push(newSlot(replica));
  const pending = waits(child.slots.map((slot) => launch(t, child, slot, "start")));
  const keys = pending.map((w) => w.id);
  begin(t, {
    kind: "add",
    op,
    child: child.id,
    stage: "start",
    keys,
    waiting: pending,
    failures: [],
  });
}

/** Stops every replica of child `name` and removes it. */
export function remove<S extends ChildSpec>(
  t: Turn<S>,
  op: number,
  name: string,
  mode: StopMode,
): void {
  const child = childNamed(t, name);
  if (!child) return refuse(t, op, noSuchChild(t, name));
  child.removed = true;
  child.held = true;
  const pending = waits(
    child.slots.map((slot) => stopSlot(t, child, slot, mode, "stopped by request", "stopped")),
  );
  // Mid-rollout, the old replicas still serving go too (the rollout then ends, failing).
  const rollout = rolloutOf(t, name);
  const old = rollout && rollout.child === child.id ? childById(t, rollout.old) : undefined;
  for (const slot of old?.slots ?? []) {
    const stop = stopSlot(t, old!, slot, mode, "stopped by request", "stopped");
    if (stop) pending.push(stop);
  }
  begin(t, { kind: "remove", op, child: child.id, waiting: pending, failures: [] });
}

/** Stops then starts every replica of child `name` again. */
export function restart<S extends ChildSpec>(
  t: Turn<S>,
  op: number,
  name: string,
  mode: StopMode,
): void {
  const child = childNamed(t, name);
  if (!child) return refuse(t, op, noSuchChild(t, name));
  if (rolloutOf(t, name)) return refuse(t, op, rollingNow(name));
  const pending = waits(
    child.slots.map((slot) => stopSlot(t, child, slot, mode, "restart requested", "restarting")),
  );
  begin(t, { kind: "restart", op, child: child.id, stage: "stop", waiting: pending, failures: [] });
}

/** Starts new replicas of child `name`, or stops the last ones. */
export function scale<S extends ChildSpec>(
  t: Turn<S>,
  op: number,
  name: string,
  replicas: number,
): void {
  const child = childNamed(t, name);
  if (!child) return refuse(t, op, noSuchChild(t, name));
  if (child.removed) return refuse(t, op, new RangeError(`container "${name}" is being removed`));
  if (rolloutOf(t, name)) return refuse(t, op, rollingNow(name));
  child.spec = { ...child.spec, replicas };
  if (replicas > 0) child.held = false;
  const pending: (Wait | null)[] = [];
  while (child.slots.length < replicas) {
    // A replica of that index still draining from a scale-down keeps its id: the new one is its
    // next incarnation, or the two would share an id and the old one's answers be refused.
    const replica = child.slots.length;
    let after = 0;
    for (const old of child.leaving ?? []) {
      if (old.replica === replica) after = Math.max(after, old.incarnation);
    }
    const slot = newSlot(replica, after);
    child.slots.push(slot);
    pending.push(launch(t, child, slot, "start"));
  }
  // Surplus replicas leave the tree at once and stop last first; until stopped they are listed
  // as draining (`leaving`), so what they hold is answered, not taken for lost.
  const surplus = child.slots.splice(replicas);
  for (const slot of surplus.reverse()) {
    const wait = stopSlot(t, child, slot, "graceful-then-kill", "scaled down", "stopped");
    if (wait) (child.leaving ??= []).push(slot);
    pending.push(wait);
  }
  begin(t, { kind: "scale", op, child: child.id, waiting: waits(pending), failures: [] });
}

/** Takes a new spec for child `spec.name` (nothing restarts). */
export function update<S extends ChildSpec>(t: Turn<S>, op: number, spec: S): void {
  const child = childNamed(t, spec.name);
  if (!child) return refuse(t, op, noSuchChild(t, spec.name));
  child.spec = spec;
  watch(t, spec);
  changed(t);
  reply(t, op, null);
}

/** New flags from now on. */
export function setFlags<S extends ChildSpec>(t: Turn<S>, flags: SupervisorSpec): void {
  t.s.flags = { ...flags, backoff: { ...flags.backoff } };
}

/** Puts the children in the order of `names` (unknown names last, in their order). */
export function reorder<S extends ChildSpec>(t: Turn<S>, names: readonly string[]): void {
  const rank = new Map(names.map((n, i) => [n, i]));
  const of = (c: DraftChild<S>) => rank.get(c.spec.name) ?? Infinity;
  t.s.children.sort((a, b) => of(a) - of(b));
}

/** Stops every child in reverse start order (those set aside first); then it is `stopped`. */
export function shutdown<S extends ChildSpec>(t: Turn<S>, op: number, message: string): void {
  if (t.s.status === "stopped") return reply(t, op, null);
  if (t.s.status === "running") t.s.status = "stopping";
  cancelPlans(t);
  unwatch(t);
  const order = [...t.s.aside.map((c) => c.id), ...t.s.children.map((c) => c.id).reverse()];
  beginWalk(t, op, "shutdown", order, message);
}

/** The first failure among `keys` in their order (a start's replica order), else the first met. */
function firstFailure(call: { failures: readonly Failure[] }, keys: readonly number[] = []) {
  const rank = (f: Failure) => {
    const i = keys.indexOf(f.key);
    return i < 0 ? Infinity : i;
  };
  return call.failures.toSorted((a, b) => rank(a) - rank(b))[0] ?? null;
}

/** Everything a call's stage waited for has happened: on to its next stage, or its reply. */
export function advanceCall<S extends ChildSpec>(t: Turn<S>, call: DraftOp): void {
  switch (call.kind) {
    case "add":
      return advanceAdd(t, call);
    case "remove": {
      const child = childById(t, call.child);
      if (child && child.slots.every((s) => s.phase.state === "stopped")) {
        t.s.children = t.s.children.filter((c) => c !== child);
      }
      changed(t);
      finish(t, call);
      return reply(t, call.op, firstFailure(call));
    }
    case "restart":
      return advanceRestart(t, call);
    case "scale":
      changed(t);
      finish(t, call);
      return reply(t, call.op, firstFailure(call));
    case "replace":
      return advanceReplace(t, call);
    case "walk":
      return continueWalk(t, call);
    default: {
      const never: never = call;
      throw new TypeError(`unknown call ${JSON.stringify(never)}`);
    }
  }
}

function advanceAdd<S extends ChildSpec>(t: Turn<S>, call: Call<"add">): void {
  const child = childById(t, call.child);
  if (call.stage === "start") {
    const failure = firstFailure(call, call.keys);
    if (!failure) {
      finish(t, call);
      return reply(t, call.op, null);
    }
    // A child that could not start is not left half there: replicas that did start stop again,
    // and the name is free for a corrected one.
    call.stage = "undo";
    call.failures = [failure];
    if (child) {
      child.removed = true;
      call.waiting = waits(
        child.slots.map((slot) => stopSlot(t, child, slot, "kill", "its start failed", "stopped")),
      );
      if (call.waiting.length > 0) return;
    }
  }
  if (child) t.s.children = t.s.children.filter((c) => c !== child);
  changed(t);
  finish(t, call);
  reply(t, call.op, call.failures[0]);
}

function advanceRestart<S extends ChildSpec>(t: Turn<S>, call: Call<"restart">): void {
  const child = childById(t, call.child);
  if (call.stage === "stop" && call.failures.length === 0) {
    // Removed meanwhile, shutting down, or a failure's restart plan took a slot: leave those.
    if (child && !child.removed && t.s.status === "running") {
      child.held = false;
      call.stage = "start";
      call.waiting = waits(
        child.slots.filter((s) => s.phase.state === "restarting" && s.plan === null).map((s) => {
          s.restarts++;
          return launch(t, child, s, "restart", 0);
        }),
      );
      if (call.waiting.length > 0) return;
    }
  }
  finish(t, call);
  reply(t, call.op, firstFailure(call));
}
