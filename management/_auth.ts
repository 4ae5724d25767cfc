/**
 * Bearer-token checking for the management API, in constant time.
 *
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";

/**
 * A checker for `Authorization: Bearer <token>` headers.
 *
 * Both sides are hashed first: `timingSafeEqual` needs equal lengths, and comparing digests
 * leaks neither the token's bytes nor its length through timing.
 *
 * @param token The expected token (non-empty).
 * @returns `check(header)`: `"ok"`, `"missing"` (no bearer header) or `"wrong"`.
 * @throws {TypeError} An empty token: the API would be open to anyone.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bearerChecker } from "./_auth.ts";
 * const check = bearerChecker("s3cret-token");
 * assert.equal(check("Bearer s3cret-token"), "ok");
 * assert.equal(check("Bearer nope"), "wrong");
 * assert.equal(check(undefined), "missing");
 * ```
 */
export function bearerChecker(
  token: string,
): (header: string | undefined) => "ok" | "missing" | "wrong" {
  if (typeof token !== "string" || token.length === 0) {
    throw new TypeError("the management token must be a non-empty string");
  }
  const matches = tokenMatcher(token);
  return (header) => {
    const match = header ? /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header) : null;
    if (!match) return "missing";
    return matches(match[1]) ? "ok" : "wrong";
  };
}

/**
 * A constant-time comparison of a candidate with the token (the sign-in form of the dashboard
 * sends the token itself, not a header).
 *
 * @param token The expected token (non-empty).
 * @returns `matches(candidate)`: whether `candidate` is the token.
 * @throws {TypeError} An empty token.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tokenMatcher } from "./_auth.ts";
 * const matches = tokenMatcher("s3cret-token");
 * assert.equal(matches("s3cret-token"), true);
 * assert.equal(matches("s3cret"), false);
 * ```
 */
export function tokenMatcher(token: string): (candidate: string) => boolean {
  if (typeof token !== "string" || token.length === 0) {
    throw new TypeError("the management token must be a non-empty string");
  }
  const expected = digest(token);
  return (candidate) => timingSafeEqual(digest(candidate), expected);
}

function digest(text: string): Uint8Array {
  return createHash("sha256").update(text).digest();
}
