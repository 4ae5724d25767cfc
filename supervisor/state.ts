/**
 * A supervisor's state, as readonly data: its flags and status, its children in start order with
 * one slot per replica, the restart plans under way and the calls waiting for their end. Nothing
 * here holds a handle, a promise or a timer: instances, timers and calls are named by numbers
 * (`key`, `id`, `op`) that the runner maps to the real things. See `machine.ts` for how it moves.
 *
 * @module
 */
import type { ExitReason } from "../protocol/envelope.ts";
import type { ChildSpec, StopMode, SupervisorSpec } from "./spec.ts";

/** `running` until asked to stop (`stopping`, then `stopped`) or until it gives up (`gave_up`). */
export type SupervisorStatus = "running" | "stopping" | "stopped" | "gave_up";

/** Where an instance is in its life, as the tree shows it. */
export type SlotState = "starting" | "running" | "restarting" | "stopping" | "stopped";

/** Why an instance is being started: a first start, `rt.restart`, or a restart plan. */
export type StartCause = "start" | "restart" | "plan";

/**
 * One replica's phase. `key` names the instance the runner holds for it (a new key per start).
 *
 * - `starting`: started, not yet taking messages (`delay`: the backoff a plan waited, for the
 *   `restart` event).
 * - `running`: takes messages.
 * - `stopping`: asked to stop; `then` is where it goes once stopped; `inFlight` is false when a
 *   graceful-only stop gave up and the instance is still there (a later stop or kill ends it).
 * - `failed`: ended on its own; the decision waits until what it held is released (its subtree).
 * - `restarting`: no instance; a restart plan or `rt.restart` will start one.
 * - `stopped`: no instance, and none coming.
 */
export type Phase =
  | {
    readonly state: "starting";
    readonly key: number;
    readonly cause: StartCause;
    readonly delay: number;
  }
  | { readonly state: "running"; readonly key: number }
  | {
    readonly state: "stopping";
    readonly key: number;
    readonly then: "stopped" | "restarting";
    readonly inFlight: boolean;
  }
  | { readonly state: "failed"; readonly key: number; readonly wasRunning: boolean }
  | { readonly state: "restarting" }
  | { readonly state: "stopped" };

/** One replica of a child, across its incarnations. */
export interface Slot {
  /** Replica index. */
  readonly replica: number;
  /** Incarnation of its current (or last) instance; 0 before the first start. */
  readonly incarnation: number;
  /** Where it is. */
  readonly phase: Phase;
  /** Restarts of this replica so far. */
  readonly restarts: number;
  /** Consecutive failures without a stable period between them (for backoff). */
  readonly consecutive: number;
  /** When its instance last started running (ms on the supervisor's clock). */
  readonly startedAt: number;
  /** Why its last instance ended, once one has. */
  readonly lastExit: ExitReason | null;
  /** The restart plan that will start it next, if any. */
  readonly plan: number | null;
}

/** A child (a container and its replicas). */
export interface Child<S extends ChildSpec> {
  /** Unique for the supervisor's life (a replaced child and its successor share a name). */
  readonly id: number;
  /** Its spec, as given. */
  readonly spec: S;
  /** One per replica. */
  readonly slots: readonly Slot[];
  /**
   * Replicas a scale-down took out of the tree while they stop: they take no new message, but
   * what they hold is still answered, so they stay listed (as draining) until stopped.
   */
  readonly leaving?: readonly Slot[];
  /** Kept stopped on purpose: a sibling's restart does not start it. */
  readonly held: boolean;
  /** Taken out of the tree (being removed, or replaced and draining): nothing starts it again. */
  readonly removed: boolean;
  /** Starting beside the child it replaces: no traffic yet, a failure abandons the replacement. */
  readonly staged: boolean;
  /**
   * Set aside by a rolling restart (its successor has the same spec): its running instances keep
   * taking messages beside the new ones until each is stopped in turn, so the container keeps
   * its capacity throughout. A replacement by a new spec (a reload) sends the new one everything.
   */
  readonly handover?: boolean;
}

/** What a plan or a call waits for: a start's outcome, a stop's end, or a timer. */
export interface Wait {
  /** The instance key or timer id. */
  readonly id: number;
  /** Which outcome. */
  readonly on: "start" | "stop" | "timer";
}

/** A restart decided by the strategy, carried out in three stages. */
export interface RestartPlan {
  /** Its id (slots name it in `plan`). */
  readonly id: number;
  /** Children to start, in start order (ids, captured when decided). */
  readonly children: readonly number[];
  /** The backoff before starting, ms. */
  readonly delay: number;
  /** `stopping` the affected siblings, waiting the `backoff`, then `starting` child by child. */
  readonly stage: "stopping" | "backoff" | "starting";
  /** While starting: the index in `children` being started. */
  readonly cursor: number;
  /** The stops, timer or starts the current stage waits for. */
  readonly waiting: readonly Wait[];
}

/** An error met by a call, with the instance it came from (to report the first in start order). */
export interface Failure {
  /** The instance key, or -1. */
  readonly key: number;
  /** The error, as thrown by the instance or made by the supervisor. */
  readonly error: unknown;
}

/** Why a supervisor gave up. */
export interface GiveUp {
  /** Too many restarts (`intensity`), or a child's `on_error: escalate`. */
  readonly why: "intensity" | "escalate";
  /** The child whose failure tipped it over. */
  readonly child: string;
  /** That failure, as text. */
  readonly failure: string;
}

