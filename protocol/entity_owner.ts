/**
 * Which replica of a container owns an entity: rendezvous (highest random weight) hashing of the
 * entity id over the container's live replicas. Each replica scores the id; the highest score
 * owns it. Removing a replica moves only the ids it owned, adding one takes about 1/N of the ids
 * from the others, and every node that sees the same replicas computes the same owner — the
 * sender's node routes by it, and the owning instance checks it again on arrival.
 *
 * A replica is scored by its replica key (`name#replica`, the instance id without its
 * incarnation), so a restarted replica owns what its previous incarnation owned.
 *
 * Pure: no I/O.
 *
 * @module
 */
import { hashKey } from "./balancer.ts";

/** The longest entity id, in UTF-16 code units (an id is also a file name in the file store). */
export const MAX_ENTITY_ID_LENGTH = 256;

/**
 * Why `id` cannot address an entity (not a string, empty, or too long), or `null` when it can.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { entityIdProblem } from "./entity_owner.ts";
 * assert.equal(entityIdProblem("room-42"), null);
 * assert.match(entityIdProblem(42) ?? "", /a string/);
 * assert.match(entityIdProblem("x".repeat(300)) ?? "", /at most 256/);
 * ```
 */
export function entityIdProblem(id: unknown): string | null {
  if (typeof id !== "string") {
    return `entity id must be a string, got ${id === null ? "null" : typeof id}`;
  }
  if (id.length === 0) return "entity id must be a non-empty string, got an empty one";
  if (id.length > MAX_ENTITY_ID_LENGTH) {
    return `entity id must be at most ${MAX_ENTITY_ID_LENGTH} characters, got one of ${id.length}`;
  }
  return null;
}

/**
 * The replica key of instance id `instance`: `room#1.3` → `room#1`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { replicaKey } from "./entity_owner.ts";
 * assert.equal(replicaKey("room#1.3"), "room#1");
 * ```
 */
export function replicaKey(instance: string): string {
  const dot = instance.lastIndexOf(".");
  const hash = instance.lastIndexOf("#");
  return dot > hash ? instance.slice(0, dot) : instance;
}

/** murmur3's 32-bit finalizer: spreads the bits of a combined hash evenly. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The index, among `instances`, of the one that owns entity `id` (rendezvous hashing over their
 * replica keys); -1 when there is none. Ties (equal scores) go to the smaller replica key, so the
 * answer does not depend on the list's order.
 *
 * @param id The entity id.
 * @param instances The container's live instances (route entries: `i` is the instance id).
 * @returns An index into `instances`, or -1 for an empty list.
 *
 * @example Scaling 3 → 2 moves only the ids the removed replica owned
 * ```ts
 * import assert from "node:assert/strict";
 * import { ownerIndex } from "./entity_owner.ts";
 * const three = [{ i: "room#0.1" }, { i: "room#1.1" }, { i: "room#2.1" }];
 * const two = three.slice(0, 2);
 * for (let n = 0; n < 100; n++) {
 *   const before = three[ownerIndex(`room-${n}`, three)].i;
 *   const after = two[ownerIndex(`room-${n}`, two)].i;
 *   if (before !== "room#2.1") assert.equal(after, before);
 * }
 * ```
 */
export function ownerIndex(id: string, instances: readonly { readonly i: string }[]): number {
  if (instances.length <= 1) return instances.length - 1;
  const h = hashKey(id);
  let best = -1;
  let bestScore = -1;
  let bestKey = "";
  for (let n = 0; n < instances.length; n++) {
    const key = replicaKey(instances[n].i);
    const score = mix(h ^ mix(hashKey(key)));
    if (score > bestScore || (score === bestScore && key < bestKey)) {
      best = n;
      bestScore = score;
      bestKey = key;
    }
  }
  return best;
}
