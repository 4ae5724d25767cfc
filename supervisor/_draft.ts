/**
 * The working copy a transition edits, and the steps every part of the machine shares: starting
 * and stopping one slot, finding an instance by its key, reporting. A transition copies the state
 * once (`draft`), edits the copy and hands it back, so the state it was given never changes.
 *
 * @module
 */
import type { ExitReason, LogLevel } from "../protocol/envelope.ts";
import type { SupervisorEvent } from "./events.ts";
import type { Effect } from "./messages.ts";
import type { ChildSpec, StopMode } from "./spec.ts";
import {
  type Child,
  type Failure,
  instanceId,
  type Operation,
  type Phase,
  type RestartPlan,
  type Slot,
  type StartCause,
  type SupervisorState,
  type Wait,
} from "./state.ts";

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** A slot being edited. */
export type DraftSlot = Mutable<Slot>;
/** A child being edited. */
export type DraftChild<S extends ChildSpec> = Mutable<Omit<Child<S>, "slots" | "leaving">> & {
  slots: DraftSlot[];
  leaving?: DraftSlot[];
};
/** A plan being edited. */
export type DraftPlan = Mutable<RestartPlan>;
/** A call being edited. */
export type DraftOp = Mutable<Operation>;
/** A state being edited. */
export type Draft<S extends ChildSpec> =
  & Mutable<Omit<SupervisorState<S>, "children" | "aside" | "plans" | "operations">>
  & {
    children: DraftChild<S>[];
    aside: DraftChild<S>[];
    plans: DraftPlan[];
    operations: DraftOp[];
  };

/** One transition at work: the copy it edits, the effects it collects, and the moment. */
export interface Turn<S extends ChildSpec> {
  /** The state being edited. */
  readonly s: Draft<S>;
  /** Effects, in order. */
  readonly fx: Effect<S>[];
  /** The clock. */
  readonly now: number;
  /** A random number in [0, 1). */
  readonly random: number;
}

/** A copy deep enough to edit: arrays and records are new, specs and reasons are shared. */
export function draft<S extends ChildSpec>(state: SupervisorState<S>): Draft<S> {
  const child = ({ leaving, ...c }: Child<S>): DraftChild<S> => ({
    ...c,
    slots: c.slots.map((s) => ({ ...s })),
    ...(leaving ? { leaving: leaving.map((s) => ({ ...s })) } : {}),
  });
  return {
    ...state,
    children: state.children.map(child),
    aside: state.aside.map(child),
    plans: state.plans.map((p) => ({ ...p })),
    operations: state.operations.map((o) => ({ ...o })),
  };
}

/** No instance, none coming. */
export const STOPPED: Phase = Object.freeze({ state: "stopped" });
/** No instance; one is coming. */
export const RESTARTING: Phase = Object.freeze({ state: "restarting" });

/** A fresh number for a key, timer, plan or child. */
export function nextId<S extends ChildSpec>(t: Turn<S>): number {
  return t.s.seq++;
}

/** A new slot for replica `replica`, before its first start. */
export function newSlot(replica: number, incarnation = 0): DraftSlot {
  return {
    replica,
    incarnation,
    phase: STOPPED,
    restarts: 0,
    consecutive: 0,
    startedAt: 0,
    lastExit: null,
    plan: null,
  };
}

/** The child in the start order named `name`. */
export function childNamed<S extends ChildSpec>(
  t: Turn<S>,
  name: string,
): DraftChild<S> | undefined {
  return t.s.children.find((c) => c.spec.name === name);
}

/** The child with id `id`, in the start order or aside. */
export function childById<S extends ChildSpec>(t: Turn<S>, id: number): DraftChild<S> | undefined {
  return t.s.children.find((c) => c.id === id) ?? t.s.aside.find((c) => c.id === id);
}

/** The error for a name the supervisor does not have. */
export function noSuchChild<S extends ChildSpec>(t: Turn<S>, name: string): RangeError {
  return new RangeError(
    `supervisor "${t.s.name}" has no container "${name}" (it has: ${
      t.s.children.map((c) => c.spec.name).join(", ") || "none"
    })`,
  );
}

