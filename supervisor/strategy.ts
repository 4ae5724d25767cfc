/**
 * What a supervisor does when one of its children ends: OTP's strategies as one pure function of
 * (strategy, children, which one ended and why, restart history, clock). The state machine
 * (`machine.ts`) carries the decision out — per replica, with backoff — and this file only decides
 * per child, so every case is tested without a single thread or process.
 *
 * | strategy | the ended child should restart (by its restart type) |
 * |---|---|
 * | `one_for_one` | restart it alone |
 * | `one_for_all` | stop every other live child (reverse start order), restart all (start order) |
 * | `rest_for_one` | stop the live children started after it (reverse order), restart it and them |
 *
 * `temporary` children stopped by a sibling's restart are not started again (OTP). A restart counts
 * once toward intensity however many children it restarts; more than `intensity` within `period`
 * and the supervisor gives up: it stops every live child in reverse order and fails, which its own
 * parent handles. An `on_error` rule may override the restart type: `stop` leaves the child stopped,
 * `escalate` gives up at once.
 *
 * @module
 */
import type { ExitReason } from "../protocol/envelope.ts";
import type { RestartType, Strategy, SupervisorSpec } from "./spec.ts";
import { recordRestart, shouldRestart } from "./restart_policy.ts";

/** A child as the decision sees it. */
export interface ChildView {
  /** Container name. */
  readonly name: string;
  /** Its restart type. */
  readonly restart: RestartType;
  /** Whether it has a live instance now (the one that ended does not). */
  readonly alive: boolean;
  /**
   * Kept stopped on purpose (an `on_error: stop` verdict, or a transient/temporary child that
   * ended normally): a sibling's restart does not start it again.
   */
  readonly held?: boolean;
}

/** What the supervisor has to decide about. */
export interface ChildEnded {
  /** The supervisor's flags. */
  readonly spec: Pick<SupervisorSpec, "strategy" | "intensity" | "period">;
  /** Its children in start order. */
  readonly children: readonly ChildView[];
  /** The child that ended. */
  readonly ended: string;
  /** Why. */
  readonly reason: ExitReason;
  /** An `on_error` rule's verdict, when one matched (`resume` never reaches a supervisor). */
  readonly action?: "restart" | "stop" | "escalate";
  /** Times of the restarts so far (for intensity). */
  readonly history: readonly number[];
  /** The clock, ms. */
  readonly now: number;
}

/** The supervisor's decision. */
export type Decision =
  /** Nothing restarts; the ended child stays stopped. */
  | { readonly kind: "leave"; readonly history: readonly number[] }
  /** Stop `stop` (in that order), then start `start` (in that order); `drop` stay stopped. */
  | {
    readonly kind: "restart";
    readonly stop: readonly string[];
    readonly start: readonly string[];
    readonly drop: readonly string[];
    readonly history: readonly number[];
  }
  /** Stop every live child (in that order) and fail the supervisor. */
  | {
    readonly kind: "give_up";
    readonly stop: readonly string[];
    readonly why: "intensity" | "escalate";
    readonly history: readonly number[];
  };

/**
 * Decides what follows a child's end.
 *
 * @example rest_for_one restarts the failed child and those started after it
 * ```ts
 * import assert from "node:assert/strict";
 * import { decide } from "./strategy.ts";
 * const d = decide({
 *   spec: { strategy: "rest_for_one", intensity: 5, period: 10_000 },
 *   children: [
 *     { name: "db", restart: "permanent", alive: true },
 *     { name: "api", restart: "permanent", alive: false },
 *     { name: "web", restart: "permanent", alive: true },
 *   ],
 *   ended: "api",
 *   reason: { kind: "error", message: "boom" },
 *   history: [],
 *   now: 0,
 * });
 * assert.equal(d.kind, "restart");
 * assert.equal(d.start.join(), "api,web");
 * assert.equal(d.stop.join(), "web");
 * ```
 */
export function decide(input: ChildEnded): Decision {
  const { spec, children, ended, reason, history, now } = input;
  const index = children.findIndex((child) => child.name === ended);
  if (index < 0) throw new RangeError(`"${ended}" is not a child of this supervisor`);
  const child = children[index];
  const others = children.filter((c) => c.name !== ended && !c.held);
  // Giving up stops every live child, held ones included (OTP stops all of them).
  const stopAll = children.filter((c) => c.name !== ended && c.alive).map((c) => c.name).reverse();
  if (input.action === "escalate") {
    return { kind: "give_up", stop: stopAll, why: "escalate", history };
  }
  if (input.action === "stop" || !shouldRestart(child.restart, reason)) {
    return { kind: "leave", history };
  }
  const recorded = recordRestart(history, now, spec);
  if (recorded.exceeded) {
    return { kind: "give_up", stop: stopAll, why: "intensity", history: recorded.history };
  }
  const affected = spec.strategy === "one_for_one"
    ? []
    : spec.strategy === "one_for_all"
    ? others
    : children.slice(index + 1).filter((c) => !c.held);
  const rest = affected.filter((c) => c.restart !== "temporary").map((c) => c.name);
  const group = spec.strategy === "one_for_all"
    ? children.filter((c) => c === child || rest.includes(c.name)).map((c) => c.name)
    : [ended, ...rest];
  return {
    kind: "restart",
    stop: affected.filter((c) => c.alive).map((c) => c.name).reverse(),
    start: group,
    drop: affected.filter((c) => c.restart === "temporary").map((c) => c.name),
    history: recorded.history,
  };
}

/** The order a supervisor stops its children in: the reverse of their start order. */
export function stopOrder(children: readonly string[]): string[] {
  return children.toReversed();
}

/** Every strategy, for validation and docs. */
export const STRATEGY_NAMES: readonly Strategy[] = ["one_for_one", "one_for_all", "rest_for_one"];
