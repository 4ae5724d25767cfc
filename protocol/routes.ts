/**
 * Routing tables as data: the node-id and instance-id rules they rest on, merging tables from
 * several sources (supervisors, peers, placements) by one rule, and cutting a table someone else
 * reported to what that reporter may announce. Pure: no I/O, no clock. The runtime (for its child
 * isolates) and distribution (for its peer runtimes) both take other sides' tables through here.
 *
 * @module
 */
import type { RouteInstance, RouteTable } from "./envelope.ts";

/** Most instances kept from one reported entry. */
const MAX_ITEMS = 10_000;
/** Most entries (container names) kept from one reported routing table. */
export const MAX_ROUTE_ENTRIES = 10_000;
/** Most instances (live and draining, over all its entries) kept from one reported routing table. */
export const MAX_ROUTE_INSTANCES = 10_000;
/** Longest container name, instance id or node id kept from a reported routing table. */
export const MAX_ROUTE_ID = 256;
/** A container name as the topology allows one (config's `TOPOLOGY_PATTERNS.name`). */
const CONTAINER_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;
/** Largest restart buffer a reporter may announce for a container. */
const MAX_BUFFER = 1_000_000;
/** Longest reported text quoted back in a refusal. */
const MAX_QUOTE = 16 * 1024;
const BALANCES = new Set(["round_robin", "random", "key_hash"]);

/**
 * Whether node `node` is `ancestor` or below it (node ids are paths: `p2/w1` is below `p2`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { within } from "./routes.ts";
 * assert.equal(within("p2/w1", "p2"), true);
 * assert.equal(within("p21", "p2"), false);
 * ```
 */
export function within(node: unknown, ancestor: string): boolean {
  return typeof node === "string" &&
    (node === ancestor || (node.length > ancestor.length && node.startsWith(ancestor) &&
      node.charCodeAt(ancestor.length) === 47 /* "/" */));
}

/**
 * Whether instance id `id` names an instance of container `name` (`name#replica.incarnation`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { instanceOf } from "./routes.ts";
 * assert.equal(instanceOf("api#0.1", "api"), true);
 * assert.equal(instanceOf("apix#0.1", "api"), false);
 * ```
 */
export function instanceOf(id: unknown, name: string): boolean {
  return typeof id === "string" && id.length > name.length + 1 && id.startsWith(name) &&
    id.charCodeAt(name.length) === 35 /* "#" */;
}

/**
 * The container an instance id belongs to (`api#0.1` → `api`), or `null` when it is not one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { containerOf } from "./routes.ts";
 * assert.equal(containerOf("api#0.1"), "api");
 * assert.equal(containerOf("runtime"), null);
 * ```
 */
export function containerOf(id: unknown): string | null {
  if (typeof id !== "string") return null;
  const hash = id.lastIndexOf("#");
  return hash > 0 ? id.slice(0, hash) : null;
}

/**
 * Adds `extra` to `table`; an entry with no live instance never hides one that has some.
 *
 * @example A placeholder does not hide live instances
 * ```ts
 * import assert from "node:assert/strict";
 * import { mergeRoutes } from "./routes.ts";
 * const table = { api: { balance: "round_robin" as const, instances: [], w: 1 as const } };
 * mergeRoutes(table, { api: { balance: "random", instances: [{ i: "api#0.1", n: "@b/w1" }] } });
 * assert.deepEqual(table.api.instances, [{ i: "api#0.1", n: "@b/w1" }]);
 * assert.equal(table.api.balance, "random");
 * ```
 *
 * @example A second source cannot re-point a live instance, live or draining
 * ```ts
 * import assert from "node:assert/strict";
 * import { mergeRoutes } from "./routes.ts";
 * const table = {
 *   api: { balance: "round_robin" as const, instances: [{ i: "api#0.1", n: "@b/w1" }] },
 * };
 * mergeRoutes(table, {
 *   api: { balance: "round_robin", instances: [], x: [{ i: "api#0.1", n: "@evil/x" }] },
 * });
 * assert.deepEqual(table.api, { balance: "round_robin", instances: [{ i: "api#0.1", n: "@b/w1" }] });
 * ```
 */
export function mergeRoutes(table: RouteTable, extra: RouteTable): void {
  for (const [name, entry] of Object.entries(extra)) {
    const current = table[name];
    if (!current) {
      table[name] = entry;
      continue;
    }
    // Two entries for one name: a replacement in progress (new instances live, old ones draining)
    // or a restarting parent's placeholders. Live and draining instances of both are kept.
    // An instance id keeps the node it was first listed with: a second source listing it again —
    // live or draining, under another node — never re-points it (it would reroute its traffic).
    const live = current.instances.length > 0 ? current : entry;
    const instances = union(current.instances, entry.instances);
    // An instance id names one instance: listed live, it is not draining somewhere else too.
    const ids = new Set(instances.map((i) => i.i));
    const x = union(current.x ?? [], entry.x ?? []).filter((i) => !ids.has(i.i));
    table[name] = {
      balance: live.balance,
      instances,
      ...(live.q !== undefined ? { q: live.q } : {}),
      ...(x.length > 0 ? { x } : {}),
      ...(instances.length === 0 && (current.w || entry.w) ? { w: 1 as const } : {}),
    };
  }
}

