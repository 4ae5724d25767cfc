/**
 * What one request of the management API reads of the runtime's tree: a single snapshot, taken
 * when the request needs it and indexed by name, answers the state check, every lookup and the
 * list of known names (the routes used to call `rt.tree()` for each of these, up to four times a
 * request).
 *
 * The runtime has no read of one container or of its own state without a tree; when it gains
 * them, this file is the one place to change.
 *
 * @module
 */
import type { Runtime, TreeSnapshot } from "../runtime/runtime.ts";
import type { ContainerSnapshot } from "../runtime/snapshots.ts";
import { HttpError } from "./_errors.ts";

/**
 * One snapshot of a runtime's tree, indexed by container name (nested children included).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TreeIndex } from "./_lookup.ts";
 * const leaf = {
 *   name: "shard", mode: "inline" as const, host: "local", replicas: 1, running: 1, restarts: 0,
 *   held: false, instances: [],
 * };
 * const index = new TreeIndex({
 *   name: "shop",
 *   supervisor: { strategy: "one_for_one", intensity: 5, period: 10_000, state: "running" },
 *   containers: [{ ...leaf, name: "db", children: [leaf] }],
 *   relayed: 0, refused: 0, peers: [], leaked: [], schedules: [],
 * });
 * assert.equal(index.find("shard"), leaf);
 * assert.deepEqual(index.names, ["db", "shard"]);
 * assert.throws(() => index.mustFind("api"), /no container named "api" \(known: db, shard\)/);
 * ```
 */
export class TreeIndex {
  /** The root supervisor's state when the snapshot was taken. */
  readonly state: TreeSnapshot["supervisor"]["state"];
  readonly #byName = new Map<string, ContainerSnapshot>();

  /** @param tree A snapshot, as `rt.tree()` returns it. */
  constructor(tree: TreeSnapshot) {
    this.state = tree.supervisor.state;
    const add = (list: readonly ContainerSnapshot[]) => {
      for (const container of list) {
        this.#byName.set(container.name, container);
        add(container.children ?? []);
      }
    };
    add(tree.containers);
  }

  /** A fresh snapshot of `rt`'s tree, indexed. */
  static of(rt: Runtime): TreeIndex {
    return new TreeIndex(rt.tree());
  }

  /** Every container's name, parents before their children, in start order. */
  get names(): string[] {
    return [...this.#byName.keys()];
  }

  /** Container `name`, wherever it is in the tree. */
  find(name: string): ContainerSnapshot | undefined {
    return this.#byName.get(name);
  }

  /**
   * Container `name`.
   * @throws {HttpError} 404, naming the containers there are.
   */
  mustFind(name: string): ContainerSnapshot {
    const found = this.#byName.get(name);
    if (!found) throw new HttpError(404, "NotFound", this.unknown(name));
    return found;
  }

  /** `no container named "x" (known: …)`. */
  unknown(name: string): string {
    return `no container named "${name}" (known: ${this.names.join(", ") || "none"})`;
  }

  /**
   * Refuses to act unless the runtime was running.
   * @throws {HttpError} 503 while it shuts down, or once it has stopped.
   */
  assertRunning(): void {
    if (this.state !== "running") {
      throw new HttpError(503, "Unavailable", `the runtime is ${this.state.replace("_", " ")}`);
    }
  }
}
