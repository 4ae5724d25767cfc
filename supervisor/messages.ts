/**
 * What goes into a supervisor's state machine (calls, and what the runner saw happen) and what
 * comes out (effects for the runner to carry out). All plain data: instances, timers and calls
 * are named by numbers the machine hands out (`key`, `id`) or the caller chose (`op`).
 *
 * @module
 */
import type { ExitReason, LogLevel } from "../protocol/envelope.ts";
import type { SupervisorEvent } from "./events.ts";
import type { ChildSpec, StopMode, SupervisorSpec } from "./spec.ts";
import type { GiveUp, SupervisorState } from "./state.ts";

/** A heartbeat reading: how long an instance has been silent. */
export interface Silence {
  /** The instance. */
  readonly key: number;
  /** Milliseconds since its last sign of life. */
  readonly silentFor: number;
}

/** A call: something asked of the supervisor. Those with an `op` end with a `reply` effect. */
export type SupervisorCall<S extends ChildSpec> =
  /** Adds a child and starts its replicas (in parallel); a failed start removes it again. */
  | { readonly type: "add"; readonly op: number; readonly spec: S }
  /** Stops every replica of child `name` and removes it. */
  | { readonly type: "remove"; readonly op: number; readonly name: string; readonly mode: StopMode }
  /** Stops then starts every replica of `name` (not counted toward intensity). */
  | {
    readonly type: "restart";
    readonly op: number;
    readonly name: string;
    readonly mode: StopMode;
  }
  /** Starts new replicas or stops the last ones. */
  | {
    readonly type: "scale";
    readonly op: number;
    readonly name: string;
    readonly replicas: number;
  }
  /**
   * Replaces the child of its name with `spec`, one replica at a time (see `machine.ts`); each old
   * replica stops with `mode` (default `graceful-then-kill`). `restart`: a rolling restart (the
   * same spec), so each new replica counts one restart more than the one it replaces.
   */
  | {
    readonly type: "replace";
    readonly op: number;
    readonly spec: S;
    readonly mode?: StopMode;
    readonly restart?: boolean;
  }
  /** Takes a new spec for child `spec.name` without restarting anything. */
  | { readonly type: "update"; readonly op: number; readonly spec: S }
  /** New flags from now on. */
  | { readonly type: "set_flags"; readonly flags: SupervisorSpec }
  /** Puts the children in this order (unknown names last). */
  | { readonly type: "reorder"; readonly names: readonly string[] }
  /** Stops every child in reverse start order, then the supervisor is `stopped`. */
  | { readonly type: "shutdown"; readonly op: number; readonly message: string };

/** What the runner saw happen. */
export type SupervisorReport =
  /** Instance `key` takes messages. */
  | { readonly type: "started"; readonly key: number }
  /** Instance `key` could not start. */
  | { readonly type: "start_failed"; readonly key: number; readonly error: unknown }
  /** A stop of instance `key` ended: it is gone (`done`), or a graceful-only stop gave up. */
  | { readonly type: "stopped"; readonly key: number; readonly done: boolean }
  /** Instance `key` ended (asked to, or on its own). */
  | { readonly type: "exited"; readonly key: number; readonly reason: ExitReason }
  /** What ended instance `key` held (its subtree) is released. */
  | { readonly type: "released"; readonly key: number }
  /** Timer `id` fired. */
  | { readonly type: "timer"; readonly id: number }
  /** Heartbeat readings of the instances a `ping` named. */
  | { readonly type: "silence"; readonly readings: readonly Silence[] };

/** Everything that moves a supervisor. */
export type SupervisorInput<S extends ChildSpec> = SupervisorCall<S> | SupervisorReport;

/**
 * What the runner must do. It answers every `start` with exactly one `started` or `start_failed`,
 * every `stop` with exactly one `stopped`, and every `release` with one `released`.
 */
export type Effect<S extends ChildSpec> =
  /** Create instance `key` of `spec` and start it. */
  | {
    readonly kind: "start";
    readonly key: number;
    readonly spec: S;
    readonly instance: string;
    readonly child: number;
    readonly replica: number;
    readonly incarnation: number;
  }
  /** Stop instance `key` (`kill`: at once; else ask, and with `graceful-then-kill` kill later). */
  | {
    readonly kind: "stop";
    readonly key: number;
    readonly mode: StopMode;
    readonly reason: ExitReason;
  }
  /** End instance `key` now (cuts a stop short; ends an unresponsive instance). No answer. */
  | { readonly kind: "kill"; readonly key: number; readonly reason: ExitReason }
  /** Instance `key` ended on its own: release what it held; `ensureGone`: make sure it goes. */
  | {
    readonly kind: "release";
    readonly key: number;
    readonly reason: ExitReason;
    readonly ensureGone: boolean;
  }
  /** Instance `key` is running (e.g. to connect it to its peers). */
  | { readonly kind: "running"; readonly key: number }
  /** Ask these instances for a sign of life and report `silence`. */
  | { readonly kind: "ping"; readonly keys: readonly number[] }
  /** Fire `timer` with `id` after `delay` ms. */
  | { readonly kind: "set_timer"; readonly id: number; readonly delay: number }
  /** Forget timer `id`. */
  | { readonly kind: "clear_timer"; readonly id: number }
  /** Report a supervision event. */
  | { readonly kind: "emit"; readonly event: SupervisorEvent }
  /** Log a line. */
  | { readonly kind: "log"; readonly level: LogLevel; readonly message: string }
  /** Routes or the tree changed. */
  | { readonly kind: "changed" }
  /**
   * The supervisor gives up: when it begins (`done: false`; log it) and once its children are
   * stopped (`done: true`; fail upward with `SupervisorGaveUpError`).
   */
  | {
    readonly kind: "give_up";
    readonly done: boolean;
    readonly giveUp: GiveUp;
    readonly intensity: number;
    readonly period: number;
  }
  /** Call `op` is over: it succeeded (`failure: null`) or failed with `failure.error`. */
  | {
    readonly kind: "reply";
    readonly op: number;
    readonly failure: { readonly error: unknown } | null;
  };

/** A new state and the effects that lead there. */
export interface Transition<S extends ChildSpec> {
  /** The state after the input. */
  readonly state: SupervisorState<S>;
  /** What the runner must do, in order. */
  readonly effects: readonly Effect<S>[];
}

/** The outside world at the moment of an input: the clock, and a random number in [0, 1). */
export interface Moment {
  /** Milliseconds on the supervisor's clock. */
  readonly now: number;
  /** Used for backoff jitter. */
  readonly random: number;
}
