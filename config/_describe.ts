/**
 * How the validator names a value in a message (`"abc"`, `a list`, `number 3`), and how it names a
 * secret's kind without ever echoing the secret.
 *
 * @module
 */

/**
 * A plain map: what YAML gives for a mapping and `{…}` gives in code (not a URL, not a list).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isMap } from "./_describe.ts";
 * assert.equal(isMap({ a: 1 }), true);
 * assert.equal(isMap([1]), false);
 * assert.equal(isMap(new URL("file:///a.ts")), false);
 * ```
 */
export function isMap(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * A value as a message shows it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describe } from "./_describe.ts";
 * assert.equal(describe("abc"), '"abc"');
 * assert.equal(describe(undefined), "nothing");
 * assert.equal(describe(3), "number 3");
 * assert.equal(describe({}), "a map");
 * ```
 */
export function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null (an empty value)";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "string") {
    if (value === "") return "an empty string";
    return value.length <= QUOTED
      ? `"${value}"`
      : `"${value.slice(0, QUOTED)}…" (${value.length} characters)`;
  }
  if (value instanceof URL) return `URL ${value.href}`;
  return typeof value === "object" ? "a map" : `${typeof value} ${String(value)}`;
}

/** Longest string quoted whole in a message; a longer one is cut and its length said. */
const QUOTED = 40;

/**
 * What kind of value the whole document is (a string: how long), never its content: a file that
 * is no topology (e.g. one with secrets in it) must not be echoed back in an error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeKind } from "./_describe.ts";
 * assert.equal(describeKind("SECRET=1"), "a string of 8 characters");
 * ```
 */
export function describeKind(value: unknown): string {
  if (typeof value === "string") return `a string of ${value.length} characters`;
  return describeSecret(value);
}

/**
 * What kind of value a secret is, never the value itself.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeSecret } from "./_describe.ts";
 * assert.equal(describeSecret("hunter2"), "a string");
 * assert.equal(describeSecret(42), "a number");
 * ```
 */
export function describeSecret(value: unknown): string {
  if (value === null) return "null (an empty value)";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "string") return value === "" ? "an empty string" : "a string";
  return typeof value === "object" ? "a map" : `a ${typeof value}`;
}
