/**
 * Browser sessions of the management API: the dashboard's sign-in trades the token, once, for a
 * random session id in an HttpOnly, SameSite=Strict cookie and a random session key the page keeps
 * in its origin's storage; the server keeps the table of live sessions with their expiry. The token
 * itself is never stored, put in a URL, a cookie or a page.
 *
 * A request signed in by cookie must also carry the session's key in {@linkcode SESSION_HEADER}:
 * cookies are scoped to a host, not to a port, so the browser also sends the cookie to every other
 * server on the same host — a container serving HTTP on `127.0.0.1:8080` among them. What it
 * learns opens nothing without the key, which only pages of the API's own origin (scheme, host
 * and port) can read. The header also stops cross-site requests (no other site can add it without
 * a CORS preflight, which this API never grants); a change must in addition come from the API's
 * own origin when the browser says where it comes from ({@linkcode csrfProblem}).
 *
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { HttpError } from "./_errors.ts";

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
 * The session cookie's name when the API is served over TLS. The `__Host-` prefix makes the
 * browser refuse such a cookie unless it is Secure, Path=/ and has no Domain: a page of another
 * server on the same host reached over plain HTTP cannot set (toss) one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SECURE_SESSION_COOKIE } from "./_session.ts";
 * assert.equal(SECURE_SESSION_COOKIE, "__Host-kraken_session");
 * ```
 */
export const SECURE_SESSION_COOKIE = "__Host-kraken_session";

/**
 * The name of the session cookie for a request: {@linkcode SECURE_SESSION_COOKIE} over https,
 * {@linkcode SESSION_COOKIE} otherwise.
 *
 * @param url The request's URL.
 * @returns The cookie's name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sessionCookieName } from "./_session.ts";
 * assert.equal(sessionCookieName("https://ops.example:9090/v1/tree"), "__Host-kraken_session");
 * assert.equal(sessionCookieName("http://127.0.0.1:9090/v1/tree"), "kraken_session");
 * ```
 */
export function sessionCookieName(url: string): string {
  return new URL(url).protocol === "https:" ? SECURE_SESSION_COOKIE : SESSION_COOKIE;
}

/**
 * The header that carries the session's key with the cookie.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SESSION_HEADER } from "./_session.ts";
 * assert.equal(SESSION_HEADER, "x-kraken-session");
 * ```
 */
export const SESSION_HEADER = "x-kraken-session";

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
 * const { id, key } = sessions.create();
 * assert.equal(sessions.check(id, key), "ok");
 * assert.equal(sessions.check(id, undefined), "no-key"); // the cookie alone opens nothing
 * now = 1001;
 * assert.equal(sessions.check(id, key), "none"); // expired
 * ```
 */
export class SessionTable {
  // id → expiry and key digest; insertion order is age.
  readonly #sessions = new Map<string, { expires: number; key: Uint8Array }>();
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

  /** Starts a session: a fresh random id (256 bits), its key (256 bits), when it expires. */
  create(): { id: string; key: string; expires: number } {
    while (this.#sessions.size >= this.#max) {
      this.#sessions.delete(this.#sessions.keys().next().value!);
    }
    const id = randomId();
    const key = randomId();
    const expires = this.#now() + this.#ttl;
    this.#sessions.set(id, { expires, key: digest(key) });
    return { id, key, expires };
  }

  /**
   * Whether cookie `id` and header `key` make a live session: `ok`, `none` (no such session, or it
   * expired: it is forgotten), `no-key` or `wrong-key`.
   */
  check(id: string | undefined, key: string | undefined): "ok" | "none" | "no-key" | "wrong-key" {
    if (id === undefined) return "none";
    const session = this.#sessions.get(id);
    if (session === undefined) return "none";
    if (session.expires <= this.#now()) {
      this.#sessions.delete(id);
      return "none";
    }
    if (key === undefined || key === "") return "no-key";
    return timingSafeEqual(digest(key), session.key) ? "ok" : "wrong-key";
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

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}

function digest(text: string): Uint8Array {
  return createHash("sha256").update(text).digest();
}

/**
 * Every value of cookie `name` in a `Cookie` header, in the order sent. A browser sends one per
 * cookie of that name it holds (one per path, and per host-wide cookie another server on the same
 * host set), so the first is not necessarily the one this server set.
 *
 * @param header The request's `Cookie` header.
 * @param name The cookie's name.
 * @returns Its values (none when absent).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cookieValues } from "./_session.ts";
 * assert.deepEqual(cookieValues("kraken_session=x; a=1; kraken_session=xyz", "kraken_session"), ["x", "xyz"]);
 * assert.deepEqual(cookieValues(undefined, "kraken_session"), []);
 * ```
 */
export function cookieValues(header: string | undefined | null, name: string): string[] {
  if (!header) return [];
  const values: string[] = [];
  for (const part of header.split(";")) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() === name) values.push(part.slice(at + 1).trim());
  }
  return values;
}

/**
 * The `Set-Cookie` value of a session: HttpOnly (no script reads it), SameSite=Strict (no other
 * site's page sends it), Path=/; Secure, and named {@linkcode SECURE_SESSION_COOKIE}, when the API
 * is served over TLS.
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
 * assert.equal(
 *   sessionCookie("abc", { maxAge: 60, secure: true }),
 *   "__Host-kraken_session=abc; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure",
 * );
 * ```
 */
