/**
 * Per-second samples of each container's figures for the dashboard's sparklines: requests per
 * second and errors per second (differences of the runtime's counters), handler p50/p99, in a
 * bounded ring per container. Pure: the caller passes the metrics and the clock.
 *
 * @module
 */
import type { ContainerMetrics } from "../../runtime/metrics.ts";

/**
 * One second of one container.
 *
 * @example
 * ```ts
 * import type { Sample } from "./_samples.ts";
 * const s: Sample = { t: 1_700_000_000_000, rps: 12, errors: 0, p50: 0.4, p99: 2.1 };
 * ```
 */
export interface Sample {
  /** When it was taken, ms since the epoch. */
  t: number;
  /** Requests completed per second since the previous sample. */
  rps: number;
  /** Handler errors per second since the previous sample. */
  errors: number;
  /** Median handler time over the runtime's recent window, ms. */
  p50: number | null;
  /** 99th percentile handler time, ms. */
  p99: number | null;
}

/**
 * The rings of samples, one per container (default 300: five minutes at one a second).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SampleRings } from "./_samples.ts";
 * import type { ContainerMetrics } from "../../runtime/metrics.ts";
 * const rings = new SampleRings(2);
 * const m = (requests: number): ContainerMetrics => ({
 *   container: "api", mode: "inline", instances: 1, messagesIn: requests, messagesOut: 0,
 *   requests, errors: 0, restarts: 0, handlerP50Ms: 1, handlerP99Ms: 3, queueDepth: 0,
 *   memoryBytes: null, violations: 0,
 * });
 * rings.record([m(0)], 0);
 * assert.equal(rings.record([m(10)], 1000).api.rps, 10);
 * rings.record([m(30)], 2000);
 * assert.deepEqual(rings.history().api.map((s) => s.rps), [10, 20]); // two kept
 * ```
 */
export class SampleRings {
  readonly #size: number;
  readonly #rings = new Map<string, Sample[]>();
  readonly #last = new Map<string, { t: number; requests: number; errors: number }>();

  /** @param size Samples kept per container. */
  constructor(size = 300) {
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`size must be a whole number >= 1, got ${size}`);
    }
    this.#size = size;
  }

  /** Adds one sample per container; returns the new ones by container. */
  record(metrics: readonly ContainerMetrics[], now: number): Record<string, Sample> {
    const latest: Record<string, Sample> = {};
    const seen = new Set<string>();
    for (const m of metrics) {
      seen.add(m.container);
      const last = this.#last.get(m.container);
      this.#last.set(m.container, { t: now, requests: m.requests, errors: m.errors });
      if (!last || now <= last.t) continue;
      const seconds = (now - last.t) / 1000;
      // A container replaced by apply starts its counters again: never a negative rate.
      const sample: Sample = {
        t: now,
        rps: round(Math.max(0, m.requests - last.requests) / seconds),
        errors: round(Math.max(0, m.errors - last.errors) / seconds),
        p50: m.handlerP50Ms,
        p99: m.handlerP99Ms,
      };
      const ring = this.#rings.get(m.container) ?? [];
      ring.push(sample);
      if (ring.length > this.#size) ring.splice(0, ring.length - this.#size);
      this.#rings.set(m.container, ring);
      latest[m.container] = sample;
    }
    // Containers gone from the topology take their history with them.
    for (const name of [...this.#last.keys()]) {
      if (!seen.has(name)) {
        this.#last.delete(name);
        this.#rings.delete(name);
      }
    }
    return latest;
  }

  /** Every container's samples, oldest first. */
  history(): Record<string, Sample[]> {
    return Object.fromEntries([...this.#rings].map(([name, ring]) => [name, [...ring]]));
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
