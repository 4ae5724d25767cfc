/**
 * Authentication of the management API as one hono middleware: an optional hook of the embedder
 * (e.g. a session cookie), then a signed request (`signed.ts`), then hono's own `bearerAuth`
 * (constant-time comparison of the token). Every refusal is a `401` with the JSON error body and
 * `WWW-Authenticate: Bearer realm="kraken"`, thrown as hono's `HTTPException`.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { HTTPException } from "hono/http-exception";
import type { ErrorBody } from "./error_body.ts";
import { createHash, timingSafeEqual } from "node:crypto";
import { signedChecker } from "./signed.ts";
import { BEARER_TOKEN, BEARER_TOKEN_RULE } from "../config/_read_management.ts";

const CHALLENGE = 'Bearer realm="kraken"';

/**
 * The middleware that admits a request with a valid session (`authenticate`), signature or
 * bearer token, and refuses anything else with `401` before any route runs.
 *
 * @param token The management token (non-empty; letters, digits, `-._~+/`, then `=`).
 * @param options `authenticate`: another way in, tried first.
 * @returns A hono middleware.
 * @throws {TypeError} An empty token (the API would be open to anyone), or one with characters a
 *   bearer token cannot carry (the message names the rule, never the token).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Hono } from "hono";
 * import { managementAuth } from "./_auth.ts";
 * const app = new Hono();
 * app.use("*", managementAuth("s3cret"));
 * app.get("/", (c) => c.text("in"));
 * assert.equal((await app.request("/", { headers: { authorization: "Bearer s3cret" } })).status, 200);
 * const refused = await app.request("/", { headers: { authorization: "Bearer nope" } });
 * assert.equal(refused.status, 401);
 * assert.equal((await refused.json()).error.type, "Unauthorized");
 * ```
 */
export function managementAuth(
  token: string,
  options: { authenticate?: (request: Request) => boolean | Promise<boolean> } = {},
): MiddlewareHandler {
  if (typeof token !== "string" || token.length === 0) {
    throw new TypeError("the management token must be a non-empty string");
  }
  if (!BEARER_TOKEN.test(token)) {
    throw new TypeError(`the management token must be made of ${BEARER_TOKEN_RULE}`);
  }
  const checkSigned = signedChecker(token);
  // hono's bearerAuth answers a malformed header 400; here every refusal is the same 401 (a
  // client sending the token without the scheme is told what to send, not that it was close).
  const bearer = bearerAuth({
    token,
    realm: "kraken",
    noAuthenticationHeader: {
      message: () => unauthorized(MISSING),
      wwwAuthenticateHeader: CHALLENGE,
    },
    invalidAuthenticationHeader: {
      message: () => unauthorized(MISSING),
      wwwAuthenticateHeader: CHALLENGE,
    },
    invalidToken: {
      message: () => unauthorized("wrong bearer token or signature"),
      wwwAuthenticateHeader: CHALLENGE,
    },
  });
  return async (c, next) => {
    if (options.authenticate && await options.authenticate(c.req.raw)) return await next();
    const header = c.req.header("authorization");
    // A signed request (HMAC of method, path, body and time) is Kraken's own scheme: no hono
    // helper checks it, so it is checked here, before hono's bearerAuth sees the header.
    if (header !== undefined && /^Kraken-Signed[ \t]/i.test(header)) {
      await signed(c, header);
      return await next();
    }
    return await bearer(c, next);
  };

  async function signed(c: Context, header: string): Promise<void> {
    const url = new URL(c.req.url);
    const body = new Uint8Array(await c.req.arrayBuffer()); // cached: handlers read it again
    const verdict = checkSigned(header, {
      method: c.req.method,
      path: `${url.pathname}${url.search}`,
      body,
    });
    if (verdict === "ok") return;
    throw new HTTPException(401, {
      res: unauthorized(
        verdict === "missing"
          ? MISSING
          : verdict === "stale"
          ? "the request's signature is more than a minute away from the runtime's clock"
          : verdict === "replayed"
          ? "the request's signature was used before"
          : "wrong bearer token or signature",
      ),
    });
  }
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

const MISSING = "missing bearer token: send the header Authorization: Bearer <token>";

function unauthorized(message: string): Response {
  const body: ErrorBody = { error: { type: "Unauthorized", message } };
  return new Response(JSON.stringify(body), {
    status: 401,
    headers: { "content-type": "application/json", "www-authenticate": CHALLENGE },
  });
}