export function sessionCookie(id: string, options: { maxAge: number; secure: boolean }): string {
  const name = options.secure ? SECURE_SESSION_COOKIE : SESSION_COOKIE;
  return `${name}=${id}; Path=/; Max-Age=${Math.floor(options.maxAge)}; HttpOnly; ` +
    `SameSite=Strict${options.secure ? "; Secure" : ""}`;
}

/**
 * Why a cookie-authenticated request may not go on, or `null` when it may. Reading (GET, HEAD)
 * always may; a change needs an `Origin` (when sent) equal to the API's own and a
 * `Sec-Fetch-Site` (when sent) of `same-origin`.
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
 * assert.match(csrfProblem(forged)!, /expected the API's own origin/);
 * const page = new Request(url, { method: "POST", headers: { origin: "http://127.0.0.1:9090" } });
 * assert.equal(csrfProblem(page), null);
 * ```
 */
export function csrfProblem(request: Request): string | null {
  if (request.method === "GET" || request.method === "HEAD") return null;
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

/**
 * What a 401 says when a session cookie came without its key, or with a wrong one.
 *
 * @param verdict What {@linkcode SessionTable.check} said.
 * @returns The message.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sessionRefusal } from "./_session.ts";
 * assert.match(sessionRefusal("no-key"), /x-kraken-session/);
 * ```
 */
export function sessionRefusal(verdict: "none" | "no-key" | "wrong-key"): string {
  switch (verdict) {
    case "none":
      return "the session cookie names no live session (signed out, expired, or the runtime " +
        "restarted): sign in again";
    case "no-key":
      return `a session cookie must come with its key in the header ${SESSION_HEADER} (the ` +
        "dashboard sends it); other clients send Authorization: Bearer <token>";
    case "wrong-key":
      return `the header ${SESSION_HEADER} is not the key of this session`;
  }
}

/**
 * The live session a request's cookies and key open. Every session cookie it carries is tried
 * (another server on the host may have added its own before ours), and the one whose key the
 * request holds is the session: `ok` with its id. Otherwise the verdict that says most: a live
 * session without its key (`no-key`, `wrong-key`) before `none`.
 *
 * @param request The request.
 * @param sessions The live sessions.
 * @returns The verdict, and the session's id when `ok`; `absent` when it carries no session cookie.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestSession, SessionTable } from "./_session.ts";
 * const sessions = new SessionTable();
 * const { id, key } = sessions.create();
 * const tossed = new Request("http://127.0.0.1:9090/v1/tree", {
 *   headers: { cookie: `kraken_session=x; kraken_session=${id}`, "x-kraken-session": key },
 * });
 * assert.deepEqual(requestSession(tossed, sessions), { verdict: "ok", id });
 * ```
 */
export function requestSession(
  request: Request,
  sessions: SessionTable,
): { verdict: "ok"; id: string } | { verdict: "absent" | "none" | "no-key" | "wrong-key" } {
  const ids = cookieValues(request.headers.get("cookie"), sessionCookieName(request.url));
  if (ids.length === 0) return { verdict: "absent" };
  const key = request.headers.get(SESSION_HEADER) ?? undefined;
  let verdict: "none" | "no-key" | "wrong-key" = "none";
  for (const id of ids) {
    const found = sessions.check(id, key);
    if (found === "ok") return { verdict: "ok", id };
    if (found !== "none") verdict = found;
  }
  return { verdict };
}

// The session each request was let in with, for the audit (see acceptedSession).
const accepted = new WeakMap<Request, string>();

/**
 * Authenticates a request by its session cookie: `absent` when it has none (the caller checks the
 * bearer token), `ok` when a session cookie and the key make a live session and a change comes
 * from the API's own origin. The session it accepted is remembered for
 * {@linkcode acceptedSession}.
 *
 * @param request The request (without an `Authorization` header).
 * @param sessions The live sessions.
 * @returns `ok` or `absent`.
 * @throws {HttpError} 401 for a dead session or a missing or wrong key; 403 for a change from
 * another origin.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { acceptedSession, cookieAuth, SessionTable } from "./_session.ts";
 * const sessions = new SessionTable();
 * const { id, key } = sessions.create();
 * const request = new Request("http://127.0.0.1:9090/v1/tree", {
 *   headers: { cookie: `kraken_session=${id}`, "x-kraken-session": key },
 * });
 * assert.equal(cookieAuth(request, sessions), "ok");
 * assert.equal(acceptedSession(request), id);
 * assert.equal(cookieAuth(new Request("http://127.0.0.1:9090/v1/tree"), sessions), "absent");
 * ```
 */
export function cookieAuth(request: Request, sessions: SessionTable): "ok" | "absent" {
  const session = requestSession(request, sessions);
  if (session.verdict === "absent") return "absent";
  if (session.verdict !== "ok") {
    throw new HttpError(401, "Unauthorized", sessionRefusal(session.verdict));
  }
  const problem = csrfProblem(request);
  if (problem) throw new HttpError(403, "Forbidden", problem);
  accepted.set(request, session.id);
  return "ok";
}

/**
 * The session id {@linkcode cookieAuth} let `request` in with, or `undefined` when it was not let
 * in by a session (a token, a signature, the embedder's own check). What the audit records as the
 * page's session: not just any cookie the request carries, which another server on the host may
 * have set.
 *
 * @param request The request, as `cookieAuth` was given it.
 * @returns The session's id, or `undefined`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { acceptedSession } from "./_session.ts";
 * assert.equal(acceptedSession(new Request("http://127.0.0.1:9090/v1/tree")), undefined);
 * ```
 */
export function acceptedSession(request: Request): string | undefined {
  return accepted.get(request);
}
