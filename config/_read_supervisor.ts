/**
 * The blocks the supervisor is configured by: `supervisor:` (strategy, intensity, period, backoff)
 * and a container's `on_error:` rules.
 *
 * @module
 */
import { didYouMean } from "./_suggest.ts";
import { ERROR_ACTIONS, type ErrorAction, type ErrorRule } from "../supervisor/error_rules.ts";
import type { SupervisorSpec } from "../supervisor/spec.ts";
import { DEFAULTS, TOPOLOGY_VALUES } from "./_shape.ts";
import { describe } from "./_describe.ts";
import type { Path, Reader } from "./_reader.ts";

/**
 * A `supervisor:` block, the defaults filling what it leaves out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Reader } from "./_reader.ts";
 * import { readSupervisor } from "./_read_supervisor.ts";
 * const read = new Reader({ baseUrl: "file:///app/" });
 * const spec = readSupervisor(read, { strategy: "one_for_all" }, ["supervisor"]);
 * assert.equal(spec.strategy, "one_for_all");
 * assert.throws(() => readSupervisor(read, { intensity: -1 }, ["supervisor"]), /intensity/);
 * ```
 */
export function readSupervisor(r: Reader, input: unknown, path: Path): SupervisorSpec {
  const d = DEFAULTS.supervisor;
  if (input === undefined) return { ...d, backoff: { ...d.backoff } };
  const s = r.block(input, path, "supervisor");
  const strategy = r.oneOf(
    s.strategy,
    [...path, "strategy"],
    TOPOLOGY_VALUES.strategy,
    d.strategy,
  );
  const intensity = r.integer(s.intensity, [...path, "intensity"], d.intensity, 0);
  const period = r.duration(s.period, [...path, "period"], d.period);
  const bpath = [...path, "backoff"];
  const b = s.backoff === undefined ? {} : r.block(s.backoff, bpath, "backoff");
  const min = r.duration(b.min, [...bpath, "min"], d.backoff.min);
  const max = r.duration(b.max, [...bpath, "max"], d.backoff.max);
  if (max < min) {
    r.fail(
      [...bpath, "max"],
      `expected a duration >= backoff.min (${min} ms), got ${describe(b.max ?? max)}`,
    );
  }
  const jitterRaw = typeof b.jitter === "string" && b.jitter.trim() !== "" &&
      Number.isFinite(Number(b.jitter))
    ? Number(b.jitter)
    : b.jitter ?? d.backoff.jitter;
  if (typeof jitterRaw !== "number" || !(jitterRaw >= 0 && jitterRaw <= 1)) {
    r.fail([...bpath, "jitter"], `expected a number from 0 to 1, got ${describe(b.jitter)}`);
  }
  return { strategy, intensity, period, backoff: { min, max, jitter: jitterRaw } };
}

/**
 * A container's `on_error:` list: each rule matches error class names and takes one action, plus
 * `log` if asked.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Reader } from "./_reader.ts";
 * import { readErrorRules } from "./_read_supervisor.ts";
 * const read = new Reader({ baseUrl: "file:///app/" });
 * const rules = readErrorRules(read, [{ match: "DbError", action: ["log", "resume"] }], ["on_error"]);
 * assert.deepEqual(rules, [{ match: ["DbError"], action: "resume", log: true }]);
 * ```
 */
export function readErrorRules(r: Reader, input: unknown, path: Path): ErrorRule[] {
  if (input === undefined) return [];
  if (!Array.isArray(input)) {
    r.fail(
      path,
      `expected a list of rules like [{ match: DbError, action: restart }], got ${describe(input)}`,
    );
  }
  const allowed = TOPOLOGY_VALUES.action;
  return input.map((raw, i): ErrorRule => {
    const rule = r.block(raw, [...path, i], "rule");
    const match = typeof rule.match === "string" ? [rule.match] : rule.match;
    if (
      !Array.isArray(match) || match.length === 0 ||
      match.some((m) => typeof m !== "string" || m === "")
    ) {
      r.fail(
        [...path, i, "match"],
        `expected an error class name or a list of them (e.g. TypeError, or "*" for any), got ${
          describe(rule.match)
        }`,
      );
    }
    const actions = typeof rule.action === "string" ? [rule.action] : rule.action;
    if (!Array.isArray(actions) || actions.length === 0) {
      r.fail(
        [...path, i, "action"],
        `expected one of ${allowed.join(", ")} or a list such as [log, resume], got ${
          describe(rule.action)
        }`,
      );
    }
    let action: ErrorAction | undefined;
    for (const a of actions) {
      if (typeof a !== "string" || !(allowed as readonly string[]).includes(a)) {
        r.fail(
          [...path, i, "action"],
          `expected one of ${allowed.join(", ")}, got ${describe(a)}${
            typeof a === "string" ? didYouMean(a, allowed) : ""
          }`,
        );
      }
      if (a === "log") continue;
      if (action !== undefined) {
        r.fail(
          [...path, i, "action"],
          `combines "${action}" and "${a}": a rule takes one of ${
            ERROR_ACTIONS.join(", ")
          }, plus log`,
        );
      }
      action = a as ErrorAction;
    }
    return {
      match: match as string[],
      action: action ?? "restart",
      log: actions.includes("log"),
    };
  });
}
