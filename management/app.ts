/**
 * The management API as a hono app: every route of `docs/management-api.md`, behind one bearer
 * token. No socket here ({@linkcode managementApp} answers `app.request()` in tests);
 * `serveManagement` in `server.ts` puts it on a socket (`_http.ts`, bounded).
 *
 * @module
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContainerInput, TopologyInput } from "../config/topology.ts";
import { MAX_REPLICAS } from "../config/_limits.ts";
import { specModuleProblem } from "../config/load.ts";
import { TopologyError } from "../protocol/errors.ts";
import type { StopMode } from "../runtime/container.ts";
import type { Runtime, RuntimeEvents } from "../runtime/runtime.ts";
import { PROMETHEUS_CONTENT_TYPE, prometheusText } from "./prometheus.ts";
import { hostMetrics } from "./_hosts.ts";
import { managementAuth } from "./_auth.ts";
import { badRequest, errorResponse, HttpError } from "./_errors.ts";
import { TreeIndex } from "./_lookup.ts";
import { callContainer } from "./_call.ts";
import { auditChanges } from "./_audit.ts";
import { ApplyGate, queryFlag } from "./_apply.ts";
import { containerOf, LogHistory, type StreamFormat, streamResponse } from "./_streams.ts";
import { cookieAuth, SessionTable } from "./_session.ts";
import { dashboardRoutes, signInRoutes } from "./dashboard/routes.ts";

/**
 * Options of {@linkcode managementApp}.
 *
 * @example
 * ```ts
 * import type { ManagementAppOptions } from "./app.ts";
 * const closing = new AbortController();
 * const options: ManagementAppOptions = { signal: closing.signal, logHistory: 5000 };
 * ```
 */
export interface ManagementAppOptions {
  /** Aborting it ends every open event and log stream (the server is closing). */
  signal?: AbortSignal;
  /** Log lines kept for `GET /v1/logs` (default 1000). */
  logHistory?: number;
  /** Milliseconds between SSE keep-alive comments (default 15 s; 0: none). */
  heartbeat?: number;
  /**
   * Log lines from before the app was built (e.g. while the runtime booted), oldest first: they
   * start the history `GET /v1/logs` serves.
   */
  backlog?: readonly { time: number; level: string; source: string; message: string }[];
  /**
   * Another way to authenticate a request than the token (e.g. a session cookie): tried first,
   * `true` lets the request through; `false` leaves it to the signed-request and bearer checks.
   * It sees the request's method, URL and headers, and must not read its body.
   */
  authenticate?: Authenticate;
}

/**
 * The management API as a request handler: `fetch` for `Deno.serve`, `request` for tests (a path
 * is enough: `app.request("/v1/tree", { headers })`). Built with hono, which stays an
 * implementation detail.
 *
 * @example On a socket of your own
 * ```ts
 * import assert from "node:assert/strict";
 * import { Runtime } from "jsr:@kraken/kraken";
 * import { managementApp } from "jsr:@kraken/kraken/management";
 * const rt = await Runtime.start({ containers: {} }, { logLevel: "silent" });
 * const app = managementApp(rt, "s3cret");
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
 * const res = await fetch(`http://127.0.0.1:${server.addr.port}/v1/metrics`, {
 *   headers: { authorization: "Bearer s3cret" },
 * });
 * assert.deepEqual(await res.json(), []); // no containers, no figures
 * await rt.shutdown(); // ends the app's streams, so the server can stop
 * await server.shutdown();
 * ```
 */
export interface ManagementApp {
  /** Answers one request. */
  fetch(request: Request): Response | Promise<Response>;
  /** Answers a request given as a path or URL (and init), without a socket. */
  request(input: string | URL | Request, init?: RequestInit): Response | Promise<Response>;
}

/**
 * Decides whether a request is authenticated by some other means than the token (a session
 * cookie, a client certificate checked by a proxy, …): `true` lets it through, `false` leaves it
 * to the signed-request and bearer checks. It sees the request's method, URL and headers, and must
 * not read its body.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Authenticate } from "./app.ts";
 * const session: Authenticate = (request) =>
 *   request.headers.get("cookie")?.includes("kraken_session=ok") ?? false;
 * const request = new Request("http://x/", { headers: { cookie: "kraken_session=ok" } });
 * assert.equal(await session(request), true);
 * ```
 */
export type Authenticate = (request: Request) => boolean | Promise<boolean>;

/**
 * The events `GET /v1/events` streams.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EVENT_TYPES } from "./app.ts";
 * assert.ok(EVENT_TYPES.includes("restart"));
 * ```
 */