/** What every call under way has. */
export interface CallBase {
  /** The caller's id for the reply; `null` for the supervisor's own give-up. */
  readonly op: number | null;
  /** What its current stage waits for. */
  readonly waiting: readonly Wait[];
  /** Errors met so far. */
  readonly failures: readonly Failure[];
}

/** A call under way (calls that take time end with a `reply` effect). */
export type Operation =
  | CallBase & {
    readonly kind: "add";
    readonly child: number;
    readonly stage: "start" | "undo";
    readonly keys: readonly number[];
  }
  | CallBase & { readonly kind: "remove"; readonly child: number }
  | CallBase & {
    readonly kind: "restart";
    readonly child: number;
    readonly stage: "stop" | "start";
  }
  | CallBase & { readonly kind: "scale"; readonly child: number }
  | CallBase & {
    readonly kind: "replace";
    readonly child: number;
    readonly old: number;
    /**
     * `start`: the new replica 0 starting beside the old ones; `abandon`: it failed, stopping it;
     * `settle`: switched, one timer turn; then `drain` (old replica `cursor` stopping) and `launch`
     * (new replica `cursor` starting) in turn; `end`: stopping what is left before the reply.
     */
    readonly stage: "start" | "abandon" | "settle" | "drain" | "launch" | "end";
    /** The replica index the rollout is at. */
    readonly cursor: number;
    /** The new instances started, in order. */
    readonly keys: readonly number[];
    /** How each old replica stops once its successor runs. */
    readonly mode: StopMode;
    /** A rolling restart (same spec): the old replicas keep serving until their turn. */
    readonly restart: boolean;
  }
  | CallBase & {
    readonly kind: "walk";
    readonly purpose: "shutdown" | "give_up";
    readonly queue: readonly number[];
    readonly message: string;
    readonly giveUp: GiveUp | null;
  };

/** Everything a supervisor knows. */
export interface SupervisorState<S extends ChildSpec> {
  /** `root`, or the name of the container whose children these are. */
  readonly name: string;
  /** Its flags. */
  readonly flags: SupervisorSpec;
  /** Its status. */
  readonly status: SupervisorStatus;
  /** Its children, in start order. */
  readonly children: readonly Child<S>[];
  /** Children outside the order for the time of a replacement: new ones starting, old draining. */
  readonly aside: readonly Child<S>[];
  /** Times of the restarts that count toward intensity. */
  readonly history: readonly number[];
  /** Restart plans under way. */
  readonly plans: readonly RestartPlan[];
  /** Calls under way. */
  readonly operations: readonly Operation[];
  /** The heartbeat timer, while any child is pinged (see `_liveness.ts`). */
  readonly heartbeat: Heartbeat | null;
  /** The next free number for keys, timers, plans and children. */
  readonly seq: number;
}

/** A stretch of time in which this supervisor's own isolate was starved (ms, its clock). */
export interface Starved {
  /** When its heartbeat timer was due. */
  readonly from: number;
  /** When it fired. */
  readonly to: number;
}

/** The heartbeat timer and what its lateness told of the host's own starvation. */
export interface Heartbeat {
  /** Its period, ms. */
  readonly every: number;
  /** Its timer id. */
  readonly timer: number;
  /** When it is due to fire. */
  readonly due: number;
  /** The recent stretches in which it fired late, oldest first (see `_liveness.ts`). */
  readonly starved: readonly Starved[];
}

/**
 * A supervisor with no children yet.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { initialState } from "./state.ts";
 * const s = initialState("root", {
 *   strategy: "one_for_one", intensity: 5, period: 10_000,
 *   backoff: { min: 20, max: 5_000, jitter: 0.2 },
 * });
 * assert.equal(s.status, "running");
 * assert.equal(s.children.length, 0);
 * ```
 */
export function initialState<S extends ChildSpec>(
  name: string,
  flags: SupervisorSpec,
): SupervisorState<S> {
  return {
    name,
    flags: { ...flags, backoff: { ...flags.backoff } },
    status: "running",
    children: [],
    aside: [],
    history: [],
    plans: [],
    operations: [],
    heartbeat: null,
    seq: 1,
  };
}

/**
 * The state a slot shows in the tree (`failed` shows as `restarting`: it is being decided).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { slotState } from "./state.ts";
 * assert.equal(slotState({ state: "failed", key: 3, wasRunning: true }), "restarting");
 * ```
 */
export function slotState(phase: Phase): SlotState {
  switch (phase.state) {
    case "failed":
      return "restarting";
    case "starting":
    case "running":
    case "stopping":
    case "restarting":
    case "stopped":
      return phase.state;
    default: {
      const never: never = phase;
      throw new TypeError(`unknown phase ${JSON.stringify(never)}`);
    }
  }
}

/**
 * The key of the instance a slot holds now (starting, running or stopping), else `null`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { instanceKey } from "./state.ts";
 * assert.equal(instanceKey({ state: "running", key: 7 }), 7);
 * assert.equal(instanceKey({ state: "restarting" }), null);
 * ```
 */
export function instanceKey(phase: Phase): number | null {
  return phase.state === "starting" || phase.state === "running" || phase.state === "stopping"
    ? phase.key
    : null;
}

/**
 * An instance's id: `name#replica.incarnation`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { instanceId } from "./state.ts";
 * assert.equal(instanceId("api", { replica: 1, incarnation: 3 }), "api#1.3");
 * ```
 */
export function instanceId(name: string, slot: Pick<Slot, "replica" | "incarnation">): string {
  return `${name}#${slot.replica}.${slot.incarnation}`;
}
