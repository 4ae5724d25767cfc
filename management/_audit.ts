/**
 * The audit middleware: every change a client asks of the runtime (scale, restart, stop, spawn,
 * call, apply, shutdown) is handed to `rt.audit` once it has been answered, with who asked (which
 * credential, from where, with which client) and what, and whether it was done. Reads only: the
 * request's body comes from the cache the handler filled, and the answer is cloned.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { createHash } from "node:crypto";
import type { AuditActor, AuditRecord } from "../runtime/audit.ts";
import type { Runtime } from "../runtime/runtime.ts";

type Action = AuditRecord["action"];

/** The change a request asks for, or `null` for one that reads (or is no route). */
function actionOf(method: string, path: string): { action: Action; target?: string } | null {
  if (method !== "POST") return null;
  const own = /^\/v1\/containers\/([^/]+)\/(restart|stop|scale|call)$/.exec(path);
  if (own) return { action: own[2] as Action, target: decodeURIComponent(own[1]) };
  if (path === "/v1/containers") return { action: "spawn" };
  if (path === "/v1/apply") return { action: "apply" };
  if (path === "/v1/shutdown") return { action: "shutdown" };
  return null;
}

/** What of the body goes into the record, by action: never a call's body (it may hold data). */
const DETAIL: Record<Action, readonly string[]> = {
  scale: ["replicas"],
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
    if (!asked || (asked.action === "apply" && isDryRun(c))) return await next();
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
    if (asked.action === "apply" && detail.path === undefined && "containers" in body) {
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

function isDryRun(c: Context): boolean {
  const value = c.req.query("dry_run");
  return value !== undefined && value !== "0" && value !== "false";
}

/** Who sent the request: its credential, its address, its client. */
function actorOf(c: Context, tokenPrint: string): AuditActor {
  const auth = c.req.header("authorization") ?? "";
  const cookie = c.req.header("cookie");
  const agent = c.req.header("user-agent");
  const remote = (c.env as { remoteAddr?: Deno.NetAddr } | undefined)?.remoteAddr;
  const bearer = /^Bearer[ \t]+(\S+)/i.exec(auth);
  // Without a token header, what let it in was the dashboard's session cookie.
  const session = !auth && cookie ? sessionOf(cookie) : null;
  const client = bearer
    ? `token:${fingerprint(bearer[1])}`
    : session !== null
    ? `session:${fingerprint(session)}`
    : tokenPrint;
  const via = agent?.startsWith("kraken-cli/") ? "cli" : session !== null ? "page" : "api";
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

/** The session cookie's value (one whose name says session), else the whole header. */
function sessionOf(cookie: string): string {
  for (const part of cookie.split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (/session/i.test(name)) return value.join("=");
  }
  return cookie;
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
