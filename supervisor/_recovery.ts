/**
 * What follows an instance's end: the decision (`strategy.ts`), and carrying it out — leave it
 * stopped, a restart plan (stop the affected siblings, wait the backoff, start them in order), or
 * giving up. A failed restart is fed back as a failure like any other, so it counts toward
 * intensity and the supervisor stays responsive while a child keeps failing to start.
 *
 * @module
 */
import type { ExitReason } from "../protocol/envelope.ts";
import type { ChildSpec } from "./spec.ts";
import { type ChildView, decide, type Decision } from "./strategy.ts";
import { backoffDelay, stablePeriod } from "./restart_policy.ts";
import { type GiveUp, instanceId, type Wait } from "./state.ts";
import {
  changed,
  childById,
  childNamed,
  type DraftChild,
  type DraftPlan,
  type DraftSlot,
  emit,
  holding,
  isLive,
  launch,
  log,
  nextId,
  RESTARTING,
  STOPPED,
  stopSlot,
  type Turn,
  waits,
} from "./_draft.ts";
import { unwatch } from "./_liveness.ts";
import { beginWalk } from "./_walk.ts";

/**
 * Instance `key` ended. Asked to (it is stopping, or the supervisor is): noted. On its own: it is
 * out of the routes at once, reported, and the decision waits until what it held is released.
 */
export function exited<S extends ChildSpec>(t: Turn<S>, key: number, reason: ExitReason): void {
  const found = holding(t, key);
  if (!found || found.slot.phase.state === "failed") return;
  const { child, slot } = found;
  const phase = slot.phase;
  slot.lastExit = reason;
  if (phase.state === "stopping" || t.s.status !== "running") {
    changed(t);
    return;
  }
  const instance = instanceId(child.spec.name, slot);
  slot.phase = { state: "failed", key, wasRunning: phase.state === "running" };
  changed(t);
  emit(t, {
    type: "exit",
    container: child.spec.name,
    instance,
    incarnation: slot.incarnation,
    reason,
  });
  log(
    t,
    reason.kind === "error" || reason.kind === "crashed" ? "warn" : "info",
    `${instance} exited: ${reason.message}`,
  );
  // An isolate that failed may still be cleaning up: make sure it goes.
  const ensureGone = reason.kind !== "stopped" && reason.kind !== "normal";
  t.fx.push({ kind: "release", key, reason, ensureGone });
}

/** What failed instance `key` held is released: now its supervisor decides. */
export function released<S extends ChildSpec>(t: Turn<S>, key: number): void {
  const found = holding(t, key);
  if (!found || found.slot.phase.state !== "failed") return;
  const { child, slot } = found;
  const reason = slot.lastExit ?? { kind: "crashed", message: "ended" };
  decideExit(t, child, slot, reason, found.slot.phase.wasRunning);
}

/** A restart plan's start of `slot` failed: a failure like any other (it counts toward intensity). */
export function restartFailed<S extends ChildSpec>(
  t: Turn<S>,
  child: DraftChild<S>,
  slot: DraftSlot,
  key: number,
  error: unknown,
): void {
  if (t.s.status !== "running" || child.removed) return;
  const facts = error instanceof Error
    ? { name: error.name, message: error.message, stack: error.stack }
    : { name: "Error", message: String(error) };
  const reason: ExitReason = {
    kind: "error",
    message: `restart failed: ${facts.message}`,
    error: { ...facts, kind: "remote" },
  };
  slot.lastExit = reason;
  slot.phase = { state: "failed", key, wasRunning: false };
  emit(t, {
    type: "exit",
    container: child.spec.name,
    instance: instanceId(child.spec.name, slot),
    incarnation: slot.incarnation,
    reason,
  });
  decideExit(t, child, slot, reason, false);
}

function decideExit<S extends ChildSpec>(
  t: Turn<S>,
  child: DraftChild<S>,
  slot: DraftSlot,
  reason: ExitReason,
  wasRunning: boolean,
): void {
  if (child.staged) {
    // A replacement's new instance failed before the switch: the replacement is abandoned.
    slot.phase = STOPPED;
    return;
  }
  if (t.s.status !== "running" || child.removed) {
    if (slot.plan === null) slot.phase = STOPPED;
    return;
  }
  // A sibling's restart already covers it (one restart, counted once), or it was stopped or
  // scaled away meanwhile.
  if (slot.plan !== null || slot.phase.state !== "failed" || !child.slots.includes(slot)) return;
  const children: ChildView[] = t.s.children.map((c) => ({
    name: c.spec.name,
    restart: c.spec.restart,
    alive: c.slots.some((s) => s !== slot && isLive(s)),
    held: c.held,
  }));
  const decision = decide({
    spec: t.s.flags,
    children,
    ended: child.spec.name,
    reason,
    action: reason.action,
    history: t.s.history,
    now: t.now,
  });
  t.s.history = decision.history;
  switch (decision.kind) {
    case "leave":
      slot.phase = STOPPED;
      if (child.slots.every((s) => s.phase.state === "stopped")) child.held = true;
      if (reason.action === "stop") {
        log(
          t,
          "error",
          `${instanceId(child.spec.name, slot)} stays stopped (on_error: stop): ${reason.message}`,
        );
      }
      changed(t);
      return;
    case "give_up":
      slot.phase = STOPPED;
      giveUp(t, { why: decision.why, child: child.spec.name, failure: reason.message });
      return;
    case "restart":
      planRestart(t, child, slot, decision, wasRunning);
      return;
    default: {
      const never: never = decision;
      throw new TypeError(`unknown decision ${JSON.stringify(never)}`);
    }
  }
}

