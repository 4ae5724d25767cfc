/**
 * Decisions by error class (KrakenPHP's solvers, in OTP terms): a container's `on_error:` rules,
 * first match wins, each matching the thrown error's class name or any ancestor's.
 *
 * | action | what happens to the instance that threw |
 * |---|---|
 * | `restart` | it ends; its supervisor applies its strategy (the default) |
 * | `resume` | it keeps running with its state; only the failed message is dropped |
 * | `stop` | it ends and stays stopped (reported, never restarted: no crash loop) |
 * | `escalate` | it ends and its supervisor gives up at once, handing the failure to its parent |
 *
 * `log` combines with any action and logs the error with its stack. Built in, after the user's
 * rules: `PermissionDenied` and `NotCapable` → `log` + `stop`, since restarting cannot grant a
 * missing permission. Anything else restarts.
 *
 * @module
 */
import { errorClassNames } from "../protocol/errors.ts";

/** What to do with an instance whose handler threw. */
export type ErrorAction = "restart" | "resume" | "stop" | "escalate";

/** Every action, for validation. */
export const ERROR_ACTIONS: readonly ErrorAction[] = ["restart", "resume", "stop", "escalate"];

/** One `on_error:` rule, validated. */
export interface ErrorRule {
  /** Class names it matches (the error's own or any ancestor's); `*` matches anything. */
  readonly match: readonly string[];
  /** What to do. */
  readonly action: ErrorAction;
  /** Whether to log the error too. */
  readonly log: boolean;
}

/** The rules every container ends with. */
export const BUILTIN_ERROR_RULES: readonly ErrorRule[] = Object.freeze([
  Object.freeze({
    match: Object.freeze(["PermissionDenied", "NotCapable"]),
    action: "stop",
    log: true,
  }),
]) as readonly ErrorRule[];

/** The verdict for one error. */
export interface ErrorVerdict {
  /** What to do. */
  readonly action: ErrorAction;
  /** Whether to log it. */
  readonly log: boolean;
  /** Index of the matching rule among the user's rules, `-1` for a built-in or the default. */
  readonly rule: number;
}

/**
 * The class names of an error, its own first, up its prototype chain (`Object` excluded).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorClasses } from "./error_rules.ts";
 * class DbError extends Error {}
 * assert.equal(errorClasses(new DbError("x")).join(), "DbError,Error");
 * ```
 */
export const errorClasses: (error: unknown) => string[] = errorClassNames;

/**
 * The first rule matching an error's classes, then the built-in rules, then `restart`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { verdictFor } from "./error_rules.ts";
 * const rules = [{ match: ["ValidationError"], action: "resume" as const, log: true }];
 * assert.equal(verdictFor(rules, ["ValidationError", "Error"]).action, "resume");
 * assert.equal(verdictFor(rules, ["NotCapable", "Error"]).action, "stop");
 * assert.equal(verdictFor(rules, ["TypeError", "Error"]).action, "restart");
 * ```
 */
export function verdictFor(rules: readonly ErrorRule[], classes: readonly string[]): ErrorVerdict {
  const matches = (rule: ErrorRule) =>
    rule.match.some((name) => name === "*" || classes.includes(name));
  const index = rules.findIndex(matches);
  if (index >= 0) return { action: rules[index].action, log: rules[index].log, rule: index };
  const builtin = BUILTIN_ERROR_RULES.find(matches);
  if (builtin) return { action: builtin.action, log: builtin.log, rule: -1 };
  return { action: "restart", log: false, rule: -1 };
}
