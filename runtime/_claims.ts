/**
 * Which child holds which container name it spawned. A child isolate (a worker or process with
 * children) may announce containers it spawned with `ctx.spawn` under names nobody else uses. A
 * name the application declares or serves otherwise — the topology, a container supervised in
 * this isolate, a peer runtime's (even while it is away), a placement's — is never a child's,
 * whenever it was declared: a claim is checked at each report and each time routes are computed,
 * and let go the moment the name is declared elsewhere (the declared owner wins). One registry per
 * isolate; what one child may hold is bounded, and what it holds goes when it ends.
 *
 * @module
 */
import type { Reports } from "./_supervisor_view.ts";
import type { ContainerSpec, Topology } from "../config/topology.ts";
import type { DistributionSnapshot } from "../distribution/mod.ts";
import type { RouteTable } from "../protocol/envelope.ts";
import { declaredNames } from "./_trust.ts";
import type { ContainerSnapshot } from "./snapshots.ts";
import { type SanitizedRoutes, sanitizeRoutes } from "../protocol/routes.ts";

/** Most names one child may hold at once (every container its subtree spawned). */
export const MAX_CLAIMS = 1_000;

/** Why a claim was refused: another child holds the name, it is declared elsewhere, or the child holds too many. */
export type ClaimRefusal = "held" | "taken" | "full";

/**
 * Who holds which name it spawned. An owner is any object that stands for one child (the
 * supervisor uses the record of one replica's reports, which outlives its incarnations).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NameClaims } from "./_claims.ts";
 * const claims = new NameClaims(2);
 * const a = {}, b = {};
 * const declared = new Set(["orders"]);
 * const taken = (name: string) => declared.has(name);
 * assert.equal(claims.claim("dyn", a, taken), null);
 * assert.equal(claims.claim("dyn", b, taken), "held", "a holds it");
 * assert.equal(claims.claim("orders", b, taken), "taken", "the application declares it");
 * declared.add("dyn"); // the operator adds a container named dyn
 * assert.equal(claims.claim("dyn", a, taken), "taken", "a loses it at its next report");
 * assert.equal(claims.holds(a, "dyn"), false);
 * claims.claim("x", a, taken);
 * claims.claim("y", a, taken);
 * assert.equal(claims.claim("z", a, taken), "full");
 * claims.release(a); // a ended
 * assert.equal(claims.claim("x", b, taken), null);
 * ```
 */
export class NameClaims {
  readonly #holders = new Map<string, object>();
  readonly #held = new Map<object, Set<string>>();
  readonly #limit: number;

  /** @param limit Most names one owner may hold (default {@linkcode MAX_CLAIMS}). */
  constructor(limit: number = MAX_CLAIMS) {
    this.#limit = limit;
  }

