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
  child.spec = { ...child.spec, replicas };
  if (replicas > 0) child.held = false;
  const pending: (Wait | null)[] = [];
  while (child.slots.length < replicas) {
    const slot = newSlot(child.slots.length);
    child.slots.push(slot);
    pending.push(launch(t, child, slot, "start"));
  }
  // Surplus replicas leave the tree at once and stop last first.
  const surplus = child.slots.splice(replicas);
  for (const slot of surplus.reverse()) {
    pending.push(stopSlot(t, child, slot, "graceful-then-kill", "scaled down", "stopped"));
  }
  begin(t, { kind: "scale", op, child: child.id, waiting: waits(pending), failures: [] });
}

/**
 * Replaces child `spec.name` without a gap: new replicas start beside the old ones (`staged`: no
 * traffic yet); once all run, the new child takes the old one's place, the old one is set aside
 * (draining), and after one timer turn (so the new routes reach the senders first) it stops.
 */
export function replace<S extends ChildSpec>(t: Turn<S>, op: number, spec: S): void {
  if (t.s.status !== "running") {
    return refuse(t, op, new Error(`supervisor "${t.s.name}" is ${t.s.status}`));
  }
  const old = childNamed(t, spec.name);
  if (!old) return refuse(t, op, noSuchChild(t, spec.name));
  if (old.removed) {
    return refuse(t, op, new RangeError(`container "${spec.name}" is being removed`));
  }
  // Incarnations go on from the old ones: an instance id never names two instances.
  const from = Math.max(0, ...old.slots.map((s) => s.incarnation));
  const next: DraftChild<S> = {
    id: nextId(t),
    spec,
    slots: [],
    held: false,
    removed: false,
    staged: true,
  };
  for (let replica = 0; replica < spec.replicas; replica++) {
    next.slots.push(newSlot(replica, from));
  }
  t.s.aside.push(next);
  watch(t, spec);
  const pending = waits(next.slots.map((slot) => launch(t, next, slot, "start")));
  begin(t, {
    kind: "replace",
    op,
    child: next.id,
    old: old.id,
    stage: "start",
    keys: pending.map((w) => w.id),
    waiting: pending,
    failures: [],
  });
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

function advanceReplace<S extends ChildSpec>(t: Turn<S>, call: Call<"replace">): void {
  const next = childById(t, call.child)!;
  const old = childById(t, call.old);
  switch (call.stage) {
    case "start": {
      const failure = firstFailure(call, call.keys);
      const ok = !failure && t.s.status === "running" && old && !old.removed &&
        t.s.children.includes(old) && next.slots.every((s) => s.phase.state === "running");
      if (ok && old) {
        // The switch: the new child takes the old one's place in start order.
        next.staged = false;
        t.s.aside = t.s.aside.filter((c) => c !== next);
        t.s.children[t.s.children.indexOf(old)] = next;
        old.removed = true;
        old.held = true;
        t.s.aside.push(old);
        changed(t);
        const timer = nextId(t);
        call.stage = "settle";
        call.waiting = [{ id: timer, on: "timer" }];
        t.fx.push({ kind: "set_timer", id: timer, delay: 0 });
        return;
      }
      next.removed = true;
      call.stage = "abandon";
      call.failures = [
        failure ?? {
          key: -1,
          error: new Error(
            `the replacement of "${next.spec.name}" was abandoned: its old instances changed meanwhile`,
          ),
        },
      ];
      call.waiting = waits(
        next.slots.map((slot) =>
          stopSlot(t, next, slot, "kill", "replacement abandoned", "stopped")
        ),
      );
      if (call.waiting.length > 0) return;
      return advanceReplace(t, call);
    }
    case "abandon":
      t.s.aside = t.s.aside.filter((c) => c !== next);
      changed(t);
      finish(t, call);
      return reply(t, call.op, call.failures[0]);
    case "settle":
      call.stage = "drain";
      call.waiting = old
        ? waits(
          old.slots.map((slot) =>
            stopSlot(t, old, slot, "graceful-then-kill", "replaced", "stopped")
          ),
        )
        : [];
      if (call.waiting.length > 0) return;
      return advanceReplace(t, call);
    case "drain":
      if (old) t.s.aside = t.s.aside.filter((c) => c !== old);
      changed(t);
      finish(t, call);
      return reply(t, call.op, firstFailure(call));
    default: {
      const never: never = call.stage;
      throw new TypeError(`unknown replace stage ${String(never)}`);
    }
  }
}