function union(a: readonly RouteInstance[], b: readonly RouteInstance[]): RouteInstance[] {
  if (b.length === 0) return [...a];
  const seen = new Set(a.map((i) => i.i));
  return [...a, ...b.filter((i) => !seen.has(i.i))];
}

/** What a child isolate (or a peer runtime) may speak for. */
export interface ChildAuthority {
  /**
   * The child's node id: its instances live there or below. `null` for a peer runtime, whose
   * node ids are its own (any non-empty id; the hub puts them under `@peer/`).
   */
  readonly node: string | null;
  /** The child's own container: the supervisor of what is below it, in an `escalate` event. */
  readonly self?: string;
  /** Whether the child may report on container `name` (one below it). */
  may(name: string): boolean;
}

/** The routes a child reported, cut to what it may announce, and the names it was refused. */
export interface SanitizedRoutes {
  /** Entries for containers below the child, each instance in the child's node or below. */
  routes: RouteTable;
  /** What was refused, one phrase each (for the log). */
  refused: string[];
}

/**
 * Keeps, of a reported routing table (a child's `subroutes`, a peer's `routes`), the entries for
 * containers the reporter may speak for, and of those the instances that are that container's
 * and live in its node or below. What one table may make its parent hold is bounded: at most
 * {@linkcode MAX_ROUTE_ENTRIES} entries and {@linkcode MAX_ROUTE_INSTANCES} instances in all, names
 * and ids of at most {@linkcode MAX_ROUTE_ID} characters; the rest is refused.
 *
 * @example A child claiming another container's name is refused
 * ```ts
 * import assert from "node:assert/strict";
 * import { sanitizeRoutes } from "./routes.ts";
 * const authority = { node: "w3", may: (name: string) => name === "mailer" };
 * const { routes, refused } = sanitizeRoutes({
 *   mailer: { balance: "round_robin", instances: [{ i: "mailer#0.1", n: "w3/w1" }] },
 *   orders: { balance: "round_robin", instances: [{ i: "orders#0.9", n: "w3" }] },
 * }, authority);
 * assert.deepEqual(Object.keys(routes), ["mailer"]);
 * assert.deepEqual(refused, ['routes for container "orders", which is not below it']);
 * ```
 */
export function sanitizeRoutes(reported: unknown, authority: ChildAuthority): SanitizedRoutes {
  const routes: RouteTable = {};
  const refused: string[] = [];
  if (!isRecord(reported)) return { routes, refused: ["a routing table that is not a map"] };
  let entries = 0;
  let overEntries = 0;
  let instancesLeft = MAX_ROUTE_INSTANCES;
  let overInstances = 0;
  const keep = (name: string, list: unknown): RouteInstance[] => {
    if (!Array.isArray(list)) return [];
    const out: RouteInstance[] = [];
    for (const inst of list.slice(0, MAX_ITEMS)) {
      if (instancesLeft === 0) {
        overInstances++;
        continue;
      }
      const placed = authority.node === null
        ? typeof inst?.n === "string" && inst.n !== ""
        : within(inst?.n, authority.node);
      if (
        isRecord(inst) && instanceOf(inst.i, name) && placed &&
        (inst.i as string).length <= MAX_ROUTE_ID && (inst.n as string).length <= MAX_ROUTE_ID
      ) {
        out.push({ i: inst.i as string, n: inst.n as string });
        instancesLeft--;
      } else {
        // (Not every value has a JSON form: `undefined` from a structured clone has none.)
        refused.push(
          `an instance of ${JSON.stringify(name)} outside its node: ${
            quote(JSON.stringify(inst) ?? String(inst), 200)
          }`,
        );
      }
    }
    return out;
  };
  for (const name in reported) {
    if (!Object.hasOwn(reported, name)) continue;
    if (entries === MAX_ROUTE_ENTRIES) {
      overEntries++;
      continue;
    }
    entries++;
    const raw = reported[name];
    // A name every object has (`constructor`, `toString`) would read as an entry of any table.
    if (name.length > MAX_ROUTE_ID || !CONTAINER_NAME.test(name) || name in Object.prototype) {
      refused.push(`routes for ${quote(JSON.stringify(name), 80)}, which is not a container name`);
      continue;
    }
    if (!authority.may(name)) {
      refused.push(`routes for container ${JSON.stringify(name)}, which is not below it`);
      continue;
    }
    if (!isRecord(raw)) {
      refused.push(`a malformed route entry for ${JSON.stringify(name)}`);
      continue;
    }
    const entry: RouteTable[string] = {
      balance: BALANCES.has(raw.balance as string)
        ? raw.balance as RouteTable[string]["balance"]
        : "round_robin",
      instances: keep(name, raw.instances),
    };
    if (Number.isInteger(raw.q) && (raw.q as number) >= 0) {
      entry.q = Math.min(raw.q as number, MAX_BUFFER);
    }
    const x = keep(name, raw.x);
    if (x.length > 0) entry.x = x;
    if (raw.w === 1 && entry.instances.length === 0) entry.w = 1;
    routes[name] = entry;
  }
  if (overEntries > 0) {
    refused.unshift(
      `${overEntries} entries past the ${MAX_ROUTE_ENTRIES} a routing table may have`,
    );
  }
  if (overInstances > 0) {
    refused.unshift(
      `${overInstances} instances past the ${MAX_ROUTE_INSTANCES} a routing table may list`,
    );
  }
  return { routes, refused };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function quote(text: string, max = MAX_QUOTE): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
