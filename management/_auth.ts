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
  const expected = digest(token);
  return (header) => {
    const match = header ? /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header) : null;
    if (!match) return "missing";
    return timingSafeEqual(digest(match[1]), expected) ? "ok" : "wrong";
  };
}

function digest(text: string): Uint8Array {
  return createHash("sha256").update(text).digest();
}
