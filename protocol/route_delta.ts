/**
 * What changed between two routing tables, as the hub hands it down: the entries that are new or
 * differ, and the names that are gone. Pure.
 *
 * Sending the whole table to every node at each change made a start cost O(n) per node and O(n²)
 * for the application (400 containers: 400 tables of 400 entries, each decoded and indexed by 400
 * nodes); a start changes one entry, so a node now receives one entry per start.
 *
 * @module
 */
import type { RouteTable } from "./envelope.ts";

/** The difference between two routing tables. */
export interface RouteDelta {
  /** Entries new or changed, by container name, as they are now. */
  r: RouteTable;
  /** Names no longer in the table. */
  g: string[];
}

/**
 * The entries of `next` that are new or differ from `prev`, and the names of `prev` not in `next`.
 *
 * @param prev The table the nodes have.
 * @param next The table now.
 * @returns What turns `prev` into `next` (`applyRouteDelta`).
 *
 * @example One container started
 * ```ts
 * import assert from "node:assert/strict";
 * import { routeDelta } from "./route_delta.ts";
 * const a = { balance: "round_robin" as const, instances: [{ i: "a#0.1", n: "w1" }] };
 * const b = { balance: "round_robin" as const, instances: [{ i: "b#0.1", n: "w2" }] };
 * assert.deepEqual(routeDelta({ a }, { a: { ...a }, b }), { r: { b }, g: [] });
 * assert.deepEqual(routeDelta({ a, b }, { b }), { r: {}, g: ["a"] });
 * ```
 */
export function routeDelta(prev: RouteTable, next: RouteTable): RouteDelta {
  const r: RouteTable = {};
  const g: string[] = [];
  for (const name in next) {
    if (!Object.hasOwn(prev, name) || !samePlain(prev[name], next[name])) r[name] = next[name];
  }
  for (const name in prev) if (!Object.hasOwn(next, name)) g.push(name);
  return { r, g };
}

/**
 * Applies a delta to `table` in place (the table must be the receiver's own).
 *
 * @returns The names whose entry was set or removed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { applyRouteDelta } from "./route_delta.ts";
 * const table = { a: { balance: "random" as const, instances: [] } };
 * const b = { balance: "random" as const, instances: [{ i: "b#0.1", n: "w2" }] };
 * assert.deepEqual(applyRouteDelta(table, { r: { b }, g: ["a"] }), ["b", "a"]);
 * assert.deepEqual(table, { b });
 * ```
 */
export function applyRouteDelta(table: RouteTable, delta: RouteDelta): string[] {
  const touched: string[] = [];
  for (const name in delta.r) {
    table[name] = delta.r[name];
    touched.push(name);
  }
  for (const name of delta.g) {
    if (!Object.hasOwn(table, name)) continue;
    delete table[name];
    touched.push(name);
  }
  return touched;
}

/** Deep equality of plain data (objects, arrays, primitives), as a table's entries are. */
function samePlain(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!samePlain(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let count = 0;
  for (const key in x) {
    if (!Object.hasOwn(y, key) || !samePlain(x[key], y[key])) return false;
    count++;
  }
  for (const _ in y) count--;
  return count === 0;
}