  /**
   * Whether `owner` may announce container `name` now (`null`), or why not. It may when it holds
   * the name, or nobody does and it holds fewer than the limit — and in both cases only while the
   * name is not `taken`: a name it held that is now `taken` is let go.
   * @param taken Whether the name is declared or served here by anything but a child's claim.
   */
  claim(
    name: string,
    owner: object,
    taken: (name: string) => boolean,
    successorOf?: (holder: object) => boolean,
  ): ClaimRefusal | null {
    let holder = this.#holders.get(name);
    if (holder !== undefined && holder !== owner) {
      // Another incarnation of the same container (a replacement starting beside the one it
      // replaces) takes over the names its predecessor spawned.
      if (!successorOf?.(holder)) return "held";
      this.drop(holder, name);
      holder = undefined;
    }
    if (taken(name)) {
      if (holder === owner) this.drop(owner, name);
      return "taken";
    }
    if (holder === owner) return null;
    let names = this.#held.get(owner);
    if ((names?.size ?? 0) >= this.#limit) return "full";
    if (!names) this.#held.set(owner, names = new Set());
    names.add(name);
    this.#holders.set(name, owner);
    return null;
  }

  /** Whether `owner` holds `name`. */
  holds(owner: object, name: string): boolean {
    return this.#holders.get(name) === owner;
  }

  /** Lets go of the names `owner` holds that `keep` says no to (it no longer announces them). */
  keepOnly(owner: object, keep: (name: string) => boolean): void {
    for (const name of [...this.#held.get(owner) ?? []]) if (!keep(name)) this.drop(owner, name);
  }

  /** Lets go of `name`, if `owner` holds it. */
  drop(owner: object, name: string): void {
    if (this.#holders.get(name) !== owner) return;
    this.#holders.delete(name);
    const names = this.#held.get(owner)!;
    names.delete(name);
    if (names.size === 0) this.#held.delete(owner);
  }

  /** Lets go of everything `owner` holds (it ended). */
  release(owner: object): void {
    for (const name of this.#held.get(owner) ?? []) this.#holders.delete(name);
    this.#held.delete(owner);
  }

  /** How many names are held in all. */
  get size(): number {
    return this.#holders.size;
  }
}

/** One child, as its claims are judged. */
export interface Claimant {
  /** Its own container's name (never one of its children's). */
  readonly name: string;
  /** The children its spec declares, at any depth: always its to speak for. */
  readonly declared: ReadonlySet<string>;
  /** Its node id: its instances live there or below. */
  readonly node: string;
  /** What stands for it in the registry (one replica's reports, across its incarnations). */
  readonly owner: object;
  /**
   * Whether a holder stands for another incarnation of the same container (one it replaces): the
   * names that one spawned pass to it.
   */
  readonly succeeds?: (holder: object) => boolean;
}

/**
 * A child's `subroutes`, cut to what it may speak for (see `sanitizeRoutes`): its declared
 * children, and the names it spawned that it holds or may now hold. What it no longer announces
 * it no longer holds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { claimRoutes, NameClaims } from "./_claims.ts";
 * const claims = new NameClaims();
 * const child = { name: "plugin", declared: new Set<string>(), node: "p1", owner: {} };
 * const entry = (i: string) => ({ balance: "round_robin", instances: [{ i, n: "p1/w1" }] });
 * const taken = (name: string) => name === "billing";
 * const { routes, refused } = claimRoutes(
 *   { dyn: entry("dyn#0.1"), billing: entry("billing#0.1") },
 *   child,
 *   claims,
 *   taken,
 * );
 * assert.deepEqual(Object.keys(routes), ["dyn"]);
 * assert.equal(refused.length, 1);
 * claimRoutes({}, child, claims, taken);
 * assert.equal(claims.holds(child.owner, "dyn"), false, "no longer announced");
 * ```
 */
export function claimRoutes(
  reported: unknown,
  child: Claimant,
  claims: NameClaims,
  taken: (name: string) => boolean,
): SanitizedRoutes {
  let full = false;
  // What it no longer announces goes first, so a new name may take its place within the limit.
  const announced = typeof reported === "object" && reported !== null ? reported : {};
  claims.keepOnly(child.owner, (name) => Object.hasOwn(announced, name));
  const result = sanitizeRoutes(reported, {
    node: child.node,
    may: (name) => {
      if (name === child.name) return false;
      if (child.declared.has(name)) return true;
      const refusal = claims.claim(name, child.owner, taken, child.succeeds);
      if (refusal === "full") full = true;
      return refusal === null;
    },
  });
  claims.keepOnly(child.owner, (name) => Object.hasOwn(result.routes, name));
  if (full) result.refused.unshift(`names past the ${MAX_CLAIMS} one container may spawn`);
  return result;
}

/**
 * Lets go of the names `child` holds that are now `taken` (declared or served elsewhere: the
 * declared owner wins) and leaves them, and any other it no longer holds (it ended), out of what
 * it reported (`reports`, changed in place). Returns the names it lost to a declared owner.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { claimRoutes, dropTaken, NameClaims } from "./_claims.ts";
 * const claims = new NameClaims();
 * const child = { name: "plugin", declared: new Set<string>(), node: "p1", owner: {} };
 * const entry = { balance: "round_robin" as const, instances: [{ i: "billing#0.1", n: "p1" }] };
 * const reports = {
 *   subRoutes: claimRoutes({ billing: entry }, child, claims, () => false).routes,
 *   subTree: null,
 *   subTreeAt: 0,
 * };
 * assert.deepEqual(dropTaken(reports, child, claims, (n) => n === "billing"), ["billing"]);
 * assert.deepEqual(reports.subRoutes, {});
 * ```
 */
export function dropTaken(
  reports: Reports,
  child: Claimant,
  claims: NameClaims,
  taken: (name: string) => boolean,
): string[] {
  const lost: string[] = [];
  const gone = new Set<string>();
  for (const name in reports.subRoutes ?? {}) {
    if (child.declared.has(name)) continue;
    const held = claims.holds(child.owner, name);
    if (held && !taken(name)) continue;
    if (held) {
      claims.drop(child.owner, name);
      lost.push(name);
    }
    gone.add(name);
  }
  if (gone.size === 0) return lost;
  reports.subRoutes = Object.fromEntries(
    Object.entries(reports.subRoutes!).filter(([name]) => !gone.has(name)),
  );
  if (reports.subTree) reports.subTree = withoutNames(reports.subTree, gone);
  return lost;
}

/** A reported subtree without the containers named in `names` (at any depth). */
function withoutNames(tree: ContainerSnapshot[], names: ReadonlySet<string>): ContainerSnapshot[] {
  return tree.filter((c) => !names.has(c.name)).map((c) =>
    c.children ? { ...c, children: withoutNames(c.children, names) } : c
  );
}

/** Where a replica that reported stands now, for {@linkcode ChildReports.prune}. */
export type ReplicaStanding = "live" | "ended" | "gone";

/**
 * What the isolates of one supervisor's children reported about their own children, per child
 * and replica (kept across incarnations), with the names each holds in the isolate's registry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ChildReports, NameClaims } from "./_claims.ts";
 * const reports = new ChildReports(new NameClaims());
 * reports.of(1, 0).subRoutes = {};
 * assert.notEqual(reports.get(1, 0), undefined);
 * reports.prune(() => "gone");
 * assert.equal(reports.get(1, 0), undefined);
 * ```
 */
export class ChildReports {
  readonly #byChild = new Map<number, Map<number, Reports>>();
  readonly #claims: NameClaims;

  /** @param claims The isolate's registry of claimed names. */
  constructor(claims: NameClaims) {
    this.#claims = claims;
  }

  /** What replica `replica` of child `child` reported, if anything. */
  get(child: number, replica: number): Reports | undefined {
    return this.#byChild.get(child)?.get(replica);
  }

  /** What replica `replica` of child `child` reported (an empty record the first time). */
  of(child: number, replica: number): Reports {
    let byReplica = this.#byChild.get(child);
    if (!byReplica) this.#byChild.set(child, byReplica = new Map());
    let reports = byReplica.get(replica);
    if (!reports) {
      byReplica.set(replica, reports = { subRoutes: null, subTree: null, subTreeAt: 0 });
    }
    return reports;
  }

  /** Forgets what a replica reported, and lets go of the names it held. */
  forget(child: number, replica: number): void {
    const byReplica = this.#byChild.get(child);
    const reports = byReplica?.get(replica);
    if (!byReplica || !reports) return;
    this.#claims.release(reports);
    byReplica.delete(replica);
    if (byReplica.size === 0) this.#byChild.delete(child);
  }

  /**
   * Forgets the replicas that are `gone` from the state, and lets go of the names held by those
   * that `ended` for good (stopped, not coming back): a claim goes with its holder.
   */
  prune(standing: (child: number, replica: number) => ReplicaStanding): void {
    for (const [child, byReplica] of this.#byChild) {
      for (const [replica, reports] of byReplica) {
        const now = standing(child, replica);
        if (now === "gone") this.forget(child, replica);
        else if (now === "ended") this.#claims.release(reports);
      }
    }
  }

  /**
   * Lets go of the names the replicas hold that are now `taken`, leaving them out of what they
   * reported (see {@linkcode dropTaken}); `lost` hears of each replica that lost some. Whether
   * any was lost.
   * @param claimant The replica as its claims are judged, or `null` when its child is gone.
   */
  dropTaken(
    claimant: (child: number, replica: number, reports: Reports) => Claimant | null,
    taken: (name: string) => boolean,
    lost: (child: number, replica: number, names: string[]) => void,
  ): boolean {
    let any = false;
    for (const [child, byReplica] of this.#byChild) {
      for (const [replica, reports] of byReplica) {
        const who = claimant(child, replica, reports);
        const dropped = who ? dropTaken(reports, who, this.#claims, taken) : [];
        if (dropped.length === 0) continue;
        any = true;
        lost(child, replica, dropped);
      }
    }
    return any;
  }
}

/**
 * The names no child may hold for a container it spawned, as things are now: declared in the
 * topology, supervised in this runtime, a peer runtime's (even while it is away, or gone), placed
 * from here or placed on this agent, routed by distribution.
 */
export function takenNames(
  topology: Topology,
  root: { names(): string[]; specs(): readonly ContainerSpec[] },
  distribution: { snapshot(): DistributionSnapshot; routes(): RouteTable },
): (name: string) => boolean {
  const names = declaredNames(topology.containers, new Set(root.names()));
  declaredNames(root.specs(), names);
  const seen = distribution.snapshot();
  for (const placed of seen.remote) names.add(placed.name);
  for (const peer of seen.peers) for (const name of peer.containers) names.add(name);
  for (const name in distribution.routes()) names.add(name);
  return (name) => names.has(name);
}
