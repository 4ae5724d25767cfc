/**
 * A node's routing table: the application's (from the hub) overlaid with that of the subtree the
 * node supervises itself, the node each instance lives in, where instances that just left the
 * table lived (a reply an instance sent just before it went may arrive after the table changed),
 * and the choice of an instance for each message by the container's balancing.
 *
 * @module
 */
import type { RouteInstance, RouteTable } from "../protocol/envelope.ts";
import { UnavailableError } from "../protocol/errors.ts";
import { pickReplica } from "../protocol/balancer.ts";
import { ownerIndex } from "../protocol/entity_owner.ts";
import { type Choice, HOLD } from "./_failover.ts";
import { applyRouteDelta, type RouteDelta } from "../protocol/route_delta.ts";

/**
 * How long an instance that left the routing table is still known by its node: a reply it sent
 * just before it went (e.g. a worker that answered, then crashed) may arrive after the table
 * changed, and is checked against where the instance was.
 */
const GONE_MEMORY_MS = 30_000;
/** At most this many departed instances are remembered (a churning app must not grow it). */
const GONE_MEMORY_MAX = 10_000;

/**
 * The routing table in force, and where each instance lives.
 *
 * @example The application's table, overridden by the local subtree's
 * ```ts
 * import assert from "node:assert/strict";
 * import { RouteBook } from "./_route_book.ts";
 *
 * const book = new RouteBook(() => 0);
 * book.setGlobal({ a: { balance: "round_robin", instances: [{ i: "a#0.1", n: "w1" }] } });
 * book.setLocal({ a: { balance: "round_robin", instances: [{ i: "a#0.2", n: "p2/w1" }] } });
 * assert.equal(book.choose("a", undefined, false), "a#0.2");
 * assert.equal(book.nodeOf("a#0.1"), "w1"); // left the table a moment ago: still known
 * assert.throws(() => book.choose("b", undefined, false), { name: "UnavailableError" });
 * ```
 */
export class RouteBook {
  /** Instance id → its node. One map for the book's life: a node may keep it at hand. */
  readonly instanceNode: Map<string, string> = new Map();
  #routes: RouteTable = {};
  #global: RouteTable = {};
  #local: RouteTable | null = null;
  /** Instances that left the table recently, with their node and when (oldest first). */
  readonly #departed = new Map<string, { node: string; at: number }>();
  /** Peer nodes (`@name`) whose link is suspect (see `_suspicion.ts`): marked in the table. */
  #suspectNodes: ReadonlySet<string> = new Set();
  /** Instances marked suspect (`s`) in the table in force. */
  readonly #suspect = new Set<string>();
  /**
   * Per container with some instances suspect but not all: the others, which are chosen alone.
   * Empty while nothing is suspect (the common case costs one size check per message).
   */
  readonly #trusted = new Map<string, RouteInstance[]>();
  /** Balancing state per container. */
  readonly #turns = new Map<string, { turn: number; random: number; key?: string }>();
  readonly #now: () => number;

  /** @param now The clock (ms) that ages departed instances. */
  constructor(now: () => number) {
    this.#now = now;
  }

  /** The table in force: the application's, overridden by the local subtree's. */
  get routes(): RouteTable {
    return this.#routes;
  }

  /** The application's table (from the hub), without the local subtree's. */
  get global(): RouteTable {
    return this.#global;
  }

  /** Replaces the application's table. */
  setGlobal(routes: RouteTable): void {
    this.#global = routes;
    this.#apply();
  }