/** The slot whose current instance is `key` (starting, running, stopping or just failed). */
export function holding<S extends ChildSpec>(
  t: Turn<S>,
  key: number,
): { child: DraftChild<S>; slot: DraftSlot } | undefined {
  for (const child of [...t.s.children, ...t.s.aside]) {
    for (const slot of child.slots) {
      if ("key" in slot.phase && slot.phase.key === key) return { child, slot };
    }
    for (const slot of child.leaving ?? []) {
      if ("key" in slot.phase && slot.phase.key === key) return { child, slot };
    }
  }
  return undefined;
}

/** Whether a slot has an instance that is, or is about to be, taking messages. */
export function isLive(slot: Slot): boolean {
  return slot.phase.state === "running" || slot.phase.state === "starting";
}

/**
 * Starts a new incarnation of `slot`. A supervisor that is no longer running starts nothing (the
 * slot stays stopped).
 *
 * @returns What to wait for, or `null` when nothing started.
 */
export function launch<S extends ChildSpec>(
  t: Turn<S>,
  child: DraftChild<S>,
  slot: DraftSlot,
  cause: StartCause,
  delay = 0,
): Wait | null {
  if (t.s.status !== "running") {
    slot.phase = STOPPED;
    return null;
  }
  const key = nextId(t);
  slot.incarnation++;
  slot.phase = { state: "starting", key, cause, delay };
  t.fx.push({
    kind: "start",
    key,
    spec: child.spec,
    instance: instanceId(child.spec.name, slot),
    child: child.id,
    replica: slot.replica,
    incarnation: slot.incarnation,
  });
  return { id: key, on: "start" };
}

/**
 * Stops one slot's instance (or cancels its start) and leaves the slot in `then` once it is gone
 * (`stopped` always, when its child is removed). A slot stopped for good leaves any restart plan;
 * one already being stopped is waited for (and cut short when asked to kill).
 *
 * @returns What to wait for, or `null` when nothing was running.
 */
export function stopSlot<S extends ChildSpec>(
  t: Turn<S>,
  child: DraftChild<S>,
  slot: DraftSlot,
  mode: StopMode,
  message: string,
  then: "stopped" | "restarting",
): Wait | null {
  slot.plan = null;
  const phase = slot.phase;
  if (phase.state === "stopping" && phase.inFlight) {
    if (mode === "kill") t.fx.push({ kind: "kill", key: phase.key, reason: killed(message) });
    slot.phase = { ...phase, then };
    return { id: phase.key, on: "stop" };
  }
  if (phase.state === "starting" || phase.state === "running" || phase.state === "stopping") {
    slot.phase = { state: "stopping", key: phase.key, then, inFlight: true };
    changed(t);
    t.fx.push({ kind: "stop", key: phase.key, mode, reason: { kind: "stopped", message } });
    return { id: phase.key, on: "stop" };
  }
  slot.phase = child.removed || then === "stopped" ? STOPPED : RESTARTING;
  changed(t);
  return null;
}

function killed(message: string): ExitReason {
  return { kind: "killed", message };
}

/** Routes or the tree changed (once per run of changes). */
export function changed<S extends ChildSpec>(t: Turn<S>): void {
  if (t.fx.at(-1)?.kind !== "changed") t.fx.push({ kind: "changed" });
}

/** Reports a supervision event. */
export function emit<S extends ChildSpec>(t: Turn<S>, event: SupervisorEvent): void {
  t.fx.push({ kind: "emit", event });
}

/** Logs a line. */
export function log<S extends ChildSpec>(t: Turn<S>, level: LogLevel, message: string): void {
  t.fx.push({ kind: "log", level, message });
}

/** Ends call `op` (a no-op for the supervisor's own walks, which have none). */
export function reply<S extends ChildSpec>(
  t: Turn<S>,
  op: number | null,
  failure: Failure | null,
): void {
  if (op === null) return;
  t.fx.push({ kind: "reply", op, failure: failure ? { error: failure.error } : null });
}

/** Drops a finished call. */
export function finish<S extends ChildSpec>(t: Turn<S>, call: DraftOp): void {
  t.s.operations = t.s.operations.filter((o) => o !== call);
}

/** Keeps the non-null waits. */
export function waits(list: readonly (Wait | null)[]): Wait[] {
  return list.filter((w): w is Wait => w !== null);
}
