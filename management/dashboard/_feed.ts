/**
 * The dashboard's live feed: once a second (and soon after every start, exit or restart) a
 * snapshot of the tree and the metrics, with the newest per-second sample of each container.
 * One timer for all open pages; it starts with the first page and stops with the app.
 *
 * @module
 */
import type { Runtime } from "../../runtime/runtime.ts";
import type { ContainerMetrics } from "../../runtime/metrics.ts";
import type { TreeSnapshot } from "../../runtime/types.ts";
import { type Sample, SampleRings } from "./_samples.ts";

/**
 * What each page is sent.
 *
 * @example
 * ```ts
 * import type { Snapshot } from "./_feed.ts";
 * const empty = (s: Snapshot) => s.tree.containers.length === 0;
 * ```
 */
export interface Snapshot {
  /** When it was taken, ms since the epoch. */
  time: number;
  /** `rt.tree()`. */
  tree: TreeSnapshot;
  /** `rt.metrics()`. */
  metrics: ContainerMetrics[];
  /** The newest sample of each container (absent before its second sample). */
  latest: Record<string, Sample>;
}

/** Events after which a page should not wait for the next tick to see the tree change. */
const CHANGES = ["start", "exit", "restart", "apply"] as const;

/**
 * The shared ticker behind `GET /v1/dashboard/stream`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Runtime } from "../../mod.ts";
 * import { DashboardFeed, type Snapshot } from "./_feed.ts";
 * const rt = await Runtime.start({ containers: {} }, { logLevel: "silent" });
 * const closing = new AbortController();
 * const feed = new DashboardFeed(rt, closing.signal);
 * const seen: Snapshot[] = [];
 * const off = feed.listen((snapshot) => seen.push(snapshot)); // the first one at once
 * off();
 * assert.deepEqual(seen[0].metrics, []);
 * closing.abort();
 * await rt.shutdown();
 * ```
 */
export class DashboardFeed {
  readonly #rt: Runtime;
  readonly #signal: AbortSignal;
  readonly #rings: SampleRings;
  readonly #listeners = new Set<(snapshot: Snapshot) => void>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #soon: ReturnType<typeof setTimeout> | undefined;
  #offs: (() => void)[] = [];
  #latest: Record<string, Sample> = {};
  readonly #tick: number;

  /**
   * @param rt The runtime to watch.
   * @param signal Stops the timer (the app is closing).
   * @param options `samples` kept per container (default 300), `tick`: ms between snapshots
   * (default 1000; the samples are per tick).
   */
  constructor(rt: Runtime, signal: AbortSignal, options: { samples?: number; tick?: number } = {}) {
    this.#rt = rt;
    this.#signal = signal;
    this.#rings = new SampleRings(options.samples ?? 300);
    this.#tick = options.tick ?? 1000;
  }

  /**
   * Something changed that the runtime announces by no event (a scale began: its new instances
   * are in the tree as `starting` at once): every page gets a snapshot within 50 ms.
   */
  changed(): void {
    this.#publishSoon();
  }

  /** Every container's samples so far, oldest first (the page's sparklines start from these). */
  history(): Record<string, Sample[]> {
    return this.#rings.history();
  }

  /**
   * Calls `listener` with a snapshot now, then every second and after each change.
   * @returns What stops it.
   */
  listen(listener: (snapshot: Snapshot) => void): () => void {
    this.#start();
    this.#listeners.add(listener);
    listener(this.#snapshot());
    return () => this.#listeners.delete(listener);
  }

  #start(): void {
    if (this.#timer !== undefined || this.#signal.aborted) return;
    this.#timer = setInterval(() => {
      this.#latest = this.#rings.record(this.#rt.metrics(), Date.now());
      this.#publish();
    }, this.#tick);
    this.#rings.record(this.#rt.metrics(), Date.now());
    this.#offs = CHANGES.map((type) => this.#rt.on(type, () => this.#publishSoon()));
    this.#signal.addEventListener("abort", () => this.#stop(), { once: true });
  }

  #stop(): void {
    clearInterval(this.#timer);
    clearTimeout(this.#soon);
    for (const off of this.#offs) off();
    this.#offs = [];
    this.#listeners.clear();
  }

  // Several instances start together when a container scales: one snapshot shows them all.
  #publishSoon(): void {
    // Nobody has opened the feed yet (no timer runs): nobody to tell.
    if (this.#soon !== undefined || this.#timer === undefined || this.#signal.aborted) return;
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      this.#publish();
    }, 50);
  }

  #publish(): void {
    if (this.#listeners.size === 0) return;
    const snapshot = this.#snapshot();
    for (const listener of this.#listeners) listener(snapshot);
  }

  #snapshot(): Snapshot {
    return {
      time: Date.now(),
      tree: this.#rt.tree(),
      metrics: this.#rt.metrics(),
      latest: this.#latest,
    };
  }
}
