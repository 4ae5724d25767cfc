/**
 * Durations in the topology: `250ms`, `5s`, `2m`, or a number of milliseconds.
 *
 * @module
 */

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

/**
 * The text form of a duration, as a regular expression source: a number, then `ms`, `s` or `m`.
 * The validator and the JSON Schema (`config/schema.ts`) both use it, so they accept the same.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DURATION_PATTERN } from "./duration.ts";
 * assert.ok(new RegExp(DURATION_PATTERN).test("250ms"));
 * assert.ok(!new RegExp(DURATION_PATTERN).test("5 seconds"));
 * ```
 */
export const DURATION_PATTERN = "^\\s*(\\d+(?:\\.\\d+)?)\\s*(ms|s|m)\\s*$";

const DURATION = new RegExp(DURATION_PATTERN);

/**
 * Parses a duration into milliseconds.
 *
 * @param value `"20ms"`, `"1.5s"`, `"2m"` or a non-negative number of ms.
 * @returns Milliseconds, or `undefined` when `value` is not a valid duration.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDuration } from "./duration.ts";
 * assert.equal(parseDuration("1.5s"), 1500);
 * assert.equal(parseDuration("soon"), undefined);
 * ```
 */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (typeof value !== "string") return undefined;
  const match = DURATION.exec(value);
  if (!match) return undefined;
  return Number(match[1]) * UNITS[match[2]];
}
