/**
 * When the hub hands its routing table out. Every change updates the hub's own table within the
 * turn (what this isolate sends goes by it at once). The table then goes to every node below and
 * to the peer runtimes: within the turn when the runtime itself changed something (a container
 * started, a peer linked, a placement moved) — with more than {@linkcode OWN_PACE_FROM} nodes, at
 * most once per 1 ms per node, since each broadcast wakes every node — but at most once per
 * interval when only children's reports changed it — a hostile child may report in a flood, and
 * each broadcast goes to every node.
 *
 * @module
 */

/** Least time between two broadcasts that only children's reports asked for, ms. */
export const REPORT_BROADCAST_MS = 50;

/** What the pace drives. */
export interface RoutePaceHooks {
  /** Recomputes the hub's own table. */
  update(): void;
  /** Hands the hub's table to the nodes below and the peer runtimes. */
  broadcast(): void;
  /**
   * Least time between two broadcasts of the runtime's own changes, ms (none when absent or 0):
   * every broadcast wakes every node, so with hundreds of them starting, one broadcast per start
   * made each start cost a wake-up of every node.
   */
  ownInterval?(): number;
}

/** Nodes beyond which the runtime's own changes are paced too: by this many ms per node. */
export const OWN_PACE_FROM = 32;

/**
 * The least time between broadcasts of the runtime's own changes for `nodes` nodes: none up to
 * {@linkcode OWN_PACE_FROM}, then 1 ms per node (a wake-up costs a node ~0.25 ms of CPU, so
 * broadcasting costs at most about a quarter of a core).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ownPace } from "./_route_pace.ts";
 * assert.equal(ownPace(10), 0);
 * assert.equal(ownPace(400), 400);
 * ```
 */
export function ownPace(nodes: number): number {
  return nodes > OWN_PACE_FROM ? nodes : 0;
}

/**
 * Coalesces route changes: one update per turn, one broadcast per turn for the runtime's own
 * changes, at most one per interval for changes reported by children.
 *
 * @example A flood of reports makes one broadcast now and one when the interval is over
 * ```ts
 * import assert from "node:assert/strict";
 * import { RoutePace } from "./_route_pace.ts";
 * let updates = 0, broadcasts = 0;
 * const pace = new RoutePace({ update: () => updates++, broadcast: () => broadcasts++ }, 20);
 * for (let turn = 0; turn < 5; turn++) {
 *   pace.changed(true);
 *   await Promise.resolve(); // the next turn
 * }
 * assert.deepEqual([updates, broadcasts], [5, 1]);
 * await new Promise((r) => setTimeout(r, 40));
 * assert.equal(broadcasts, 2);
 * pace.changed(); // the runtime's own change: at once
 * await Promise.resolve();
 * assert.equal(broadcasts, 3);
 * pace.close();
 * ```
 */
export class RoutePace {
  readonly #hooks: RoutePaceHooks;
  readonly #interval: number;
  readonly #now: () => number;
  #queued = false;
  #own = false;
  #last = -Infinity;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  /**
   * @param hooks What to update and broadcast.
   * @param interval Least time between broadcasts for reported changes, ms.
   * @param now The clock, ms.
   */
  constructor(
    hooks: RoutePaceHooks,
    interval: number = REPORT_BROADCAST_MS,
    now: () => number = () => performance.now(),
  ) {
    this.#hooks = hooks;
    this.#interval = interval;
    this.#now = now;
  }

  /** The routes changed; `reported`: only by a child's report. */
  changed(reported = false): void {
    if (this.#closed) return;
    if (!reported) this.#own = true;
    if (this.#queued) return;
    this.#queued = true;
    queueMicrotask(() => this.#turn());
  }

  /** Stops: nothing more is updated or broadcast. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #turn(): void {
    this.#queued = false;
    if (this.#closed) return;
    this.#hooks.update();
    const since = this.#now() - this.#last;
    const gap = this.#own ? this.#hooks.ownInterval?.() ?? 0 : this.#interval;
    if (since >= gap) return this.#broadcast();
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      if (!this.#closed) this.#broadcast();
    }, gap - since);
  }

  #broadcast(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#own = false;
    this.#last = this.#now();
    this.#hooks.broadcast();
  }
}
