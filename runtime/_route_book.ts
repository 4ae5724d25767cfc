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
import { type Choice, HOLD } from "./_failover.ts";

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

  /** Replaces the application's table. */
  setGlobal(routes: RouteTable): void {
    this.#global = routes;
    this.#apply();
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
   * when none is live but the sender may wait for one.
   * @throws {UnavailableError} When there is no such container, or no live instance to wait for.
   */
  choose(name: string, key: string | undefined, mayWait: boolean, prefer?: string): Choice {
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
    // An instance id keeps the first node it is listed with — live instances before draining
    // ones — so no later entry (another source's, or a draining copy) re-points its traffic.
    for (const name in routes) {
      for (const inst of routes[name].instances) this.#map(inst.i, inst.n);
    }
    for (const name in routes) {
      for (const inst of routes[name].x ?? []) this.#map(inst.i, inst.n);
    }
    this.#rememberDeparted(before);
  }

  #map(instance: string, node: string): void {
    if (!this.instanceNode.has(instance)) this.instanceNode.set(instance, node);
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
