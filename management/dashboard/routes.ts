/**
 * The dashboard's routes on the management app: the page and its assets, sign-in and sign-out
 * (open to all: they hold nothing secret), and the live feed and topology editor (behind the same
 * authentication as every other API route).
 *
 * @module
 */
import type { Hono, MiddlewareHandler } from "hono";
import { parse as parseYaml } from "yaml";
import type { Runtime } from "../../runtime/runtime.ts";
import type { TopologyInput } from "../../config/topology.ts";
import { TopologyError } from "../../protocol/errors.ts";
import { tokenMatcher } from "../_auth.ts";
import { badRequest, HttpError } from "../_errors.ts";
import { streamResponse } from "../_streams.ts";
import { ApplyGate, queryFlag } from "../_apply.ts";
import { csrfProblem, requestSession, sessionCookie, type SessionTable } from "../_session.ts";
import { DashboardFeed } from "./_feed.ts";
import { PAGE_CSS, PAGE_HTML } from "./page.ts";
import { PAGE_JS } from "./client.ts";

// The page runs only its own script and style and talks only to its own origin; no other site
// may frame it (clickjacking), and no page it links to learns where it came from.
const PAGE_HEADERS = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; " +
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; " +
    "frame-ancestors 'none'",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};

/**
 * Mounts the page, its assets and `/session` (sign-in, who am I, sign-out). Mount it after the
 * body limit and before authentication.
 *
 * @param app The management app.
 * @param options The token sign-in compares with, and the session table.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Hono } from "hono";
 * import { signInRoutes } from "./routes.ts";
 * import { SessionTable } from "../_session.ts";
 * const app = new Hono();
 * signInRoutes(app, { token: "s3cret", sessions: new SessionTable() });
 * const res = await app.request("/session", {
 *   method: "POST",
 *   headers: { origin: "http://localhost" },
 *   body: JSON.stringify({ token: "s3cret" }),
 * });
 * assert.match(res.headers.get("set-cookie")!, /HttpOnly; SameSite=Strict/);
 * assert.equal(typeof (await res.json()).key, "string"); // for the x-kraken-session header
 * ```
 */
export function signInRoutes(app: Hono, options: { token: string; sessions: SessionTable }): void {
  const { sessions } = options;
  const matches = tokenMatcher(options.token);
  const asset = (body: string, type: string) => () =>
    new Response(body, { headers: { ...PAGE_HEADERS, "content-type": type } });
  app.get("/", asset(PAGE_HTML, "text/html; charset=utf-8"));
  app.get("/dashboard/app.js", asset(PAGE_JS, "text/javascript; charset=utf-8"));
  app.get("/dashboard/app.css", asset(PAGE_CSS, "text/css; charset=utf-8"));

  app.get("/session", (c) => {
    return c.json({ signedIn: requestSession(c.req.raw, sessions).verdict === "ok" });
  });

  app.post("/session", async (c) => {
    const problem = csrfProblem(c.req.raw);
    if (problem) throw new HttpError(403, "Forbidden", problem);
    const wait = sessions.signInWait();
    if (wait > 0) {
      c.header("retry-after", String(Math.ceil(wait / 1000)));
      throw new HttpError(
        429,
        "TooManyRequests",
        `too many wrong tokens; try again in ${Math.ceil(wait / 1000)} s`,
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(await c.req.text());
    } catch {
      body = undefined;
    }
    const token = (body as { token?: unknown } | undefined)?.token;
    if (typeof token !== "string" || token === "") {
      throw badRequest('the body must be { "token": "<the management token>" }', "token");
    }
    if (!matches(token)) {
      sessions.signInFailed();
      throw new HttpError(401, "Unauthorized", "wrong token", "token");
    }
    const { id, key } = sessions.create();
    const secure = new URL(c.req.url).protocol === "https:";
    c.header("set-cookie", sessionCookie(id, { maxAge: sessions.ttl / 1000, secure }));
    c.header("cache-control", "no-store");
    // The key goes to the page's script (kept in its origin's storage), the id to the cookie jar.
    return c.json({ signedIn: true, key });
  });

  app.delete("/session", (c) => {
    // Only the page that holds the key ends the session; the cookie is cleared either way.
    const session = requestSession(c.req.raw, sessions);
    if (session.verdict === "ok" && !csrfProblem(c.req.raw)) sessions.end(session.id);
    const secure = new URL(c.req.url).protocol === "https:";
    c.header("set-cookie", sessionCookie("", { maxAge: 0, secure }));
    return c.json({ signedIn: false });
  });
}

export function dashboardRoutes(
  app: Hono,
  options: {
    rt: Runtime;
    token: string;
    signal: AbortSignal;
    heartbeat?: number;
    tick?: number;
    /** The app's one gate for applies (`/v1/apply` and this page's apply never run at once). */
    applies?: ApplyGate;
  },
): void {
  const { rt, signal } = options;
  const applies = options.applies ?? new ApplyGate(rt);
  const feed = new DashboardFeed(rt, signal, { tick: options.tick });

  // A change asked of the API (from the page, the CLI or curl) shows on every open page at once,
  // not at the next tick: the slots of a scale are in the tree as soon as it begins, long before
  // their instances start (and send the events that would publish them).
  const changing: MiddlewareHandler = async (c, next) => {
    if (c.req.method !== "POST") return await next();
    feed.changed();
    try {
      await next();
    } finally {
      feed.changed();
    }
  };
  app.use("/v1/containers/*", changing);
  app.use("/v1/apply", changing);
  app.use("/v1/dashboard/apply", changing);

  app.get("/v1/dashboard/stream", (c) =>
    streamResponse(c, {
      signal,
      heartbeat: options.heartbeat,
      subscribe(push) {
        push("history", { series: feed.history() });
        return feed.listen((snapshot) => push("snapshot", { ...snapshot }));
      },
    }));

  app.get("/v1/dashboard/topology", async (c) => {
    const file = rt.topology.file ?? null;
    if (file === null || file.includes("://")) return c.json({ file, text: null });
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (error) {
      throw new HttpError(404, "NotFound", `cannot read ${file}: ${(error as Error).message}`);
    }
    // A token written into the file would otherwise reach the page.
    return c.json({ file, text: text.replaceAll(options.token, "<redacted>") });
  });

  app.post("/v1/dashboard/apply", async (c) => {
    const dryRun = queryFlag(c, "dry_run");
    let body: unknown;
    try {
      body = JSON.parse(await c.req.text());
    } catch {
      body = undefined;
    }
    const yaml = (body as { yaml?: unknown } | undefined)?.yaml;
    if (typeof yaml !== "string") {
      throw badRequest('the body must be { "yaml": "<the topology, as YAML>" }', "yaml");
    }
    let input: unknown;
    try {
      input = parseYaml(yaml, { maxAliasCount: 100 });
    } catch (error) {
      throw new TopologyError(`malformed YAML: ${(error as Error).message}`, { key: "" });
    }
    if (typeof input !== "object" || input === null || Array.isArray(input)) {
      throw new TopologyError("the topology must be a map with a containers: key", { key: "" });
    }
    return c.json(await applies.run(input as TopologyInput, dryRun));
  });
}
