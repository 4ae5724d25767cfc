/**
 * What a supervisor's state says to the outside, as pure functions of it: the tree (per child:
 * replicas, running count, restarts, held; per instance: state, incarnation, uptime, last exit)
 * and the routes (who takes messages, who is draining, who is worth waiting for).
 *
 * @module
 */
import type { ExitReason } from "../protocol/envelope.ts";
import type { ChildSpec } from "./spec.ts";
import {
  type Child,
  instanceId,
  instanceKey,
  type SlotState,
  slotState,
  type SupervisorState,
} from "./state.ts";

/** One instance as the tree shows it. */
export interface InstanceReport {
  /** `name#replica.incarnation`. */
  readonly id: string;
  /** Replica index. */
  readonly replica: number;
  /** Incarnation (1 for the first start). */
  readonly incarnation: number;
  /** Where it is. */
  readonly state: SlotState;
  /** The runner's key of its instance, while it has one. */
  readonly key: number | null;
  /** Restarts of this replica so far. */
  readonly restarts: number;
  /** Milliseconds since it last started (0 when not running). */
  readonly uptime: number;
  /** Why it last ended, if it has. */
  readonly lastExit?: ExitReason;
}

/** One child as the tree shows it (OTP's `count_children`, per child). */
export interface ChildReport<S extends ChildSpec> {
  /** Its spec. */
  readonly spec: S;
  /** Its id in the state. */
  readonly id: number;
  /** Replicas wanted. */
  readonly replicas: number;
  /** Running instances (of its own replicas: not those of a child it replaced, still draining). */
  readonly running: number;
  /** Restarts across its replicas. */
  readonly restarts: number;
  /** Kept stopped on purpose. */
  readonly held: boolean;
  /**
   * Its instances, by replica, each followed by the instance of the child it replaces (a rolling
   * replacement under way) while that one is still there; a replica not started yet is shown by
   * its old instance alone.
   */
  readonly instances: readonly InstanceReport[];
}

/**
 * The children in start order, as the tree shows them at `now`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { initialState } from "./state.ts";
 * import { childReports } from "./views.ts";
 * const flags = { strategy: "one_for_one" as const, intensity: 5, period: 10_000,
 *   backoff: { min: 20, max: 5_000, jitter: 0.2 } };
 * assert.equal(childReports(initialState("root", flags), 0).length, 0);
 * ```
 */
export function childReports<S extends ChildSpec>(
  state: SupervisorState<S>,
  now: number,
): ChildReport<S>[] {
  const report = (child: Child<S>, slot: Child<S>["slots"][number]): InstanceReport => {
    const shown = slotState(slot.phase);
    return {
      id: instanceId(child.spec.name, slot),
      replica: slot.replica,
      incarnation: slot.incarnation,
      state: shown,
      key: instanceKey(slot.phase),
      restarts: slot.restarts,
      uptime: shown === "running" ? Math.round(now - slot.startedAt) : 0,
      ...(slot.lastExit ? { lastExit: slot.lastExit } : {}),
    };
  };
  return state.children.map((child) => {
    const own = child.slots.map((slot) => report(child, slot));
    // The instances of a child it replaces that are still there (a rolling replacement drains
    // them one at a time): they run and serve what they listen on, so they are listed, by
    // replica, after the new one; a new replica not started yet is not listed beside its old one.
    const replaced = state.aside
      .filter((c) => c.removed && !c.staged && c.spec.name === child.spec.name)
      .flatMap((c) =>
        c.slots.filter((s) => instanceKey(s.phase) !== null).map((s) => report(c, s))
      );
    const instances = [
      ...own.flatMap((mine) => {
        const before = replaced.filter((r) => r.replica === mine.replica);
        return mine.key === null && before.length > 0 ? before : [mine, ...before];
      }),
      ...replaced.filter((r) => r.replica >= own.length),
    ];
    return {
      spec: child.spec,
      id: child.id,
      replicas: child.spec.replicas,
      running: own.filter((i) => i.state === "running").length,
      restarts: own.reduce((sum, i) => sum + i.restarts, 0),
      held: child.held,
      instances,
    };
  });
}

/** An instance in a route view. */
export interface RoutedInstance {
  /** Instance id. */
  readonly id: string;
  /** The runner's key of it. */
  readonly key: number;
}

/** How a child is to be routed to. */
export interface RouteView<S extends ChildSpec> {
  /** Its spec. */
  readonly spec: S;
  /** Its id in the state. */
  readonly id: number;
  /** Instances that take new messages. */
  readonly live: readonly RoutedInstance[];
  /** Instances that take no new message but may still answer (stopping, or replaced). */
  readonly draining: readonly RoutedInstance[];
  /** No live instance, but one is coming: senders hold messages for it (`w`). */
  readonly waiting: boolean;
  /**
   * One instance or more is coming back (a restart, or a start): its own children come back with
   * it, so senders may hold messages for them too.
   */
  readonly coming: boolean;
  /** Per replica: the key of its instance (if any) and its state, for what its children report. */
  readonly slots: readonly {
    readonly replica: number;
    readonly key: number | null;
    readonly state: SlotState;
  }[];
}

/**
 * How to route to every child, set-aside ones included (a staged replacement takes no traffic
 * yet and is left out; a removed or replaced child's running instances only drain).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { initialState } from "./state.ts";
 * import { routeViews } from "./views.ts";
 * const flags = { strategy: "one_for_one" as const, intensity: 5, period: 10_000,
 *   backoff: { min: 20, max: 5_000, jitter: 0.2 } };
 * assert.equal(routeViews(initialState("root", flags)).length, 0);
 * ```
 */
export function routeViews<S extends ChildSpec>(state: SupervisorState<S>): RouteView<S>[] {
  const views: RouteView<S>[] = [];
  for (const child of [...state.children, ...state.aside]) {
    if (!child.staged) views.push(routeView(state, child));
  }
  return views;
}

function routeView<S extends ChildSpec>(state: SupervisorState<S>, child: Child<S>): RouteView<S> {
  const ref = (slot: Child<S>["slots"][number], key: number): RoutedInstance => ({
    id: instanceId(child.spec.name, slot),
    key,
  });
  const live: RoutedInstance[] = [];
  const draining: RoutedInstance[] = [];
  // A child a rolling restart set aside serves on until each instance's turn to stop.
  const serving = !child.removed || child.handover === true;
  for (const slot of child.slots) {
    const { phase } = slot;
    if (phase.state === "running" && serving) live.push(ref(slot, phase.key));
    else if (phase.state === "stopping" || (phase.state === "running" && child.removed)) {
      draining.push(ref(slot, phase.key));
    }
  }
  for (const slot of child.leaving ?? []) {
    if (slot.phase.state === "stopping") draining.push(ref(slot, slot.phase.key));
  }
  const coming = state.status === "running" && !child.removed &&
    child.slots.some((s) => {
      const shown = slotState(s.phase);
      return shown === "restarting" || shown === "starting" || s.plan !== null;
    });
  return {
    spec: child.spec,
    id: child.id,
    live,
    draining,
    waiting: live.length === 0 && coming,
    coming,
    slots: child.slots.map((s) => ({
      replica: s.replica,
      key: instanceKey(s.phase),
      state: slotState(s.phase),
    })),
  };
}
