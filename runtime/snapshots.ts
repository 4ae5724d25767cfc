/**
 * What `rt.tree()` shows of one container and its instances: plain data, as the management API
 * (`GET /v1/tree`, `GET /v1/containers/:name`) and `kraken status --json` serve it.
 *
 * @module
 */
import type { Mode } from "../config/topology.ts";
import type { ExitReason } from "../protocol/envelope.ts";
import type { SlotState } from "../supervisor/state.ts";

export type { SlotState };

/**
 * One instance in a tree snapshot.
 *
 * @example The instances that are not running
 * ```ts
 * import assert from "node:assert/strict";
 * import type { InstanceSnapshot } from "jsr:@kraken/kraken";
 *
 * const down = (instances: readonly InstanceSnapshot[]) =>
 *   instances.filter((i) => i.state !== "running").map((i) => `${i.id}: ${i.state}`);
 *
 * const instance: InstanceSnapshot = {
 *   id: "api#0.2", replica: 0, incarnation: 2, state: "running", node: "w1", restarts: 1, uptime: 900,
 * };
 * assert.deepEqual(down([instance, { ...instance, id: "api#1.1", state: "restarting" }]), [
 *   "api#1.1: restarting",
 * ]);
 * ```
 */
export interface InstanceSnapshot {
  /** Instance id, `name#replica.incarnation`. */
  id: string;
  /** Replica index. */
  replica: number;
  /** Incarnation (1 for the first start). */
  incarnation: number;
  /** `starting`, `running`, `restarting`, `stopping`, `stopped`. */
  state: SlotState;
  /** Node it lives in: `host`, `w<n>`, `p<n>`, `p<n>/w<m>`, … */
  node: string;
  /** Restarts of this replica so far. */
  restarts: number;
  /** Milliseconds since it last started (0 when not running). */
  uptime: number;
  /** The OS process id of a `process` instance while its process lives. */
  pid?: number;
  /**
   * Memory of a running worker or process instance, bytes: a worker's isolate heap (V8 heap in
   * use plus external memory such as ArrayBuffers; the worker's own, not the process it shares),
   * a process's resident set (RSS, its nested workers included). Absent inline (it shares the
   * runtime's isolate) and until its first heartbeat.
   */
  memoryBytes?: number;
  /**
   * CPU share of a running worker or process instance over the last second or so, percent of one
   * core: a worker's own thread, a process's every thread (above 100 when it uses several cores).
   * Absent inline and until two heartbeats a second apart.
   */
  cpuPercent?: number;
  /**
   * Entities active in it, for a container made by `entities()` (as of its last heartbeat, for a
   * worker or process).
   */
  entities?: number;
  /** Why it last ended, if it has. */
  lastExit?: ExitReason;
}

/**
 * One container in a tree snapshot (`rt.tree().containers`), with the children it supervises.
 *
 * @example Finding a container anywhere in the tree
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ContainerSnapshot } from "jsr:@kraken/kraken";
 *
 * function find(list: readonly ContainerSnapshot[], name: string): ContainerSnapshot | undefined {
 *   for (const c of list) {
 *     const found = c.name === name ? c : find(c.children ?? [], name);
 *     if (found) return found;
 *   }
 * }
 *
 * const leaf: ContainerSnapshot = {
 *   name: "shard", mode: "inline", host: "local", replicas: 1, running: 1, restarts: 0,
 *   held: false, instances: [],
 * };
 * const tree = [{ ...leaf, name: "db", children: [leaf] }];
 * assert.equal(find(tree, "shard"), leaf);
 * ```
 */
export interface ContainerSnapshot {
  /** Container name. */
  name: string;
  /** Where it runs. */
  mode: Mode;
  /** The host it runs on (`local` for this runtime). */
  host: string;
  /** Replicas wanted. */
  replicas: number;
  /** Running instances. */
  running: number;
  /** Restarts across its replicas. */
  restarts: number;
  /** Kept stopped on purpose (an `on_error: stop` verdict, or it ended normally for good). */
  held: boolean;
  /** Its instances. */
  instances: InstanceSnapshot[];
  /** The supervisor it is for its children, when it has any. */
  supervisor?: { strategy: string; intensity: number; period: number };
  /** The children it supervises (live, from wherever they run). */
  children?: ContainerSnapshot[];
  /**
   * For a `mode: remote` container: its placement — `placing`, `running`, `held` (its agent is
   * lost; about to move), `waiting` (for an agent), `failed` (refused: `why`) — and epoch.
   */
  placement?: {
    state: string;
    epoch: number;
    why?: string;
    /** `placement: spread`: its replicas per agent (a lost agent's, held, included). */
    replicasOn?: Readonly<Record<string, number>>;
  };
  /** The address every replica serves (`serve:`; port 0 resolved once the runtime picked it). */
  serving?: { hostname: string; port: number; protocol: "http" | "tcp" };
}
