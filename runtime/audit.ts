/**
 * The audit trail: every change asked of a runtime through its management API (by the `kraken`
 * CLI, the dashboard or any other client) is recorded by the runtime with who asked and what, as
 * an `audit` event (`rt.on("audit", …)`, `GET /v1/events?types=audit`) and an `info` log line.
 *
 * @module
 */

/**
 * Who asked for a change.
 *
 * @example
 * ```ts
 * import type { AuditActor } from "jsr:@kraken/kraken";
 * const cli: AuditActor = {
 *   via: "cli", client: "token:3f2a9c1e", address: "127.0.0.1:50312", userAgent: "kraken-cli/0.3.0",
 * };
 * ```
 */
export interface AuditActor {
  /**
   * `cli`: the `kraken` command (it says so in its User-Agent) · `page`: the dashboard, signed in
   * with a session cookie · `api`: any other client of the management API.
   */
  via: "cli" | "page" | "api";
  /**
   * Which credential it used, never the secret: `token:` or `session:` and the first 8 hex digits
   * of the SHA-256 of the token or session id.
   */
  client: string;
  /** The client's address (`host:port`), when known. */
  address?: string;
  /** Its User-Agent header as it sent it (self-declared: a hint, not a proof), cut to 200 characters. */
  userAgent?: string;
}

/**
 * One change asked of the runtime, and how it went.
 *
 * @example Keeping the changes made by anyone but the CLI
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AuditRecord } from "jsr:@kraken/kraken";
 * const byHand = (records: readonly AuditRecord[]) => records.filter((r) => r.by.via !== "cli");
 * const scale: AuditRecord = {
 *   action: "scale", target: "api", detail: { replicas: 4 }, ok: true,
 *   by: { via: "page", client: "session:9b1d77e0" },
 * };
 * assert.equal(byHand([scale, { ...scale, by: { via: "cli", client: "token:3f2a9c1e" } }]).length, 1);
 * ```
 */
export interface AuditRecord {
  /** `scale`, `restart`, `stop`, `spawn`, `call`, `apply` or `shutdown`. */
  action: "scale" | "rebalance" | "restart" | "stop" | "spawn" | "call" | "apply" | "shutdown";
  /** The container it is about, when one. */
  target?: string;
  /** What was asked besides (replicas, stop mode, topic, module, topology path, …). */
  detail?: Record<string, string | number | boolean | null>;
  /** Who asked. */
  by: AuditActor;
  /** Whether it was done. */
  ok: boolean;
  /** Why not, when it was not. */
  error?: string;
}

/**
 * The log line of an audit record: `audit: <action> <target> <detail> by <via> <client> from
 * <address> (<user agent>): ok | failed: <why>`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { auditLine } from "./audit.ts";
 * assert.equal(
 *   auditLine({
 *     action: "scale", target: "api", detail: { replicas: 4 }, ok: true,
 *     by: { via: "cli", client: "token:3f2a9c1e", address: "127.0.0.1:50312" },
 *   }),
 *   "audit: scale api replicas=4 by cli token:3f2a9c1e from 127.0.0.1:50312: ok",
 * );
 * ```
 */
export function auditLine(record: AuditRecord): string {
  const detail = Object.entries(record.detail ?? {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .map((kv) => kv.replace(/=(-?\d[\d.]*|true|false|null)$/, "=$1"));
  const what = [record.action, record.target, ...detail].filter(Boolean).join(" ");
  const { via, client, address, userAgent } = record.by;
  return `audit: ${what} by ${via} ${client}${address ? ` from ${address}` : ""}${
    userAgent ? ` (${userAgent})` : ""
  }: ${record.ok ? "ok" : `failed: ${record.error ?? "unknown"}`}`;
}
