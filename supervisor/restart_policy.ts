/**
 * Restart decisions, as pure functions of (restart type, exit reason, restart history, clock).
 *
 * | restart type | normal or requested exit | abnormal exit (error, crash, kill, unresponsive) |
 * |---|---|---|
 * | `permanent` | restart | restart |
 * | `transient` | leave stopped | restart |
 * | `temporary` | leave stopped | leave stopped |
 *
 * Intensity is OTP's: more than `intensity` restarts within the sliding window `period` and the
 * supervisor gives up. Backoff is Akka's: the delay doubles with each consecutive failure from
 * `min` to `max`, spread by ±`jitter`, and resets once the child has stayed up for `max` (or 1 s,
 * whichever is longer).
 *
 * @module
 */
import type { ExitReason } from "../protocol/envelope.ts";
import type { RestartType, SupervisorSpec } from "./spec.ts";

/**
 * Whether a child of `type` that ended for `reason` is started again.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shouldRestart } from "./restart_policy.ts";
 * assert.ok(shouldRestart("transient", { kind: "error", message: "boom" }));
 * assert.ok(!shouldRestart("transient", { kind: "normal", message: "done" }));
 * ```
 */
export function shouldRestart(type: RestartType, reason: ExitReason): boolean {
  const abnormal = reason.kind !== "normal" && reason.kind !== "stopped";
  switch (type) {
    case "permanent":
      return true;
    case "transient":
      return abnormal;
    case "temporary":
      return false;
    default: {
      const never: never = type;
      throw new TypeError(`unknown restart type ${String(never)}`);
    }
  }
}

/**
 * Records a restart at `now` and tells whether intensity is exceeded.
 *
 * @param history Times of earlier restarts (any order; older than `period` are dropped).
 * @returns The new history and `exceeded` when it holds more than `intensity` restarts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { recordRestart } from "./restart_policy.ts";
 * const spec = { intensity: 1, period: 5000 };
 * const first = recordRestart([], 0, spec);
 * assert.ok(!first.exceeded);
 * assert.ok(recordRestart(first.history, 100, spec).exceeded);
 * assert.ok(!recordRestart(first.history, 6000, spec).exceeded);
 * ```
 */
export function recordRestart(
  history: readonly number[],
  now: number,
  spec: Pick<SupervisorSpec, "intensity" | "period">,
): { history: number[]; exceeded: boolean } {
  // OTP keeps a restart exactly `period` old in the window (`R >= Now - Period`).
  const recent = history.filter((t) => now - t <= spec.period);
  recent.push(now);
  return { history: recent, exceeded: recent.length > spec.intensity };
}

/**
 * The delay before the `attempt`-th consecutive restart (1-based).
 *
 * @param random A number in [0, 1) (inject for tests).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { backoffDelay } from "./restart_policy.ts";
 * const b = { min: 20, max: 1000, jitter: 0 };
 * assert.equal(backoffDelay(1, b, 0.5), 20);
 * assert.equal(backoffDelay(3, b, 0.5), 80);
 * assert.equal(backoffDelay(30, b, 0.5), 1000);
 * ```
 */
export function backoffDelay(
  attempt: number,
  backoff: SupervisorSpec["backoff"],
  random: number,
): number {
  const base = Math.min(backoff.max, backoff.min * 2 ** Math.max(0, attempt - 1));
  const spread = base * backoff.jitter * (random * 2 - 1);
  return Math.max(0, Math.round(base + spread));
}

/** How long a child must stay up for its backoff to reset, ms. */
export function stablePeriod(backoff: SupervisorSpec["backoff"]): number {
  return Math.max(1000, backoff.max);
}
