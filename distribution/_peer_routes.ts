/**
 * A peer runtime's announced routes, cut to what it may announce (`_federation.ts` takes them so):
 * a peer speaks for its own containers — not for this runtime's (unless it placed them here and
 * relays where their other groups run), not for those another peer (connected or away) claimed
 * first — and only with instance ids of the container they are listed under; its node ids go under
 * `@peer/`.
 *
 * @module
 */
import type { RouteTable } from "../protocol/envelope.ts";
import { sanitizeRoutes } from "../protocol/routes.ts";
import { nameProblem } from "./_peers.ts";

/** What a peer's routes are judged against, for that peer. */
export interface RouteJudge {
  /** This runtime's own container names. */
  own: ReadonlySet<string>;
  /** Whether its routes for `name` are taken at all (declined ones are left out quietly). */
  accepts?(name: string): boolean;
  /** Whether two runtimes may both announce `name` (a placement being moved). */
  shared?(name: string): boolean;
  /** Whether it may announce `name` although this runtime runs it (the root that placed it). */
  relays?(name: string): boolean;
  /** Another peer that claimed `name` first, if any. */
  claimant(name: string): string | undefined;
  /** Whether `name`'s instance ids repeat across peers: they get `@peer` appended. */
  qualified?(name: string): boolean;
}

/** A peer's routes as taken, and what was dropped. */
export interface CutRoutes {
  /** The routes taken, node ids under `@peer/`. */
  table: RouteTable;
  /** What was dropped, one phrase each (for the log). */
  dropped: string[];
  /**
   * Whether something was left out that may be taken later: a name another peer claims (it may
   * go), or one `accepts` declined (e.g. not placed on it from here yet).
   */
  later: boolean;
}

/**
 * Cuts the routes peer `peer` announced (untrusted) to what it may announce. Every lookup is a
 * set's or a map's: a frame of N names costs O(N).
 *
 * @example A name another peer claims is dropped, the rest taken under `@peer/`
 * ```ts
 * import assert from "node:assert/strict";
 * import { cutAnnounced } from "./_peer_routes.ts";
 * const cut = cutAnnounced("node-b", {
 *   api: { balance: "round_robin", instances: [{ i: "api#0.1", n: "w1" }] },
 *   db: { balance: "round_robin", instances: [{ i: "db#0.1", n: "w2" }] },
 * }, { own: new Set(), claimant: (name) => name === "db" ? "node-c" : undefined });
 * assert.deepEqual(cut.table, {
 *   api: { balance: "round_robin", instances: [{ i: "api#0.1", n: "@node-b/w1" }] },
 * });
 * assert.equal(cut.later, true);
 * ```
 */
export function cutAnnounced(peer: string, reported: unknown, judge: RouteJudge): CutRoutes {
  const prefix = `@${peer}/`;
  const { own, accepts, shared, relays } = judge;
  const dropped: string[] = [];
  let later = false;
  let offered: unknown = reported;
  if (typeof reported === "object" && reported !== null) {
    const kept: Record<string, unknown> = {};
    for (const [name, entry] of Object.entries(reported)) {
      if (accepts && !accepts(name)) {
        later = true;
        continue;
      }
      const bad = nameProblem("container", name);
      const other = bad === null && !own.has(name) && !shared?.(name)
        ? judge.claimant(name)
        : undefined;
      if (bad !== null) dropped.push(`routes for ${bad}`);
      else if (other !== undefined) {
        dropped.push(`routes for container "${name}", which runtime "${other}" runs`);
        later = true;
      } else kept[name] = entry;
    }
    offered = kept;
  }
  const { routes, refused } = sanitizeRoutes(offered, {
    node: null,
    may: (name) => !own.has(name) || (relays?.(name) ?? false),
  });
  dropped.push(...refused);
  const table: RouteTable = {};
  for (const [name, entry] of Object.entries(routes)) {
    const tag = judge.qualified?.(name) ? `@${peer}` : "";
    table[name] = {
      ...entry,
      instances: entry.instances.map((i) => ({ i: i.i + tag, n: prefix + i.n })),
      ...(entry.x ? { x: entry.x.map((i) => ({ i: i.i + tag, n: prefix + i.n })) } : {}),
    };
  }
  return { table, dropped, later };
}
