/**
 * What a parent believes of a child isolate. A worker or process runs container code, so what it
 * reports about itself and its subtree (routes, tree snapshots, supervision events, exit reasons,
 * log lines) is untrusted input: each function here keeps only what that child may speak for and
 * says what it refused. Pure: no I/O, no clock.
 *
 * The rule: a child speaks for its own instance and for the containers below it — the children
 * its spec declares, and containers it spawned under names nobody else in the application uses.
 * Its instances live in its own node or below it (node ids are paths). The routing-table half of
 * the rule (`sanitizeRoutes`, and the id rules `within` and `instanceOf`) lives in
 * `protocol/routes.ts`, shared with distribution, which applies it to peer runtimes.
 *
 * @module
 */
import { type ChildAuthority, instanceOf, within } from "../protocol/routes.ts";
import { count, isRecord, short } from "../supervisor/_report_values.ts";
import { sanitizeExitReason } from "../supervisor/event_check.ts";
import type { ContainerSnapshot, InstanceSnapshot } from "./snapshots.ts";

/** Most entries kept from a child's list (instances, children, topics, detail lines). */
const MAX_ITEMS = 10_000;
/** Deepest nesting of a reported subtree. */
const MAX_DEPTH = 32;
const SLOT_STATES = new Set(["starting", "running", "restarting", "stopping", "stopped"]);
const MODES = new Set(["inline", "worker", "process", "remote"]);

/** Names of every container declared below `children` (nested ones included). */
export function declaredNames(
  children: readonly { name: string; children: readonly unknown[] }[],
  into = new Set<string>(),
): Set<string> {
  for (const child of children) {
    into.add(child.name);
    declaredNames(child.children as typeof children, into);
  }
  return into;
}

/**
 * A subtree snapshot a child reported, keeping the containers it may speak for (and their
 * well-formed fields); malformed entries are dropped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sanitizeSubtree } from "./_trust.ts";
 * const authority = { node: "w3", may: (name: string) => name === "mailer" };
 * const tree = sanitizeSubtree([
 *   { name: "mailer", mode: "worker", host: "local", replicas: 1, running: 1, restarts: 0, held: false, instances: [] },
 *   { name: "orders", mode: "worker", host: "local", replicas: 1, running: 1, restarts: 0, held: false, instances: [] },
 * ], authority);
 * assert.deepEqual(tree.map((c) => c.name), ["mailer"]);
 * ```
 */
export function sanitizeSubtree(raw: unknown, authority: ChildAuthority): ContainerSnapshot[] {
  return snapshots(raw, authority, 0);
}

function snapshots(raw: unknown, authority: ChildAuthority, depth: number): ContainerSnapshot[] {
  if (!Array.isArray(raw) || depth > MAX_DEPTH) return [];
  const out: ContainerSnapshot[] = [];
  for (const item of raw.slice(0, MAX_ITEMS)) {
    if (!isRecord(item) || typeof item.name !== "string" || !authority.may(item.name)) continue;
    const name = item.name;
    const snap: ContainerSnapshot = {
      name,
      mode: MODES.has(item.mode as string) ? item.mode as ContainerSnapshot["mode"] : "worker",
      host: typeof item.host === "string" ? short(item.host) : "local",
      replicas: count(item.replicas) ? item.replicas as number : 0,
      running: count(item.running) ? item.running as number : 0,
      restarts: count(item.restarts) ? item.restarts as number : 0,
      held: item.held === true,
      instances: instances(item.instances, name, authority),
    };
    if (isRecord(item.supervisor)) {
      const s = item.supervisor;
      if (typeof s.strategy === "string" && count(s.intensity) && count(s.period)) {
        snap.supervisor = {
          strategy: short(s.strategy),
          intensity: s.intensity as number,
          period: s.period as number,
        };
      }
    }
    if (Array.isArray(item.children)) {
      snap.children = snapshots(item.children, authority, depth + 1);
    }
    out.push(snap);
  }
  return out;
}

function instances(raw: unknown, name: string, authority: ChildAuthority): InstanceSnapshot[] {
  if (!Array.isArray(raw)) return [];
  const out: InstanceSnapshot[] = [];
  for (const item of raw.slice(0, MAX_ITEMS)) {
    const placed = authority.node === null
      ? typeof item?.node === "string"
      : within(item?.node, authority.node);
    if (!isRecord(item) || !instanceOf(item.id, name) || !placed) continue;
    const snap: InstanceSnapshot = {
      id: item.id as string,
      replica: count(item.replica) ? item.replica as number : 0,
      incarnation: count(item.incarnation) ? item.incarnation as number : 0,
      state: SLOT_STATES.has(item.state as string)
        ? item.state as InstanceSnapshot["state"]
        : "stopped",
      node: item.node as string,
      restarts: count(item.restarts) ? item.restarts as number : 0,
      uptime: count(item.uptime) ? item.uptime as number : 0,
    };
    if (item.lastExit !== undefined) snap.lastExit = sanitizeExitReason(item.lastExit);
    out.push(snap);
  }
  return out;
}
