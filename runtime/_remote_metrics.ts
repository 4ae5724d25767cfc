/**
 * The figures of remote containers, as their host agents report them (with their keepalive
 * answers), so `rt.metrics()` and `GET /metrics` show every container of the application, each
 * labelled with the host it runs on.
 *
 * An agent is another runtime: what it reports is checked (`readFigureSet`) and kept only for the
 * containers placed on it from here. A container that moved shows the figures of its new agent
 * only (a new series in Prometheus: its `host` label changed).
 *
 * @module
 */
import {
  addFigures,
  emptyFigures,
  type Figures,
  readFigureSet,
  type TreeEntry,
} from "./_metrics.ts";

/** What the tree says of a remote container (`DistributionSnapshot.remote`). */
export interface RemoteEntry {
  /** Container name. */
  name: string;
  /** The agent it is placed on, if any. */
  host?: string | null;
  /** Its placement state (`running`, `held`, …). */
  state: string;
  /** Restarts its agent reported. */
  restarts: number;
  /** The instances its agent routes. */
  instances: readonly unknown[];
}

/**
 * The last figures each agent reported, by container.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RemoteFigures } from "./_remote_metrics.ts";
 * const remote = new RemoteFigures();
 * const m = { api: { i: 3, o: 0, r: 3, e: 0, f: 0, q: 0, h: [], m: null } };
 * assert.equal(remote.report("node-b", m, (name) => name === "api"), true);
 * const figures = new Map();
 * const [api] = remote.entries([{ name: "api", host: "node-b", state: "running", restarts: 0, instances: [1] }], figures);
 * assert.deepEqual([api.host, api.mode, figures.get("api").r], ["node-b", "remote", 3]);
 * ```
 */
export class RemoteFigures {
  readonly #byName = new Map<string, { host: string; figures: Figures }>();

  /**
   * Agent `peer` reported `m` (a figure set). Kept for the containers `placedOn` allows.
   * @returns `false` when `m` is malformed (nothing is kept).
   */
  report(peer: string, m: unknown, placedOn: (name: string) => boolean): boolean {
    const set = readFigureSet({ m });
    if (!set) return false;
    for (const name in set) {
      if (placedOn(name)) this.#byName.set(name, { host: peer, figures: set[name] });
    }
    return true;
  }

  /**
   * The tree entries of `remote`, whose figures (from the agent each runs on now) are added into
   * `figures`.
   */
  entries(remote: readonly RemoteEntry[], figures: Map<string, Figures>): TreeEntry[] {
    return remote.map((r) => {
      const reported = this.#byName.get(r.name);
      if (reported && reported.host === r.host) {
        figures.set(r.name, addFigures(figures.get(r.name) ?? emptyFigures(), reported.figures));
      }
      return {
        name: r.name,
        mode: "remote",
        running: r.state === "running" ? r.instances.length : 0,
        restarts: r.restarts,
        host: r.host ?? "-",
      };
    });
  }
}