  /**
   * Changes the application's table by what the hub says changed (the table is this book's own,
   * changed in place). Only the instances of the entries it names are re-indexed: a start costs a
   * node the one entry that changed, not the whole table.
   */
  patchGlobal(delta: RouteDelta): void {
    // Suspect marks (here, or in what changed) are noted over the whole table: the slow path.
    if (
      this.#suspectNodes.size > 0 || this.#suspect.size > 0 ||
      Object.values(delta.r).some((entry) => entry.instances.some((inst) => inst.s === 1))
    ) {
      applyRouteDelta(this.#global, delta);
      return this.#apply();
    }
    const names = [...Object.keys(delta.r), ...delta.g];
    const before = names.map((name) => this.#routes[name]);
    applyRouteDelta(this.#global, delta);
    this.#routes = this.#local ? { ...this.#global, ...this.#local } : this.#global;
    const left = new Map<string, string>();
    for (const entry of before) {
      if (!entry) continue;
      for (const inst of [...entry.instances, ...entry.x ?? []]) {
        if (this.instanceNode.get(inst.i) !== inst.n) continue;
        this.instanceNode.delete(inst.i);
        left.set(inst.i, inst.n);
      }
    }
    const place = (inst: { i: string; n: string }) => {
      if (!this.instanceNode.has(inst.i)) this.instanceNode.set(inst.i, inst.n);
    };
    for (const name of names) this.#routes[name]?.instances.forEach(place);
    for (const name of names) this.#routes[name]?.x?.forEach(place);
    this.#rememberDeparted(left);
  }

  /** Replaces the table of the subtree supervised here (`null`: none). */
  setLocal(routes: RouteTable | null): void {
    this.#local = routes;
    this.#apply();
  }

  /**
   * Marks the instances behind peer nodes `nodes` (`@name`, and every node below one) suspect in
   * the table from now on: they are chosen only when every instance of their container is.
   */
  setSuspects(nodes: ReadonlySet<string>): void {
    this.#suspectNodes = nodes;
    this.#apply();
  }

  /** Whether instance `id` is marked suspect. */
  isSuspect(id: string): boolean {
    return this.#suspect.size > 0 && this.#suspect.has(id);
  }

  /** The node instance `id` lives in (or lived in until a moment ago). */
  nodeOf(id: string): string | undefined {
    return this.instanceNode.get(id) ?? this.#departed.get(id)?.node;
  }

  /**
   * The instance of container `name` to address (`prefer` while it is live), by the container's
   * balancing; {@linkcode HOLD} when the container is restarting (hold the message); `undefined`
   * when none is live but the sender may wait for one. With `entity`, the live instance that owns
   * that entity id (rendezvous hashing, whatever the balancing, `prefer` ignored: a retry goes to
   * the owner of the moment). Instances marked suspect are left out (`prefer` too) while their
   * container has others; an entity's owner is its owner, suspect or not.
   * @throws {UnavailableError} When there is no such container, or no live instance to wait for.
   */
  choose(
    name: string,
    key: string | undefined,
    mayWait: boolean,
    prefer?: string,
    entity?: string,
  ): Choice {
    const entry = this.#routes[name];
    if (!entry) {
      throw new UnavailableError(
        `no container named "${name}" (known: ${Object.keys(this.#routes).join(", ") || "none"})`,
      );
    }
    const instances = entry.instances;
    if (instances.length === 0) {
      if (entry.w) return HOLD;
      if (mayWait) return undefined;
      throw new UnavailableError(`container "${name}" has no live instance (it may be restarting)`);
    }
    if (entity !== undefined) return instances[ownerIndex(entity, instances)].i;
    const usable = this.#trusted.size > 0 ? this.#trusted.get(name) ?? instances : instances;
    if (prefer !== undefined && usable.some((inst) => inst.i === prefer)) return prefer;
    let state = this.#turns.get(name);
    if (!state) this.#turns.set(name, state = { turn: 0, random: 0 });
    state.key = key;
    state.random = Math.random();
    return usable[pickReplica(entry.balance, usable.length, state)].i;
  }

  #apply(): void {
    const routes = this.#marked(this.#local ? { ...this.#global, ...this.#local } : this.#global);
    this.#routes = routes;
    const before = new Map(this.instanceNode);
    this.instanceNode.clear();
    // An instance id names one instance: the first listing of it stands (live before draining),
    // so no later entry can move an instance to another node.
    const place = (inst: { i: string; n: string }) => {
      if (!this.instanceNode.has(inst.i)) this.instanceNode.set(inst.i, inst.n);
    };
    for (const name in routes) routes[name].instances.forEach(place);
    for (const name in routes) routes[name].x?.forEach(place);
    this.#rememberDeparted(before);
  }

  /**
   * `routes` with the instances behind suspect nodes marked (`s: 1`; a table from above may carry
   * marks of its own), and the suspect and trusted instances of each container noted.
   */
  #marked(routes: RouteTable): RouteTable {
    this.#suspect.clear();
    this.#trusted.clear();
    const nodes = this.#suspectNodes;
    const behind = (n: string) => {
      if (nodes.size === 0) return false;
      const slash = n.indexOf("/");
      return nodes.has(slash < 0 ? n : n.slice(0, slash));
    };
    let out = routes;
    for (const name in routes) {
      const entry = routes[name];
      let marks = 0;
      for (const inst of entry.instances) if (inst.s === 1 || behind(inst.n)) marks++;
      if (marks === 0) continue;
      const instances = entry.instances.map((inst) =>
        inst.s === 1 || behind(inst.n) ? { i: inst.i, n: inst.n, s: 1 as const } : inst
      );
      for (const inst of instances) if (inst.s === 1) this.#suspect.add(inst.i);
      if (marks < instances.length) {
        this.#trusted.set(name, instances.filter((inst) => inst.s !== 1));
      }
      if (out === routes) out = { ...routes };
      out[name] = { ...entry, instances };
    }
    return out;
  }

  /** Keeps the node of each instance that just left the table, for a while (bounded). */
  #rememberDeparted(before: Map<string, string>): void {
    const now = this.#now();
    for (const [instance, node] of before) {
      if (!this.instanceNode.has(instance)) this.#departed.set(instance, { node, at: now });
    }
    for (const [instance, { at }] of this.#departed) {
      // Oldest first (insertion order): stop at the first one still young enough.
      if (now - at <= GONE_MEMORY_MS && this.#departed.size <= GONE_MEMORY_MAX) break;
      this.#departed.delete(instance);
    }
  }
}
