/**
 * A node's routing table: the application's (from the hub) overlaid with that of the subtree the
 * node supervises itself, the node each instance lives in, where instances that just left the
 * table lived (a reply an instance sent just before it went may arrive after the table changed),
 * and the choice of an instance for each message by the container's balancing.
 *
 * @module
 */
import type { RouteTable } from "../protocol/envelope.ts";
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

  /** The node instance `id` lives in (or lived in until a moment ago). */
  nodeOf(id: string): string | undefined {
    return this.instanceNode.get(id) ?? this.#departed.get(id)?.node;
  }

  /**
   * The instance of container `name` to address (`prefer` while it is live), by the container's
   * balancing; {@linkcode HOLD} when the container is restarting (hold the message); `undefined`
   * when none is live but the sender may wait for one. With `entity`, the live instance that owns
   * that entity id (rendezvous hashing, whatever the balancing, `prefer` ignored: a retry goes to
   * the owner of the moment).
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
    if (prefer !== undefined && instances.some((inst) => inst.i === prefer)) return prefer;
    let state = this.#turns.get(name);
    if (!state) this.#turns.set(name, state = { turn: 0, random: 0 });
    state.key = key;
    state.random = Math.random();
    return instances[pickReplica(entry.balance, instances.length, state)].i;
  }

  #apply(): void {
    const routes = this.#local ? { ...this.#global, ...this.#local } : this.#global;
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
