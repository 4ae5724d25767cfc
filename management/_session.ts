/**
 * Browser sessions of the management API: the dashboard's sign-in trades the token, once, for a
 * random session id in an HttpOnly, SameSite=Strict cookie; the server keeps the table of live
 * ids with their expiry. The token itself is never stored, put in a URL, a cookie or a page.
 *
 * A request authenticated by its cookie that changes something must also carry
 * {@linkcode CSRF_HEADER} and, when it says where it comes from, come from the API's own origin:
 * a page on another site can make the browser send the cookie (on a top-level navigation at
 * most, with SameSite=Strict), but cannot add a custom header without a CORS preflight, which
 * this API never grants.
 *
 * @module
 */

/**
 * The session cookie's name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SESSION_COOKIE } from "./_session.ts";
 * assert.equal(SESSION_COOKIE, "kraken_session");
 * ```
 */
export const SESSION_COOKIE = "kraken_session";

/**
 * The header a cookie-authenticated request that changes state must carry (any value).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CSRF_HEADER } from "./_session.ts";
 * assert.equal(CSRF_HEADER, "x-kraken-csrf");
 * ```
 */
export const CSRF_HEADER = "x-kraken-csrf";

/**
 * Settings of a {@linkcode SessionTable}.
 *
 * @example
 * ```ts
 * import type { SessionOptions } from "./_session.ts";
 * const options: SessionOptions = { ttl: 60_000, maxSessions: 4, signInFailures: 3 };
 * ```
 */
export interface SessionOptions {
  /** How long a session lives after sign-in, ms (default 12 h). */
  ttl?: number;
  /** Sessions kept at once; signing in past it ends the oldest (default 64). */
  maxSessions?: number;
  /** Wrong tokens accepted per {@linkcode SessionOptions.failureWindow} (default 5). */
  signInFailures?: number;
  /** The window wrong tokens are counted over, ms (default 60 s). */
  failureWindow?: number;
  /** The clock, ms (tests pass their own). */
  now?: () => number;
}

/**
 * The live sessions, and the sign-in rate limit: past `signInFailures` wrong tokens in a window,
 * every sign-in is refused until the window has moved on (counted for the whole server, since the
 * API sees no client address; bearer clients are not affected).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SessionTable } from "./_session.ts";
 * let now = 0;
 * const sessions = new SessionTable({ ttl: 1000, now: () => now });
 * const { id } = sessions.create();
 * assert.equal(sessions.valid(id), true);
 * now = 1001;
 * assert.equal(sessions.valid(id), false); // expired
 * ```
 */
export class SessionTable {
  readonly #sessions = new Map<string, number>(); // id → expiry; insertion order is age
  readonly #failures: number[] = [];
  readonly #ttl: number;
  readonly #max: number;
  readonly #limit: number;
  readonly #window: number;
  readonly #now: () => number;

  /** @param options Lifetimes, limits and the clock. */
  constructor(options: SessionOptions = {}) {
    this.#ttl = options.ttl ?? 12 * 3600_000;
    this.#max = options.maxSessions ?? 64;
    this.#limit = options.signInFailures ?? 5;
    this.#window = options.failureWindow ?? 60_000;
    this.#now = options.now ?? Date.now;
  }

  /** How long a new session lives, ms. */
  get ttl(): number {
    return this.#ttl;
  }

  /** Starts a session: a fresh random id (256 bits) and when it expires. */
  create(): { id: string; expires: number } {
    while (this.#sessions.size >= this.#max) {
      this.#sessions.delete(this.#sessions.keys().next().value!);
    }
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    const id = btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_")
      .replace(/=+$/, "");
    const expires = this.#now() + this.#ttl;
    this.#sessions.set(id, expires);
    return { id, expires };
  }

