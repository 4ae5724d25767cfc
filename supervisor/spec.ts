/**
 * A supervisor's vocabulary: restart types, strategies and flags. The supervisor layer owns these
 * words; the topology (`config/`) validates YAML into them.
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