export const EVENT_TYPES = [
  "start",
  "exit",
  "restart",
  "unresponsive",
  "escalate",
  "apply",
  "schedule",
  "audit",
] as const;
/**
 * One of {@linkcode EVENT_TYPES}.
 *
 * @example
 * ```ts
 * import type { EventType } from "./app.ts";
 * const type: EventType = "escalate";
 * ```
 */
export type EventType = typeof EVENT_TYPES[number];

const STOP_MODES: readonly StopMode[] = ["graceful", "kill", "graceful-then-kill"];

/**
 * Builds the management API for `rt`. Every route requires `Authorization: Bearer <token>`
 * (compared in constant time); errors answer `{ error: { type, message, key? } }`.
 *
 * The app starts listening to `rt`'s log lines at once (for `GET /v1/logs`); abort
 * `options.signal` to stop, or let the runtime shut down.
 *
 * @param rt The running runtime.
 * @param token The bearer token clients must send.
 * @param options Stream settings and the signal that ends open streams.
 * @returns The app (`app.fetch` for `Deno.serve`, `app.request` for tests).
 * @throws {TypeError} An empty token.
 *
 * @example Asking for the tree without a socket
 * ```ts
 * import assert from "node:assert/strict";
 * import { Runtime } from "jsr:@kraken/kraken";
 * import { managementApp } from "jsr:@kraken/kraken/management";
 * const rt = await Runtime.start({ name: "shop", containers: {} }, { logLevel: "silent" });
 * const app = managementApp(rt, "s3cret");
 * const res = await app.request("/v1/tree", { headers: { authorization: "Bearer s3cret" } });
 * assert.equal(res.status, 200);
 * assert.equal((await res.json()).name, "shop");
 * const refused = await app.request("/v1/tree"); // no token
 * assert.equal(refused.status, 401);
 * await refused.body?.cancel();
 * await rt.shutdown();
 * ```
 */