/**
 * Carries out a restart decision. Which slots it restarts: the failed one; under one_for_all every
 * replica of every child it starts; under rest_for_one every replica of the children after the
 * failed one (replicas are peers, not siblings: a failed replica's fellow replicas keep serving,
 * except under one_for_all).
 */
function planRestart<S extends ChildSpec>(
  t: Turn<S>,
  child: DraftChild<S>,
  slot: DraftSlot,
  decision: Extract<Decision, { kind: "restart" }>,
  wasRunning: boolean,
): void {
  const { flags } = t.s;
  const all = flags.strategy === "one_for_all";
  // Backoff grows with consecutive failures; a replica that stayed up for a stable period resets.
  slot.consecutive = wasRunning && t.now - slot.startedAt > stablePeriod(flags.backoff)
    ? 1
    : slot.consecutive + 1;
  const delay = backoffDelay(slot.consecutive, flags.backoff, t.random);
  const named = (name: string) => childNamed(t, name)!;
  const plan: DraftPlan = {
    id: nextId(t),
    children: decision.start.map((name) => named(name).id),
    delay,
    stage: "stopping",
    cursor: 0,
    waiting: [],
  };
  t.s.plans.push(plan);
  const why = `sibling ${child.spec.name} failed`;
  const pending: (Wait | null)[] = [];
  const stop = (c: DraftChild<S>, s: DraftSlot, then: "stopped" | "restarting") =>
    pending.push(stopSlot(t, c, s, "graceful-then-kill", why, then));
  for (const name of decision.stop) {
    const c = named(name);
    for (const s of c.slots.toReversed()) if (isLive(s)) stop(c, s, "restarting");
  }
  if (all) {
    for (const s of child.slots) {
      if (s !== slot && isLive(s)) stop(child, s, "restarting");
    }
  }
  for (const name of decision.drop) {
    const c = named(name);
    c.held = true;
    for (const s of c.slots) stop(c, s, "stopped");
  }
  // Claimed after the stops above (a stop releases a slot from older plans).
  slot.phase = RESTARTING;
  slot.plan = plan.id;
  for (const id of plan.children) {
    const c = childById(t, id)!;
    if (c === child && !all) continue;
    for (const s of c.slots) {
      const phase = s.phase;
      if (phase.state === "stopping") {
        // A slower earlier stop is waited for; one that gave up on a graceful stop is ended now.
        pending.push(
          phase.inFlight
            ? { id: phase.key, on: "stop" }
            : stopSlot(t, c, s, "graceful-then-kill", why, "restarting"),
        );
      } else if (!isLive(s)) s.phase = RESTARTING;
      s.plan = plan.id;
    }
  }
  changed(t);
  const unique = new Map(waits(pending).map((w) => [w.id, w]));
  plan.waiting = [...unique.values()];
  if (plan.waiting.length === 0) backoff(t, plan);
}

function backoff<S extends ChildSpec>(t: Turn<S>, plan: DraftPlan): void {
  const timer = nextId(t);
  plan.stage = "backoff";
  plan.waiting = [{ id: timer, on: "timer" }];
  t.fx.push({ kind: "set_timer", id: timer, delay: plan.delay });
}

/** Everything plan `plan`'s stage waited for has happened: on to its next stage. */
export function planProgress<S extends ChildSpec>(t: Turn<S>, plan: DraftPlan): void {
  switch (plan.stage) {
    case "stopping":
      return backoff(t, plan);
    case "backoff":
      plan.stage = "starting";
      plan.cursor = 0;
      return startNext(t, plan);
    case "starting":
      plan.cursor++;
      return startNext(t, plan);
    default: {
      const never: never = plan.stage;
      throw new TypeError(`unknown plan stage ${String(never)}`);
    }
  }
}

/** Starts the plan's slots child by child, in start order; the next child waits for these. */
function startNext<S extends ChildSpec>(t: Turn<S>, plan: DraftPlan): void {
  for (; plan.cursor < plan.children.length; plan.cursor++) {
    if (t.s.status !== "running") break;
    const child = t.s.children.find((c) => c.id === plan.children[plan.cursor]);
    if (!child || child.removed) continue;
    const pending = waits(
      child.slots.filter((s) => s.plan === plan.id && !isLive(s)).map((s) => {
        s.plan = null;
        s.restarts++;
        return launch(t, child, s, "plan", plan.delay);
      }),
    );
    if (pending.length > 0) {
      plan.waiting = pending;
      return;
    }
  }
  t.s.plans = t.s.plans.filter((p) => p !== plan);
}

/** Drops every restart plan (shutdown, give-up): their slots stay where they are. */
export function cancelPlans<S extends ChildSpec>(t: Turn<S>): void {
  for (const plan of t.s.plans) {
    if (plan.stage === "backoff") {
      for (const w of plan.waiting) t.fx.push({ kind: "clear_timer", id: w.id });
    }
    for (const child of [...t.s.children, ...t.s.aside]) {
      for (const slot of child.slots) if (slot.plan === plan.id) slot.plan = null;
    }
  }
  t.s.plans = [];
}

/** Gives up: no more restarts; every child stops in reverse start order; then it fails upward. */
export function giveUp<S extends ChildSpec>(t: Turn<S>, why: GiveUp): void {
  if (t.s.status !== "running") return;
  t.s.status = "gave_up";
  cancelPlans(t);
  const { intensity, period } = t.s.flags;
  t.fx.push({ kind: "give_up", done: false, giveUp: why, intensity, period });
  emit(t, {
    type: "escalate",
    supervisor: t.s.name,
    intensity,
    period,
    why: why.why,
    child: why.child,
    failure: why.failure,
  });
  unwatch(t);
  const order = t.s.children.map((c) => c.id).reverse();
  beginWalk(t, null, "give_up", order, `supervisor ${t.s.name} gave up`, why);
}
