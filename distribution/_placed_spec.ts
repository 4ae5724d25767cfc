/**
 * What a root tells an agent it places a container on, and when a lost agent's placements move:
 * shared by whole placements (`_placement.ts`) and spread groups (`_spread_placement.ts`).
 *
 * @module
 */
import type { ContainerSpec } from "../config/topology.ts";

/** Margin past an agent's lease before moving its containers, ms. */
const LEASE_MARGIN = 100;

/**
 * How long after now a lost agent's containers move: once the longer of our keepalive and the
 * lease the agent announced has run out since it was last heard, plus a margin — by then the
 * agent has stopped them itself (it fences on the same silence), so there is never a second copy.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { moveDelay } from "./_placed_spec.ts";
 * assert.equal(moveDelay({ lastSeen: 1_000, lease: 500, agentLease: 0, now: 1_200 }), 400);
 * assert.equal(moveDelay({ lastSeen: 1_000, lease: 500, agentLease: 2_000, now: 1_200 }), 1_900);
 * assert.equal(moveDelay({ lastSeen: 0, lease: 500, agentLease: 0, now: 9_000 }), 0);
 * ```
 */
export function moveDelay(
  at: { lastSeen: number; lease: number; agentLease: number; now: number },
): number {
  return Math.max(0, at.lastSeen + Math.max(at.lease, at.agentLease) + LEASE_MARGIN - at.now);
}

/**
 * What an agent gets: the container as its own topology would have it (durations in ms).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateContainer } from "../config/topology.ts";
 * import { placedSpec } from "./_placed_spec.ts";
 * const hosts = { a: { address: "tcp://a:1" } };
 * const spec = validateContainer("x", { module: "./x.ts", mode: "remote", replicas: 2 }, {
 *   baseUrl: "file:///app/",
 *   hosts,
 * });
 * assert.deepEqual([placedSpec(spec).mode, placedSpec(spec).replicas], ["process", 2]);
 * ```
 */
export function placedSpec(spec: ContainerSpec): Record<string, unknown> {
  return {
    module: spec.module,
    mode: spec.runsAs ?? "process",
    replicas: spec.replicas,
    balance: spec.balance,
    restart: spec.restart,
    shutdown: spec.shutdown,
    keepalive: spec.keepalive,
    permissions: spec.permissions,
    unstable: spec.unstable,
    config: spec.config,
    buffer: spec.buffer,
    supervisor: spec.supervisor,
    on_error: spec.onError.map((r) => ({
      match: [...r.match],
      action: r.log ? ["log", r.action] : r.action,
    })),
    // Every replica on the agent listens there too (its own port 0 pick, when 0).
    ...(spec.serve ? { serve: { ...spec.serve } } : {}),
    // The agent measures and restarts it: the limit travels with the spec.
    ...(spec.maxMemory !== undefined ? { max_memory: spec.maxMemory } : {}),
  };
}