export function managementApp(
  rt: Runtime,
  token: string,
  options: ManagementAppOptions = {},
): ManagementApp {
  const history = new LogHistory(options.logHistory ?? 1000);
  for (const line of options.backlog ?? []) {
    history.add({ ...line, container: containerOf(line.source) });
  }
  const offLog = rt.on("log", (entry) => {
    history.add({
      time: entry.time,
      level: entry.level,
      source: entry.source,
      container: containerOf(entry.source),
      message: entry.message,
    });
  });
  // Streams end when the runtime stops: clients see the end instead of a silent socket.
  const stopped = new AbortController();
  const signal = options.signal
    ? AbortSignal.any([options.signal, stopped.signal])
    : stopped.signal;
  rt.closed.then(() => stopped.abort());
  signal.addEventListener("abort", offLog, { once: true });
  const applies = new ApplyGate(rt);

  const app = new Hono();

  app.onError((error, c) => {
    // hono's HTTPException carries its own response (bearerAuth's 401); an HttpError's JSON body
    // is answered through the context, keeping headers a handler set before throwing (Retry-After).
    if (error instanceof HTTPException && !(error instanceof HttpError)) return error.getResponse();
    const { status, body } = errorResponse(error);
    return c.json(body, status);
  });
  app.notFound((c) =>
    c.json(
      { error: { type: "NotFound", message: `no route ${c.req.method} ${c.req.path}` } },
      404,
    )
  );

  // The body limit comes first, so that checking a signed request's body reads at most 1 MiB;
  // then the dashboard's page and sign-in, open to all; then authentication: without a valid token
  // (signature or session cookie) even a wrong path answers 401.
  app.use(
    "*",
    bodyLimit({
      maxSize: 1 << 20,
      onError: (c) =>
        c.json({ error: { type: "PayloadTooLarge", message: "the body is over 1 MiB" } }, 413),
    }),
  );
  const sessions = new SessionTable();
  signInRoutes(app, { token, sessions });
  // The dashboard's session (cookie + key, no Authorization header) is one more way in, asked
  // after the embedder's own hook; signed requests and bearer tokens are checked by managementAuth.
  const authenticate = async (request: Request) =>
    (options.authenticate !== undefined && await options.authenticate(request)) ||
    (request.headers.get("authorization") === null && cookieAuth(request, sessions) === "ok");
  app.use("*", managementAuth(token, { authenticate }));

  // Every change asked of the runtime is recorded with who asked (after authentication).
  app.use("*", auditChanges(rt, token));

  app.get("/v1/tree", (c) => c.json(rt.tree()));
  dashboardRoutes(app, { rt, token, signal, heartbeat: options.heartbeat, applies });

  app.get("/v1/schedules", (c) => c.json(rt.schedules()));

  app.get("/v1/containers/:name", (c) => {
    const name = c.req.param("name");
    const snapshot = TreeIndex.of(rt).mustFind(name);
    const metrics = rt.metrics().find((m) => m.container === name) ?? null;
    return c.json({ container: snapshot, metrics });
  });

  app.post("/v1/containers/:name/restart", async (c) => {
    const name = c.req.param("name");
    const body = await readBody(c);
    const mode = stopMode(c, body);
    const rolling = rollingOf(c, body);
    TreeIndex.of(rt).assertRunning();
    await rt.restart(name, { ...(mode ? { mode } : {}), rolling });
    return c.json({ ok: true, container: TreeIndex.of(rt).mustFind(name) });
  });

  app.post("/v1/containers/:name/stop", async (c) => {
    const name = c.req.param("name");
    const mode = stopMode(c, await readBody(c));
    TreeIndex.of(rt).assertRunning();
    await rt.stop(name, mode ? { mode } : {});
    return c.json({ ok: true, stopped: name });
  });

  app.post("/v1/containers/:name/scale", async (c) => {
    const name = c.req.param("name");
    const body = await readBody(c);
    const replicas = body.replicas;
    if (typeof replicas !== "number" || !Number.isInteger(replicas) || replicas < 0) {
      throw badRequest(
        `replicas must be a whole number >= 0, got ${JSON.stringify(replicas) ?? "nothing"}`,
        "replicas",
      );
    }
    if (replicas > MAX_REPLICAS) {
      throw badRequest(
        `replicas must be at most ${MAX_REPLICAS} (each is a worker thread or a process), got ${replicas}`,
        "replicas",
      );
    }
    const before = TreeIndex.of(rt);
    before.assertRunning();
    const from = before.mustFind(name).replicas;
    await rt.scale(name, replicas);
    return c.json({ ok: true, from, to: replicas, container: TreeIndex.of(rt).mustFind(name) });
  });

  app.post("/v1/containers/:name/rebalance", async (c) => {
    const name = c.req.param("name");
    TreeIndex.of(rt).assertRunning();
    const moves = await rt.rebalance(name);
    return c.json({ ok: true, moves, container: TreeIndex.of(rt).mustFind(name) });
  });

  app.post("/v1/containers/:name/call", async (c) => {
    const { status, body } = await callContainer(rt, c.req.param("name"), await readBody(c));
    return c.json(body, status);
  });

  app.post("/v1/containers", async (c) => {
    const body = await readBody(c);
    const { name, spec, replace, parent } = body;
    if (typeof name !== "string" || name === "") {
      throw badRequest("name must be a non-empty string", "name");
    }
    if (typeof spec !== "object" || spec === null || Array.isArray(spec)) {
      throw badRequest('spec must be a container object, e.g. { "module": "./api.ts" }', "spec");
    }
    if (replace !== undefined && typeof replace !== "boolean") {
      throw badRequest(`replace must be true or false, got ${JSON.stringify(replace)}`, "replace");
    }
    if (parent !== undefined && typeof parent !== "string") {
      throw badRequest(`parent must be a container name, got ${JSON.stringify(parent)}`, "parent");
    }
    const before = TreeIndex.of(rt);
    before.assertRunning();
    if (!replace && before.find(name)) {
      throw new HttpError(
        409,
        "Conflict",
        `a container named "${name}" already exists; send "replace": true to replace it`,
        "name",
      );
    }
    // A module file that is not there is said plainly (with a close name that is), before the
    // runtime tries to start it and reports the isolate's failure instead. The spec itself is
    // validated once, by rt.spawn, with what only the runtime knows (its hosts, the parent's grant).
    const problem = await specModuleProblem(name, spec, {
      baseUrl: rt.topology.baseUrl,
      env: (key) => Deno.env.get(key),
    });
    if (problem) throw new TopologyError(problem, { key: `${name}.module` });
    await rt.spawn(name, spec as ContainerInput, { replace: replace === true, parent });
    return c.json({ ok: true, container: TreeIndex.of(rt).find(name) ?? null }, 201);
  });

  app.post("/v1/apply", async (c) => {
    const dryRun = queryFlag(c, "dry_run");
    const body = await readBody(c);
    let source: string | TopologyInput;
    if (typeof body.path === "string" && !("containers" in body)) source = body.path;
    else if (typeof body.containers === "object" && body.containers !== null) {
      source = body as unknown as TopologyInput;
    } else {
      throw badRequest(
        'the body must be a topology object ({ "containers": { … } }) or { "path": "kraken.yaml" }',
      );
    }
    return c.json(await applies.run(source, dryRun));
  });

  app.get("/v1/events", (c) => {
    const types = eventTypes(c.req.query("types"));
    return streamResponse(c, {
      format: streamFormat(c),
      signal,
      heartbeat: options.heartbeat,
      subscribe(push) {
        const offs = types.map((type) =>
          rt.on(type, (event: RuntimeEvents[typeof type]) => push(type, eventData(type, event)))
        );
        return () => offs.forEach((off) => off());
      },
    });
  });

  app.get("/v1/logs", (c) => {
    const container = c.req.query("container") || undefined;
    const follow = queryFlag(c, "follow");
    const tail = count(c, "tail", 100);
    if (container !== undefined && container !== "runtime" && !history.has(container)) {
      const index = TreeIndex.of(rt);
      if (!index.find(container)) {
        throw new HttpError(404, "NotFound", index.unknown(container), "container");
      }
    }
    return streamResponse(c, {
      format: streamFormat(c),
      signal,
      heartbeat: options.heartbeat,
      subscribe(push, end) {
        for (const line of history.recent(container, tail)) push("log", { ...line });
        if (!follow) {
          end();
          return () => {};
        }
        return history.listen((line) => {
          if (container === undefined || line.container === container) push("log", { ...line });
        });
      },
    });
  });

  app.post("/v1/shutdown", (c) => {
    // Answer first: shutting down closes the server this response travels on.
    setTimeout(() => rt.shutdown(), 0);
    return c.json({ ok: true, shuttingDown: true }, 202);
  });

  app.get("/v1/metrics", (c) => c.json(rt.metrics()));

  app.get("/metrics", (c) => {
    const hosts = hostMetrics(rt.tree(), Deno.memoryUsage().rss);
    const text = prometheusText(rt.metrics(), { hosts, schedules: rt.schedules() });
    return c.body(text, 200, { "content-type": PROMETHEUS_CONTENT_TYPE });
  });

  return app;
}

