/**
 * A supervisor's vocabulary: restart types, strategies, flags, stop modes and what it needs to know
 * of a child. The supervisor layer owns these words; the topology (`config/`) validates YAML into
 * them.
 *
 * @module
 */

/** When a failed container is started again. */
export type RestartType = "permanent" | "transient" | "temporary";
/** Which siblings restart with a failed child. */
export type Strategy = "one_for_one" | "one_for_all" | "rest_for_one";

/** A supervisor's flags. */
export interface SupervisorSpec {
  /** Which children restart together. */
  strategy: Strategy;
  /** Restarts allowed within `period` before giving up. */
  intensity: number;
  /** The sliding window for `intensity`, ms. */
  period: number;
  /** Delay before a restart: exponential from `min` to `max` ms, with ±`jitter` randomness. */
  backoff: { min: number; max: number; jitter: number };
}

/**
 * How to stop an instance: `graceful` runs its `onStop` hooks within `shutdown:` and never kills
 * (it fails if the instance does not stop); `kill` ends it at once; `graceful-then-kill` (the
 * default) asks, then kills once `shutdown:` has passed.
 */
export type StopMode = "graceful" | "kill" | "graceful-then-kill";

/**
 * What a supervisor reads of a child's spec. The runtime's `ContainerSpec` is one; the supervisor
 * carries the rest of it untouched to whoever starts the instances.
 */
export interface ChildSpec {
  /** Unique among the supervisor's children. */
  readonly name: string;
  /** When it is started again. */
  readonly restart: RestartType;
  /** How many instances (replicas) of it run side by side. */
  readonly replicas: number;
  /** An instance silent for longer than this (ms) is unresponsive: killed and handled as failed. */
  readonly keepalive: number;
  /** Where it runs; an `inline` child shares the supervisor's isolate and is never pinged. */
  readonly mode: string;
}