  /** Whether `id` names a live session (an expired one is forgotten). */
  valid(id: string | undefined): boolean {
    if (id === undefined) return false;
    const expires = this.#sessions.get(id);
    if (expires === undefined) return false;
    if (expires > this.#now()) return true;
    this.#sessions.delete(id);
    return false;
  }

  /** Ends a session (signing out). */
  end(id: string | undefined): void {
    if (id !== undefined) this.#sessions.delete(id);
  }

  /** Ms until a sign-in may be tried again; 0 when it may now. */
  signInWait(): number {
    const now = this.#now();
    while (this.#failures.length > 0 && this.#failures[0] <= now - this.#window) {
      this.#failures.shift();
    }
    if (this.#failures.length < this.#limit) return 0;
    return this.#failures[0] + this.#window - now;
  }

  /** Counts a wrong token. */
  signInFailed(): void {
    this.#failures.push(this.#now());
    if (this.#failures.length > this.#limit) this.#failures.shift();
  }
}

/**
 * The value of cookie `name` in a `Cookie` header.
 *
 * @param header The request's `Cookie` header.
 * @param name The cookie's name.
 * @returns Its value, or `undefined`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cookieValue } from "./_session.ts";
 * assert.equal(cookieValue("a=1; kraken_session=xyz", "kraken_session"), "xyz");
 * assert.equal(cookieValue(undefined, "kraken_session"), undefined);
 * ```
 */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

/**
 * The `Set-Cookie` value of a session: HttpOnly (no script reads it), SameSite=Strict (no other
 * site's page sends it), Path=/; Secure when the API is served over TLS.
 *
 * @param id The session id (`""` clears the cookie).
 * @param options `maxAge` in seconds (0 clears it) and whether the request came over TLS.
 * @returns The header's value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sessionCookie } from "./_session.ts";
 * assert.equal(
 *   sessionCookie("abc", { maxAge: 60, secure: false }),
 *   "kraken_session=abc; Path=/; Max-Age=60; HttpOnly; SameSite=Strict",
 * );
 * ```
 */
export function sessionCookie(id: string, options: { maxAge: number; secure: boolean }): string {
  return `${SESSION_COOKIE}=${id}; Path=/; Max-Age=${Math.floor(options.maxAge)}; HttpOnly; ` +
    `SameSite=Strict${options.secure ? "; Secure" : ""}`;
}

/**
 * Why a cookie-authenticated request may not go on, or `null` when it may. Reading (GET, HEAD)
 * always may; anything else needs {@linkcode CSRF_HEADER}, an `Origin` (when sent) equal to the
 * API's own, and a `Sec-Fetch-Site` (when sent) of `same-origin`.
 *
 * @param request The request.
 * @returns The reason it is refused, or `null`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { csrfProblem } from "./_session.ts";
 * const url = "http://127.0.0.1:9090/v1/containers/api/stop";
 * const forged = new Request(url, { method: "POST", headers: { origin: "https://evil.example" } });
 * assert.match(csrfProblem(forged)!, /x-kraken-csrf/);
 * const page = new Request(url, {
 *   method: "POST",
 *   headers: { origin: "http://127.0.0.1:9090", "x-kraken-csrf": "1" },
 * });
 * assert.equal(csrfProblem(page), null);
 * ```
 */
export function csrfProblem(request: Request): string | null {
  if (request.method === "GET" || request.method === "HEAD") return null;
  if (!request.headers.has(CSRF_HEADER)) {
    return `a request signed in by cookie that changes state must send the header ${CSRF_HEADER} ` +
      "(the dashboard does); other clients send Authorization: Bearer <token>";
  }
  const origin = request.headers.get("origin");
  const own = new URL(request.url).origin;
  if (origin !== null && origin !== own) {
    return `the request comes from ${JSON.stringify(origin)}; expected the API's own origin ${own}`;
  }
  const site = request.headers.get("sec-fetch-site");
  if (site !== null && site !== "same-origin") {
    return `the request comes from a ${site} page (Sec-Fetch-Site); expected same-origin`;
  }
  return null;
}
