/**
 * The audit middleware: every change a client asks of the runtime (scale, restart, stop, spawn,
 * call, apply — from the API or the dashboard's editor —, shutdown) is handed to `rt.audit` once
 * it has been answered, with who asked (which credential, from where, with which client) and
 * what, and whether it was done. Reads only: the
 * request's body comes from the cache the handler filled, and the answer is cloned.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { createHash } from "node:crypto";
import type { AuditActor, AuditRecord } from "../runtime/audit.ts";
import type { Runtime } from "../runtime/runtime.ts";
import { queryFlag } from "./_apply.ts";
import { acceptedSession } from "./_session.ts";

type Action = AuditRecord["action"];

/** The change a request asks for (and where it came from), or `null` for one that reads. */
interface Asked {
  action: Action;
  target?: string;
  /** Set for an apply whose topology is not in the body as `path` or `containers`. */
  topology?: string;
}

/** The change a request asks for, or `null` for one that reads (or is no route). */
function actionOf(method: string, path: string): Asked | null {
  if (method !== "POST") return null;
  const own = /^\/v1\/containers\/([^/]+)\/(restart|stop|scale|rebalance|call)$/.exec(path);
  if (own) return { action: own[2] as Action, target: decodeURIComponent(own[1]) };
  if (path === "/v1/containers") return { action: "spawn" };
  if (path === "/v1/apply") return { action: "apply" };
  // The dashboard's editor: the same apply, its topology YAML from the page.
  if (path === "/v1/dashboard/apply") return { action: "apply", topology: "dashboard" };
  if (path === "/v1/shutdown") return { action: "shutdown" };
  return null;
}

/**
 * Whether an apply is a dry run, read by the parser its route uses (so the two cannot disagree).
 * A value the route refuses (400, nothing changed) is not recorded either.
 */
function planOnly(c: Context): boolean {
  try {
    return queryFlag(c, "dry_run");
  } catch {
    return true;
  }
}

/** What of the body goes into the record, by action: never a call's body (it may hold data). */
const DETAIL: Record<Action, readonly string[]> = {
  scale: ["replicas"],
  rebalance: [],
  restart: ["mode", "rolling"],
  stop: ["mode"],
  spawn: ["name", "replace", "parent"],
  call: ["topic", "send", "timeout"],
  apply: ["path"],
  shutdown: [],
};

/**
 * The first 8 hex digits of the SHA-256 of a secret: enough to tell credentials apart in a log,
 * nothing to log in with.
 */
function fingerprint(secret: string): string {
  return createHash("sha256").update(secret).digest("hex").slice(0, 8);
}

/**
 * Builds the middleware (put it after authentication: only authorised requests are recorded).
 *
 * @param rt The runtime that records.
 * @param token The management token (a signed request proves it without sending it).
 *
 * @example
 * ```ts ignore
 * app.use("*", auditChanges(rt, token));
 * ```
 */
export function auditChanges(rt: Runtime, token: string): MiddlewareHandler {
  const tokenPrint = `token:${fingerprint(token)}`;
  return async (c, next) => {
    const asked = actionOf(c.req.method, c.req.path);
    if (!asked || (asked.action === "apply" && planOnly(c))) return await next();
    const by = actorOf(c, tokenPrint);
    if (asked.action === "shutdown") {
      // Recorded first: answering it ends the runtime that records.
      rt.audit({ action: "shutdown", by, ok: true });
      return await next();
    }
    await next();
    const body = await bodyOf(c);
    const detail: NonNullable<AuditRecord["detail"]> = {};
    for (const key of DETAIL[asked.action]) {
      const value = body[key];
      if (["string", "number", "boolean"].includes(typeof value)) {
        detail[key] = typeof value === "string" ? value.slice(0, 200) : value as number | boolean;
      }
    }
    // `?rolling=0` says it as well as the body does: recorded as the route reads it.
    if (asked.action === "restart" && c.req.query("rolling") !== undefined) {
      try {
        detail.rolling = queryFlag(c, "rolling");
      } catch { /* refused with a 400: recorded as failed, without it */ }
    }
    if (asked.topology !== undefined) detail.topology = asked.topology;
    else if (asked.action === "apply" && detail.path === undefined && "containers" in body) {
      detail.topology = "inline object";
    }
    const target = asked.target ?? (typeof body.name === "string" ? body.name : undefined);
    const ok = c.res.status < 400;
    rt.audit({
      action: asked.action,
      ...(target ? { target } : {}),
      ...(Object.keys(detail).length > 0 ? { detail } : {}),
      by,
      ok,
      ...(ok ? {} : { error: await errorOf(c) }),
    });
  };
}

/** Who sent the request: its credential, its address, its client. */
function actorOf(c: Context, tokenPrint: string): AuditActor {
  const auth = c.req.header("authorization") ?? "";
  const agent = c.req.header("user-agent");
  const remote = (c.env as { remoteAddr?: Deno.NetAddr } | undefined)?.remoteAddr;
  const bearer = /^Bearer[ \t]+(\S+)/i.exec(auth);
  // The session that let it in, as cookieAuth accepted it: not any cookie the request carries,
  // which a server on another port of the host may have set to be recorded in its stead.
  const session = acceptedSession(c.req.raw);
  const client = bearer
    ? `token:${fingerprint(bearer[1])}`
    : session !== undefined
    ? `session:${fingerprint(session)}`
    : tokenPrint;
  const via = agent?.startsWith("kraken-cli/") ? "cli" : session !== undefined ? "page" : "api";
  return {
    via,
    client,
    ...(remote?.hostname
      ? {
        address: remote.hostname.includes(":")
          ? `[${remote.hostname}]:${remote.port}`
          : `${remote.hostname}:${remote.port}`,
      }
      : {}),
    ...(agent ? { userAgent: agent.slice(0, 200) } : {}),
  };
}

async function bodyOf(c: Context): Promise<Record<string, unknown>> {
  try {
    const value = JSON.parse(await c.req.text());
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value : {};
  } catch {
    return {};
  }
}

async function errorOf(c: Context): Promise<string> {
  try {
    const body = await c.res.clone().json() as { error?: { message?: unknown } };
    const message = body.error?.message;
    return typeof message === "string" ? message.slice(0, 500) : `HTTP ${c.res.status}`;
  } catch {
    return `HTTP ${c.res.status}`;
  }
}
