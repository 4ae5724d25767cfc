/**
 * Where a `placement: spread` container's replicas go: a pure decision, tested without agents.
 *
 * @module
 */

/** What {@linkcode spreadReplicas} decides from. */
export interface SpreadInput {
  /** How many replicas the container should have. */
  replicas: number;
  /** The agents linked now (those it may use), by name. */
  agents: readonly string[];
  /** Its replicas per agent now (an agent absent or lost is not counted by the caller). */
  current: Readonly<Record<string, number>>;
  /** The agents it may use (`hosts:`); all when absent. */
  hosts?: readonly string[];
  /** At most this many on one agent (`max_per_host:`). */
  maxPerHost?: number;
}

/**
 * The replicas per agent: what runs stays where it is (never more than `maxPerHost`, never on
 * an agent it may not use); a missing replica goes to the usable agent with the fewest (ties by
 * name); a surplus is removed from the agent with the most (ties: the last by name). With no
 * room left the rest stays unplaced (the count is short of `replicas`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { spreadReplicas } from "./_spread.ts";
 * assert.deepEqual(spreadReplicas({ replicas: 3, agents: ["a", "b"], current: {} }), { a: 2, b: 1 });
 * assert.deepEqual(
 *   spreadReplicas({ replicas: 3, agents: ["a", "b", "c"], current: { a: 3 }, maxPerHost: 2 }),
 *   { a: 2, b: 1 },
 * );
 * ```
 */
export function spreadReplicas(input: SpreadInput): Record<string, number> {
  const usable = [...input.agents]
    .filter((a) => !input.hosts || input.hosts.includes(a))
    .sort();
  const cap = input.maxPerHost ?? Infinity;
  const counts = new Map<string, number>();
  for (const a of usable) counts.set(a, Math.min(cap, input.current[a] ?? 0));
  let total = [...counts.values()].reduce((s, n) => s + n, 0);
  while (total > input.replicas) {
    const most = pick(usable, counts, (n) => n > 0, (a, b) => b - a, true);
    counts.set(most!, counts.get(most!)! - 1);
    total--;
  }
  while (total < input.replicas) {
    const fewest = pick(usable, counts, (n) => n < cap, (a, b) => a - b, false);
    if (fewest === undefined) break;
    counts.set(fewest, counts.get(fewest)! + 1);
    total++;
  }
  const out: Record<string, number> = {};
  for (const [a, n] of counts) if (n > 0) out[a] = n;
  return out;
}

/**
 * One replica's move toward even, among the replicas running now: from the agent with the most
 * to the usable one with the fewest (under `maxPerHost`), when they differ by two or more;
 * `undefined` when already even.
 * Rebalancing applies it one step at a time, so only one replica is ever moving.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rebalanceStep } from "./_spread.ts";
 * assert.deepEqual(rebalanceStep({ replicas: 4, agents: ["a", "b"], current: { a: 4 } }), { from: "a", to: "b" });
 * assert.equal(rebalanceStep({ replicas: 4, agents: ["a", "b"], current: { a: 2, b: 2 } }), undefined);
 * ```
 */
export function rebalanceStep(input: SpreadInput): { from: string; to: string } | undefined {
  // The replicas as they run now: a missing one is reconciling's to place, not a reason to move.
  const usable = [...input.agents].filter((a) => !input.hosts || input.hosts.includes(a)).sort();
  const counts = new Map(usable.map((a) => [a, input.current[a] ?? 0]));
  const cap = input.maxPerHost ?? Infinity;
  const from = pick(usable, counts, (n) => n > 0, (a, b) => b - a, true);
  const to = pick(usable, counts, (n) => n < cap, (a, b) => a - b, false);
  if (from === undefined || to === undefined) return undefined;
  return counts.get(from)! - counts.get(to)! >= 2 ? { from, to } : undefined;
}

/** The agent first by `order` of its count among those `allowed`; ties by name (or the last). */
function pick(
  agents: readonly string[],
  counts: ReadonlyMap<string, number>,
  allowed: (n: number) => boolean,
  order: (a: number, b: number) => number,
  lastByName: boolean,
): string | undefined {
  let best: string | undefined;
  for (const a of lastByName ? [...agents].reverse() : agents) {
    const n = counts.get(a)!;
    if (!allowed(n)) continue;
    if (best === undefined || order(n, counts.get(best)!) < 0) best = a;
  }
  return best;
}
