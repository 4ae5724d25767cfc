/**
 * The runtimes of the application as `GET /metrics` labels them by host: this one (`local`) and
 * its peers, host agents with the load they last reported.
 *
 * Pure: the tree and this process's resident memory in, figures out.
 *
 * @module
 */
import type { TreeSnapshot } from "../runtime/types.ts";
import type { HostMetrics } from "./prometheus.ts";

/**
 * This runtime and its peers, for `prometheusText`'s `hosts`.
 *
 * @param tree What `rt.tree()` returned.
 * @param rss This process's resident memory, bytes.
 * @returns `local` first, then each peer (linked or not).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hostMetrics } from "./_hosts.ts";
 * const [here, agent] = hostMetrics({
 *   relayed: 4, refused: 0,
 *   peers: [{ name: "node-b", state: "connected", since: 10, containers: ["api"], load: { replicas: 2, memoryBytes: 5e7 } }],
 * } as never, 8e7);
 * assert.deepEqual(here, { host: "local", up: true, memoryBytes: 8e7, relayed: 4, refused: 0 });
 * assert.deepEqual(agent, { host: "node-b", up: true, memoryBytes: 5e7, replicas: 2 });
 * ```
 */
export function hostMetrics(tree: TreeSnapshot, rss: number): HostMetrics[] {
  return [
    { host: "local", up: true, memoryBytes: rss, relayed: tree.relayed, refused: tree.refused },
    ...tree.peers.map((peer) => ({
      host: peer.name,
      up: peer.state === "connected",
      ...(peer.load ? { memoryBytes: peer.load.memoryBytes, replicas: peer.load.replicas } : {}),
    })),
  ];
}
