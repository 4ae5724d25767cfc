/**
 * `replace`, one replica at a time. A replacement of a child of N replicas never runs more than
 * N + 1 instances of it, and never fewer than N that run (but while one of them stops or fails):
 *
 * 1. the new replica 0 starts beside the old replicas (the new child is `staged`: no traffic);
 * 2. once it runs, the new child takes the old one's place (routes, start order); the old child is
 *    set aside: its instances take no new message but keep running (a serving one keeps its
 *    listener) and answer what they hold — but in a rolling restart (`restart`: the same spec),
 *    where its running instances keep taking messages beside the new ones until their turn;
 * 3. after one timer turn (the new routes reach the senders first), for i = 0, 1, …: old replica i
 *    drains and stops (the call's stop mode, `graceful-then-kill` unless given); once it is gone, new replica i + 1 starts; once that one runs, old replica
 *    i + 1 drains, … until every new replica runs and no old one is left.
 *
 * If new replica 0 cannot start, nothing changed: it is stopped, the old child keeps serving and
 * the call fails with the start error. If a later new replica k cannot start, the rollout stops
 * and nothing is left half-owned: the new child keeps replicas 0..k-1; each old instance still
 * running (k and beyond) is adopted by the new child's slot of the same index (it keeps running
 * and serving; the usual restart rules apply to it from then on, and a restart starts the new
 * spec); old instances the new child has no slot for stop; a new slot left with no instance starts
 * as a restart plan's start would (a failure of it is a failure like any other). The call fails
 * with a `RolloutError` naming the container and replica.
 *
 * A shutdown, or a `remove` of the name, mid-rollout ends it: what is left of the old child stops
 * with the rest, and the call fails with a `RolloutError`. Another `replace`, `restart` or `scale`
 * of the name is refused while a rollout runs.
 *
 * @module
 */
import { RolloutError } from "../protocol/errors.ts";
import type { ChildSpec, StopMode } from "./spec.ts";
import { type Failure, instanceId, instanceKey, type Wait } from "./state.ts";
import {
  changed,
  childById,
  childNamed,
  type DraftChild,
  type DraftOp,
  finish,
  launch,
  log,
  newSlot,
  nextId,
  noSuchChild,
  reply,
  RESTARTING,
  STOPPED,
  stopSlot,
  type Turn,
  waits,
} from "./_draft.ts";
import { watch } from "./_liveness.ts";
import { restartFailed } from "./_recovery.ts";

type Rollout = Extract<DraftOp, { kind: "replace" }>;

/** The rollout under way of the child named `name` (before or after the switch), if any. */
export function rolloutOf<S extends ChildSpec>(t: Turn<S>, name: string): Rollout | undefined {
  return t.s.operations.find((o): o is Rollout =>
    o.kind === "replace" && childById(t, o.child)?.spec.name === name
  );
}

/** The error for a call on a name a rollout is replacing. */
export function rollingNow(name: string): RangeError {
  return new RangeError(
    `container "${name}" is being replaced (a rolling replacement is under way); try again once it is done`,
  );
}

/** Starts replacing child `spec.name` with `spec`, one replica at a time. */
export function replace<S extends ChildSpec>(
  t: Turn<S>,
  op: number,
  spec: S,
  options: { mode?: StopMode; restart?: boolean } = {},
): void {
  const mode = options.mode ?? "graceful-then-kill";
  const refuse = (error: Error) => reply(t, op, { key: -1, error });
  if (t.s.status !== "running") {
    return refuse(new Error(`supervisor "${t.s.name}" is ${t.s.status}`));
  }
  const old = childNamed(t, spec.name);
  if (!old) return refuse(noSuchChild(t, spec.name));
  if (old.removed) return refuse(new RangeError(`container "${spec.name}" is being removed`));
  if (rolloutOf(t, spec.name)) return refuse(rollingNow(spec.name));
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
    const slot = newSlot(replica, from);
    // A rolling restart is a restart of each replica: its count goes on from the old one's.
    if (options.restart) slot.restarts = (old.slots[replica]?.restarts ?? 0) + 1;
    // Replicas after the first wait their turn (the rollout starts them one at a time).
    if (replica > 0) slot.phase = RESTARTING;
    next.slots.push(slot);
  }
  t.s.aside.push(next);
  watch(t, spec);
  const first = next.slots[0] ? launch(t, next, next.slots[0], "start") : null;
  const call: Rollout = {
    kind: "replace",
    op,
    child: next.id,
    old: old.id,
    stage: "start",
    cursor: 0,
    keys: first ? [first.id] : [],
    waiting: waits([first]),
    failures: [],
    mode,
    restart: options.restart === true,
  };
  t.s.operations.push(call);
  if (call.waiting.length === 0) advanceReplace(t, call);
}

