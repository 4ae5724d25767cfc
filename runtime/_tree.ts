/**
 * Remote containers in the live tree: each as its placement stands (on which agent, which epoch,
 * held or running) with the instances its agent routes now and what its agent last reported they
 * use; and, on a host agent, what its own instances use, for the roots that placed them.
 *
 * @module
 */
import type { DistributionSnapshot, InstanceUsage, RemoteContainer } from "../distribution/mod.ts";
import type { Topology } from "../config/topology.ts";
import type { ContainerSnapshot } from "./snapshots.ts";
import type { ScheduleSnapshot, TreeSnapshot } from "./types.ts";

/**
 * `rt.tree()`: the runtime's own containers, then the remote ones as placed, with what the hub
 * relayed and refused, the peers and the workers left spinning.
 */
export function treeSnapshot(
  topology: Topology,
  state: TreeSnapshot["supervisor"]["state"],
  parts: {
    own: ContainerSnapshot[];
    outside: DistributionSnapshot;
    hub: {
      readonly relayed: number;
      readonly refused: number;
      /** Peer nodes (`@name`) whose link is suspect. */
      readonly suspects?: ReadonlySet<string>;
    };
    leaked: readonly { container: string; instance: string; at: number }[];
    now: number;
    schedules: ScheduleSnapshot[];
  },
): TreeSnapshot {
  const s = topology.supervisor;
  return {
    name: topology.name,
    supervisor: { strategy: s.strategy, intensity: s.intensity, period: s.period, state },
    containers: [...parts.own, ...remoteSnapshots(parts.outside.remote)],
    relayed: parts.hub.relayed,
    refused: parts.hub.refused,
    peers: parts.hub.suspects?.size
      ? parts.outside.peers.map((p) =>
        parts.hub.suspects!.has(`@${p.name}`) && p.state === "connected"
          ? { ...p, suspect: true as const }
          : p
      )
      : parts.outside.peers,
    leaked: parts.leaked.map((l) => ({
      container: l.container,
      instance: l.instance,
      since: Math.round(parts.now - l.at),
    })),
    schedules: parts.schedules,
  };
}

/**
 * Remote containers as `rt.tree()` shows them: on their agent, with the instances it routes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { remoteSnapshots } from "./_tree.ts";
 * const [api] = remoteSnapshots([{
 *   name: "api", host: "b", epoch: 2, state: "running", since: 40, restarts: 1,
 *   spec: { replicas: 1 } as never,
 *   instances: [{ i: "api#0.3", n: "@b/p1" }],
 * }]);
 * assert.deepEqual([api.host, api.running, api.instances[0].incarnation], ["b", 1, 3]);
 * ```
 */
export function remoteSnapshots(remote: readonly RemoteContainer[]): ContainerSnapshot[] {
  return remote.map((p) => {
    const routed = p.instances;
    return {
      name: p.name,
      mode: "remote",
      host: p.host ?? "-",
      replicas: p.spec.replicas,
      running: p.state === "running" ? routed.length : 0,
      restarts: p.restarts,
      held: p.state === "held",
      placement: {
        state: p.state,
        epoch: p.epoch,
        ...(p.why ? { why: p.why } : {}),
        ...(p.replicasOn ? { replicasOn: p.replicasOn } : {}),
      },
      instances: routed.map((i) => ({
        id: i.i,
        replica: Number(i.i.split("#")[1]?.split(".")[0] ?? 0),
        // (A spread group's ids end in "@agent": the root tells the agents' ids apart so.)
        incarnation: Number(i.i.split("@")[0].split(".").pop() ?? 0),
        state: "running" as const,
        node: i.n,
        restarts: 0,
        uptime: p.state === "running" ? p.since : 0,
        ...figures(p.usage?.[i.i]),
      })),
    };
  });
}

/** An agent's figures of one instance, as the tree's optional fields (`-` where absent). */
function figures(
  usage: { memoryBytes: number | null; cpuPercent: number | null } | undefined,
): { memoryBytes?: number; cpuPercent?: number } {
  return {
    ...(usage?.memoryBytes != null ? { memoryBytes: usage.memoryBytes } : {}),
    ...(usage?.cpuPercent != null ? { cpuPercent: usage.cpuPercent } : {}),
  };
}

/**
 * What each running instance of `containers` (children included) uses, as a host agent reports
 * it to the roots that placed them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { instanceUsage } from "./_tree.ts";
 * const usage = instanceUsage([{
 *   name: "api", mode: "worker", host: "local", replicas: 1, running: 1, restarts: 0, held: false,
 *   instances: [{
 *     id: "api#0.1", replica: 0, incarnation: 1, state: "running", node: "w1", restarts: 0,
 *     uptime: 5, memoryBytes: 7_000_000,
 *   }],
 * }]);
 * assert.deepEqual(usage, [
 *   { container: "api", instance: "api#0.1", memoryBytes: 7_000_000, cpuPercent: null },
 * ]);
 * ```
 */
export function instanceUsage(containers: readonly ContainerSnapshot[]): InstanceUsage[] {
  return containers.flatMap((c) => [
    ...c.instances.filter((i) => i.state === "running").map((i) => ({
      container: c.name,
      instance: i.id,
      memoryBytes: i.memoryBytes ?? null,
      cpuPercent: i.cpuPercent ?? null,
    })),
    ...instanceUsage(c.children ?? []),
  ]);
}
