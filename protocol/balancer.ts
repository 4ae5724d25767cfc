/**
 * Choosing a replica of a routing-table entry by its `balance`: `round_robin`, `random` or
 * `key_hash`. Pure: counters and randomness are passed in, so the choice is testable. The hub's
 * node and the NATS bridge (serving requests from other runtimes) choose by the same rule.
 *
 * @module
 */
import type { RouteTable } from "./envelope.ts";

/** How a routing-table entry spreads requests over its instances. */
type BalanceStrategy = RouteTable[string]["balance"];

/**
 * Picks the index of the replica to use among `count`.
 *
 * `key_hash` sends equal keys to the same replica while the replica count is unchanged; without a
 * key it falls back to round robin.
 *
 * @param strategy The container's strategy.
 * @param count How many live replicas there are (> 0).
 * @param state `turn` (incremented by round robin), `key` and `random` (in [0, 1)).
 * @returns An index in `[0, count)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pickReplica } from "./balancer.ts";
 * const state = { turn: 0, random: 0.5 };
 * assert.equal(pickReplica("round_robin", 3, state), 0);
 * assert.equal(pickReplica("round_robin", 3, state), 1);
 * const keyed = { ...state, key: "ada" };
 * assert.equal(pickReplica("key_hash", 3, keyed), pickReplica("key_hash", 3, keyed));
 * ```
 */
export function pickReplica(
  strategy: BalanceStrategy,
  count: number,
  state: { turn: number; key?: string; random: number },
): number {
  if (count <= 1) return 0;
  switch (strategy) {
    case "random":
      return Math.floor(state.random * count);
    case "key_hash":
      if (state.key !== undefined) return hashKey(state.key) % count;
      return state.turn++ % count;
    case "round_robin":
      return state.turn++ % count;
    default: {
      const never: never = strategy;
      throw new TypeError(`unknown balance strategy ${String(never)}`);
    }
  }
}

/**
 * FNV-1a, 32 bit: stable across isolates and runs, unlike any built-in hash.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hashKey } from "./balancer.ts";
 * assert.equal(hashKey(""), 0x811c9dc5);
 * ```
 */
export function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