/** What the rollout's stage waited for has happened: on to its next step. */
export function advanceReplace<S extends ChildSpec>(t: Turn<S>, call: Rollout): void {
  const next = childById(t, call.child)!;
  const old = childById(t, call.old);
  switch (call.stage) {
    case "start":
      return switchOver(t, call, next, old);
    case "abandon":
      t.s.aside = t.s.aside.filter((c) => c !== next);
      changed(t);
      finish(t, call);
      return reply(t, call.op, call.failures[0]);
    case "settle":
      call.stage = "launch";
      return roll(t, call, next, old);
    case "launch":
    case "drain":
      return roll(t, call, next, old);
    case "end":
      return end(t, call, old);
    default: {
      const never: never = call.stage;
      throw new TypeError(`unknown replace stage ${String(never)}`);
    }
  }
}

/** New replica 0 started (or not): the switch, or the replacement is abandoned. */
function switchOver<S extends ChildSpec>(
  t: Turn<S>,
  call: Rollout,
  next: DraftChild<S>,
  old: DraftChild<S> | undefined,
): void {
  const failure = call.failures[0];
  const first = next.slots[0];
  if (
    !failure && t.s.status === "running" && old && !old.removed && t.s.children.includes(old) &&
    (!first || first.phase.state === "running")
  ) {
    // The switch: the new child takes the old one's place in start order and in the routes.
    next.staged = false;
    t.s.aside = t.s.aside.filter((c) => c !== next);
    t.s.children[t.s.children.indexOf(old)] = next;
    old.removed = true;
    old.held = true;
    // A restart's new replicas run the same code: the old ones serve on until their turn.
    if (call.restart) old.handover = true;
    t.s.aside.push(old);
    changed(t);
    const timer = nextId(t);
    call.stage = "settle";
    call.waiting = [{ id: timer, on: "timer" }];
    t.fx.push({ kind: "set_timer", id: timer, delay: 0 });
    return;
  }
  // Nothing changed yet: the old child keeps serving, the new one goes.
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
    next.slots.map((slot) => stopSlot(t, next, slot, "kill", "replacement abandoned", "stopped")),
  );
  if (call.waiting.length === 0) advanceReplace(t, call);
}

/**
 * One step after another: after new replica `cursor` runs (`launch`), old replica `cursor`
 * drains; after it is gone (`drain`), new replica `cursor + 1` starts.
 */
function roll<S extends ChildSpec>(
  t: Turn<S>,
  call: Rollout,
  next: DraftChild<S>,
  old: DraftChild<S> | undefined,
): void {
  const steps = Math.max(next.slots.length, old?.slots.length ?? 0);
  for (;;) {
    if (t.s.status !== "running" || next.removed || !t.s.children.includes(next)) {
      const why = t.s.status !== "running"
        ? `supervisor "${t.s.name}" is ${t.s.status}`
        : "the container was removed";
      return stopRest(t, call, old, new RolloutError(next.spec.name, call.cursor, why));
    }
    if (call.stage === "launch") {
      const failure = call.failures.find((f) => f.key === call.keys.at(-1));
      if (failure) return fail(t, call, next, old, failure);
      // New replica `cursor` runs (or a restart plan has it): its old counterpart drains.
      call.stage = "drain";
      const slot = old?.slots[call.cursor];
      const stop = slot && stopSlot(t, old!, slot, call.mode, "replaced", "stopped");
      if (stop) {
        call.waiting = [stop];
        return;
      }
    } else {
      call.cursor++;
      if (call.cursor >= steps) return end(t, call, old);
      call.stage = "launch";
      const slot = next.slots[call.cursor];
      // A slot a restart plan took meanwhile (one_for_all) is the plan's to start.
      const start = slot?.phase.state === "restarting" && slot.plan === null
        ? launch(t, next, slot, "start")
        : null;
      if (start) {
        call.keys = [...call.keys, start.id];
        call.waiting = [start];
        return;
      }
    }
  }
}

