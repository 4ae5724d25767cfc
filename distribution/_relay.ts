/**
 * Routes a root passes on between its host agents, so that a container on one agent reaches, by
 * name, a container placed on another. Agents do not link to each other: the root's hub relays
 * their messages (agent → root → agent), so what a root announces to an agent is its own routes
 * plus the routes of the containers it placed on the **other** agents, node ids under `@agent/`
 * as the root routes them (the receiving agent puts them under `@root/` in turn). Only what the
 * root accepted from an agent is passed on: its edge checks (routes cut to what that agent may
 * claim, a stale epoch's refused) hold for what it relays too.
 *
 * On the agent, a container it runs itself (a group of a `placement: spread` container) is
 * served by its own instances while any is live; the other agents' groups, relayed by the root
 * that placed it here, take its traffic only while none is (crashed, restarting, stopped): see
 * {@linkcode preferOwn}.
 *
 * @module
 */
import type { RouteInstance, RouteTable } from "../protocol/envelope.ts";

/**
 * What root-side `relayed` routes go to peer `peer`: those of its instances cut out (it reaches
 * them itself), and an entry left with nothing in it dropped when `peer` runs that container
 * itself (it would only shadow its own). An entry for a container `peer` does not run goes as it
 * is, a placeholder too (its senders hold for a container being re-placed).
 *
 * @param peer The agent the table is for.
 * @param relayed The routes of what this root placed, node ids under `@agent/`.
 * @param runs Whether `peer` runs container `name` itself.
 *
 * @example Agent node-c gets node-b's group of `x`, not its own
 * ```ts
 * import assert from "node:assert/strict";
 * import { relayedFor } from "./_relay.ts";
 * const relayed = {
 *   x: {
 *     balance: "round_robin" as const,
 *     instances: [{ i: "x#0.1@node-b", n: "@node-b/w1" }, { i: "x#0.1@node-c", n: "@node-c/w1" }],
 *   },
 *   solo: { balance: "round_robin" as const, instances: [{ i: "solo#0.1", n: "@node-c/w2" }] },
 * };
 * const table = relayedFor("node-c", relayed, (name) => name === "x" || name === "solo");
 * assert.deepEqual(table, {
 *   x: { balance: "round_robin", instances: [{ i: "x#0.1@node-b", n: "@node-b/w1" }] },
 * });
 * ```
 */
export function relayedFor(
  peer: string,
  relayed: RouteTable,
  runs: (name: string) => boolean,
): RouteTable {
  const mine = `@${peer}/`;
  const others = (list: readonly RouteInstance[]) => list.filter((i) => !i.n.startsWith(mine));
  const table: RouteTable = {};
  for (const [name, entry] of Object.entries(relayed)) {
    const instances = others(entry.instances);
    const x = entry.x ? others(entry.x) : [];
    if (instances.length === 0 && x.length === 0 && runs(name)) continue;
    const out: RouteTable[string] = { ...entry, instances };
    if (x.length > 0) out.x = x;
    else delete out.x;
    table[name] = out;
  }
  return table;
}

/**
 * The entry of a container this runtime runs and that is also reached elsewhere: its own
 * instances while any is live (the cheaper path); the others' otherwise, so a sender fails over
 * to them while its own group restarts or is gone. The instances not chosen stay in `x`
 * (draining: no new message goes to them, but replies to what they already have are awaited).
 *
 * @param own This runtime's entry.
 * @param elsewhere The entry of the same container from outside (another agent's groups).
 *
 * @example Own instances first; the others while none is live
 * ```ts
 * import assert from "node:assert/strict";
 * import { preferOwn } from "./_relay.ts";
 * const there = { balance: "round_robin" as const, instances: [{ i: "x#0.1@b", n: "@root/@b/w1" }] };
 * const here = { balance: "round_robin" as const, instances: [{ i: "x#0.1", n: "w1" }] };
 * assert.deepEqual(preferOwn(here, there).instances, [{ i: "x#0.1", n: "w1" }]);
 * assert.deepEqual(preferOwn(here, there).x, [{ i: "x#0.1@b", n: "@root/@b/w1" }]);
 * const restarting = { balance: "round_robin" as const, instances: [], w: 1 as const };
 * assert.deepEqual(preferOwn(restarting, there).instances, there.instances);
 * assert.equal(preferOwn(restarting, there).w, undefined);
 * ```
 */
export function preferOwn(
  own: RouteTable[string],
  elsewhere: RouteTable[string],
): RouteTable[string] {
  const ownIds = new Set([...own.instances, ...own.x ?? []].map((i) => i.i));
  // An id of one of ours listed from outside would reroute its traffic: never taken.
  const theirs = elsewhere.instances.filter((i) => !ownIds.has(i.i));
  const useOwn = own.instances.length > 0 || theirs.length === 0;
  const live = useOwn ? own.instances : theirs;
  const seen = new Set(live.map((i) => i.i));
  const x: RouteInstance[] = [];
  for (const inst of [...own.x ?? [], ...(useOwn ? theirs : own.instances), ...elsewhere.x ?? []]) {
    // (Own ids come first: one listed from outside too is dropped here.)
    if (seen.has(inst.i)) continue;
    seen.add(inst.i);
    x.push(inst);
  }
  const entry: RouteTable[string] = { balance: own.balance, instances: live };
  if (own.q !== undefined) entry.q = own.q;
  if (x.length > 0) entry.x = x;
  if (live.length === 0 && (own.w || elsewhere.w)) entry.w = 1;
  return entry;
}
