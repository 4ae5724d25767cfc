/**
 * `management:`, the HTTP management API: where it listens and the token every request carries
 * (never echoed in a message).
 *
 * @module
 */
import { readListen } from "./_listen.ts";
import { DEFAULTS } from "./_shape.ts";
import { describeSecret } from "./_describe.ts";
import type { Reader } from "./_reader.ts";
import type { ManagementSpec } from "./model.ts";

/**
 * What the management token may hold: RFC 6750's `b64token` (letters, digits, `-._~+/`, then `=`
 * padding), all a bearer header can carry (hono's `bearerAuth` refuses anything else).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BEARER_TOKEN } from "./_read_management.ts";
 * assert.ok(BEARER_TOKEN.test("s3cret-t0ken"));
 * assert.ok(!BEARER_TOKEN.test("two words"));
 * ```
 */
export const BEARER_TOKEN = /^[A-Za-z0-9._~+/-]+=*$/;

/**
 * What {@linkcode BEARER_TOKEN} allows, in words (the token itself is never echoed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BEARER_TOKEN_RULE } from "./_read_management.ts";
 * assert.match(BEARER_TOKEN_RULE, /RFC 6750/);
 * ```
 */
export const BEARER_TOKEN_RULE =
  "letters, digits and - . _ ~ + / (then = padding), as a bearer token is (RFC 6750), e.g. " +
  "the output of openssl rand -hex 32";

/**
 * A `management:` block, `undefined` when there is none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Reader } from "./_reader.ts";
 * import { readManagement } from "./_read_management.ts";
 * const read = new Reader({ baseUrl: "file:///app/" });
 * assert.deepEqual(readManagement(read, { token: "t0k3n" }), {
 *   listen: "127.0.0.1:9090",
 *   token: "t0k3n",
 * });
 * assert.throws(() => readManagement(read, { listen: 9090 }), /token/);
 * ```
 */
export function readManagement(r: Reader, input: unknown): ManagementSpec | undefined {
  if (input === undefined) return undefined;
  const path = ["management"];
  r.notSecret(input, path, "management");
  const m = r.block(input, path, "management");
  let listen: string = DEFAULTS.management.listen;
  if (m.listen !== undefined) {
    const read = readListen(m.listen);
    if ("problem" in read) r.fail([...path, "listen"], read.problem);
    listen = read.listen;
  }
  const unset = r.deferred.get("management.token");
  if (unset) return { listen, token: "", tokenUnset: unset.message };
  if (m.token === undefined) {
    r.missing(
      [...path, "token"],
      "the token every request to the management API must carry (e.g. token: ${KRAKEN_TOKEN})",
    );
  }
  // The token is a secret: what it holds never appears in a message, only what kind of value.
  if (typeof m.token !== "string" || m.token === "") {
    r.fail(
      [...path, "token"],
      `expected a non-empty string (e.g. token: \${KRAKEN_TOKEN}), got ${describeSecret(m.token)}`,
    );
  }
  if (!BEARER_TOKEN.test(m.token)) {
    r.fail(
      [...path, "token"],
      `expected ${BEARER_TOKEN_RULE}, got a string with another character (not shown: a secret)`,
    );
  }
  return { listen, token: m.token };
}