/**
 * New replica `cursor` could not start: the rollout stops. The old instances still running are
 * adopted by the new child's slots of the same index, so nothing stops without a successor and
 * every instance has one owner.
 */
function fail<S extends ChildSpec>(
  t: Turn<S>,
  call: Rollout,
  next: DraftChild<S>,
  old: DraftChild<S> | undefined,
  failure: Failure,
): void {
  const name = next.spec.name;
  const at = call.cursor;
  const failed = next.slots[at];
  const failedId = instanceId(name, failed);
  const kept: string[] = [];
  const pending: (Wait | null)[] = [];
  for (const [replica, from] of (old?.slots ?? []).entries()) {
    if (replica < at || instanceKey(from.phase) === null) continue;
    const into = next.slots[replica];
    if (
      into && from.phase.state === "running" && instanceKey(into.phase) === null &&
      into.plan === null && into.phase.state !== "failed"
    ) {
      next.slots[replica] = { ...from, plan: null };
      old!.slots[replica] = { ...from, phase: STOPPED, plan: null };
      kept.push(instanceId(name, from));
    } else {
      pending.push(stopSlot(t, old!, from, call.mode, "replaced", "stopped"));
    }
  }
  // A slot left with no instance is the supervisor's to fill, by its usual restart rules.
  for (const slot of next.slots) {
    if (slot === failed && slot.phase.state === "stopped") {
      restartFailed(t, next, slot, failure.key, failure.error);
    } else if (slot.phase.state === "restarting" && slot.plan === null) {
      slot.restarts++;
      launch(t, next, slot, "plan", 0);
    }
  }
  changed(t);
  const cause = failure.error;
  const message = cause instanceof Error ? cause.message : String(cause);
  const newOnes = next.slots.slice(0, at).map((s) => instanceId(name, s));
  const error = new RolloutError(
    name,
    at,
    `${failedId} could not start: ${message}; ${
      newOnes.length > 0 ? `${newOnes.join(", ")} run the new spec` : "no replica runs the new spec"
    }${kept.length > 0 ? `; ${kept.join(", ")} keep running (adopted, not replaced)` : ""}`,
    { cause },
  );
  log(t, "warn", error.message);
  call.stage = "end";
  call.failures = [{ key: failure.key, error }];
  call.waiting = waits(pending);
  if (call.waiting.length === 0) end(t, call, old);
}

/** The rollout ends early (shutdown, removal): what is left of the old child stops. */
function stopRest<S extends ChildSpec>(
  t: Turn<S>,
  call: Rollout,
  old: DraftChild<S> | undefined,
  error: RolloutError,
): void {
  call.stage = "end";
  call.failures = [{ key: -1, error }];
  call.waiting = waits(
    (old?.slots ?? []).map((slot) => stopSlot(t, old!, slot, call.mode, "replaced", "stopped")),
  );
  if (call.waiting.length === 0) end(t, call, old);
}

/** No old instance is left: the old child leaves, and the call answers. */
function end<S extends ChildSpec>(t: Turn<S>, call: Rollout, old: DraftChild<S> | undefined): void {
  if (old) t.s.aside = t.s.aside.filter((c) => c !== old);
  changed(t);
  finish(t, call);
  reply(t, call.op, call.failures[0] ?? null);
}