/** The JSON object body; empty means `{}`. */
async function readBody(c: Context): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, "BadJson", `the body is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new HttpError(400, "BadJson", "the body must be a JSON object");
  }
  return value as Record<string, unknown>;
}

function stopMode(c: Context, body: Record<string, unknown>): StopMode | undefined {
  const mode = c.req.query("mode") ?? body.mode;
  if (mode === undefined) return undefined;
  if (!STOP_MODES.includes(mode as StopMode)) {
    throw badRequest(
      `mode must be one of ${STOP_MODES.join(", ")}, got ${JSON.stringify(mode)}`,
      "mode",
    );
  }
  return mode as StopMode;
}

/** Whether a restart rolls (the default): `{"rolling": false}` or `?rolling=0` restarts all at once. */
function rollingOf(c: Context, body: Record<string, unknown>): boolean {
  if (c.req.query("rolling") !== undefined) return queryFlag(c, "rolling");
  const rolling = body.rolling ?? true;
  if (typeof rolling !== "boolean") {
    throw badRequest(
      `rolling must be true (one replica at a time) or false (all at once), got ${
        JSON.stringify(rolling)
      }`,
      "rolling",
    );
  }
  return rolling;
}

function count(c: Context, name: string, fallback: number): number {
  const value = c.req.query(name);
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    throw badRequest(`${name} must be a whole number >= 0, got ${JSON.stringify(value)}`, name);
  }
  return n;
}

function streamFormat(c: Context): StreamFormat {
  const format = c.req.query("format");
  if (format === undefined) {
    return c.req.header("accept")?.includes("application/x-ndjson") ? "ndjson" : "sse";
  }
  if (format === "sse" || format === "ndjson") return format;
  throw badRequest(`format must be sse or ndjson, got ${JSON.stringify(format)}`, "format");
}

function eventTypes(query: string | undefined): EventType[] {
  if (!query) return [...EVENT_TYPES];
  const types = query.split(",").map((t) => t.trim()).filter(Boolean);
  for (const type of types) {
    if (!(EVENT_TYPES as readonly string[]).includes(type)) {
      throw badRequest(
        `unknown event type ${JSON.stringify(type)}; expected some of ${EVENT_TYPES.join(", ")}`,
        "types",
      );
    }
  }
  return types as EventType[];
}

/** An event as plain JSON: errors become `{ name, message, … }`, and every event gets a time. */
function eventData(type: EventType, event: unknown): Record<string, unknown> {
  const time = Date.now();
  if (type === "escalate") {
    const e = event as RuntimeEvents["escalate"];
    return {
      time,
      supervisor: e.supervisor,
      ...(e.child ? { child: e.child } : {}),
      error: {
        name: e.error.name,
        message: e.error.message,
        why: e.error.why,
        ...(e.error.failure ? { failure: e.error.failure } : {}),
      },
    };
  }
  return { time, ...(event as Record<string, unknown>) };
}
