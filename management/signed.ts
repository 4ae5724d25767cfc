/**
 * Signed management requests: the token never travels. A bearer token sent to whatever answers on
 * the management address can be stolen by whoever answers there — on a shared machine, a local
 * user who takes the port while the runtime is down. A signed request proves the token instead:
 *
 * ```
 * Authorization: Kraken-Signed t=<unix ms>,n=<nonce>,s=<hex HMAC-SHA256(token, what)>
 * what = "kraken/v1\n" + METHOD + "\n" + path?query + "\n" + t + "\n" + n + "\n" + hex SHA-256(body)
 * ```
 *
 * The runtime accepts a signature within a minute of its time, once (each nonce is remembered for
 * two minutes), for that method, path and body only: one captured, it can at most be replayed once,
 * unchanged, within the minute. The `kraken` CLI signs every request; `curl` may still send
 * `Bearer <token>` (see docs/management-api.md).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** The authorization scheme's name. */
export const SIGNED_SCHEME = "Kraken-Signed";
/** How far a signature's time may be from the runtime's, ms. */
export const SIGNATURE_WINDOW_MS = 60_000;
/** Most nonces remembered at once (a flood of valid signatures beyond it is refused). */
const MAX_NONCES = 100_000;

/**
 * The `Authorization` header value for a request.
 *
 * @param token The management token.
 * @param request Its method, path with query, and body bytes (empty without one).
 * @param options `now` (ms) and `nonce` (hex), for tests.
 * @returns `Kraken-Signed t=…,n=…,s=…`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { signRequest, signedChecker } from "./signed.ts";
 * const header = signRequest("s3cret", { method: "GET", path: "/v1/tree" }, { now: 1000 });
 * const check = signedChecker("s3cret", () => 1000);
 * assert.equal(check(header, { method: "GET", path: "/v1/tree" }), "ok");
 * assert.equal(check(header, { method: "GET", path: "/v1/tree" }), "replayed");
 * ```
 */
export function signRequest(
  token: string,
  request: { method: string; path: string; body?: Uint8Array },
  options: { now?: number; nonce?: string } = {},
): string {
  const t = Math.round(options.now ?? Date.now());
  const n = options.nonce ?? randomBytes(16).toString("hex");
  return `${SIGNED_SCHEME} t=${t},n=${n},s=${signature(token, request, t, n)}`;
}

/**
 * A checker for signed requests (see the module doc).
 *
 * @param token The management token (non-empty).
 * @param now The clock, ms since the epoch.
 * @returns `check(header, request)`: `"ok"`; `"missing"` (not this scheme); `"wrong"` (bad
 *   signature or malformed); `"stale"` (outside the time window); `"replayed"` (nonce seen).
 *
 * @example A signature is for one method, path and body
 * ```ts
 * import assert from "node:assert/strict";
 * import { signRequest, signedChecker } from "./signed.ts";
 * const body = new TextEncoder().encode('{"replicas":2}');
 * const header = signRequest("s3cret", { method: "POST", path: "/v1/containers/a/scale", body });
 * const check = signedChecker("s3cret");
 * assert.equal(check(header, { method: "POST", path: "/v1/containers/b/scale", body }), "wrong");
 * assert.equal(check("Bearer s3cret", { method: "GET", path: "/" }), "missing");
 * ```
 */
export function signedChecker(
  token: string,
  now: () => number = Date.now,
): (
  header: string | undefined,
  request: { method: string; path: string; body?: Uint8Array },
) => "ok" | "missing" | "wrong" | "stale" | "replayed" {
  if (typeof token !== "string" || token.length === 0) {
    throw new TypeError("the management token must be a non-empty string");
  }
  const seen = new Map<string, number>();
  return (header, request) => {
    const match = header
      ? /^Kraken-Signed[ \t]+t=(\d{1,16}),n=([0-9a-f]{16,64}),s=([0-9a-f]{64})[ \t]*$/i.exec(header)
      : null;
    if (!match) return "missing";
    const t = Number(match[1]);
    const n = match[2].toLowerCase();
    const expected = Buffer.from(signature(token, request, t, n), "hex");
    if (!timingSafeEqual(Buffer.from(match[3].toLowerCase(), "hex"), expected)) return "wrong";
    const at = now();
    if (Math.abs(at - t) > SIGNATURE_WINDOW_MS) return "stale";
    for (const [nonce, when] of seen) {
      // Oldest first: stop at the first one still inside twice the window.
      if (at - when <= 2 * SIGNATURE_WINDOW_MS) break;
      seen.delete(nonce);
    }
    if (seen.has(n) || seen.size >= MAX_NONCES) return "replayed";
    seen.set(n, at);
    return "ok";
  };
}

function signature(
  token: string,
  request: { method: string; path: string; body?: Uint8Array },
  t: number,
  n: string,
): string {
  const bodyHash = createHash("sha256").update(request.body ?? new Uint8Array()).digest("hex");
  const what =
    `kraken/v1\n${request.method.toUpperCase()}\n${request.path}\n${t}\n${n}\n${bodyHash}`;
  return createHmac("sha256", token).update(what).digest("hex");
}
