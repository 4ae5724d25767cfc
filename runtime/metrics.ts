/**
 * What `rt.metrics()` returns: one {@linkcode ContainerMetrics} per container of the tree, as the
 * management API serves it (`GET /v1/metrics`, and as Prometheus text at `GET /metrics`).
 *
 * @module
 */
import type { Mode } from "../config/topology.ts";

/**
 * One container's figures, summed over its replicas (and, for counters, over every incarnation
 * since the runtime started).
 *
 * @example Finding the containers that need a look
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ContainerMetrics } from "jsr:@kraken/kraken";
 *
 * // Call it with rt.metrics(): slow handlers, errors, or a queue building up.
 * function needsALook(metrics: readonly ContainerMetrics[]): string[] {
 *   return metrics
 *     .filter((m) => (m.handlerP99Ms ?? 0) > 250 || m.errors > 0 || m.queueDepth > 100)
 *     .map((m) => m.container);
 * }
 *
 * const api: ContainerMetrics = {
 *   container: "api", mode: "worker", instances: 2, messagesIn: 1200, messagesOut: 300,
 *   requests: 1200, errors: 3, restarts: 1, handlerP50Ms: 0.4, handlerP99Ms: 2.1,
 *   queueDepth: 0, memoryBytes: null, violations: 0,
 * };
 * assert.deepEqual(needsALook([api, { ...api, container: "cache", errors: 0 }]), ["api"]);
 * ```
 */
export interface ContainerMetrics {
  /** Container name. */
  container: string;
  /** Where it runs. */
  mode: Mode;
  /** Running instances. */
  instances: number;
  /** Requests + sends + publications delivered to its instances. */
  messagesIn: number;
  /** Requests + sends + publications its instances made. */
  messagesOut: number;
  /** Requests its handlers completed (ok or error). */
  requests: number;
  /** Handler errors (thrown, rejected, or a reply that could not be sent). */
  errors: number;
  /** Restarts across its replicas (from the supervision tree). */
  restarts: number;
  /** Median handler time over the recent window, ms (`null`: no handler has run yet). */
  handlerP50Ms: number | null;
  /** 99th percentile handler time over the recent window, ms. */
  handlerP99Ms: number | null;
  /** Handlers in flight + messages held for it while it restarts. */
  queueDepth: number;
  /**
   * Memory of its instances, summed over its replicas: the RSS of each process (process mode), the
   * isolate heap of each worker (V8 heap in use plus external memory; worker mode); `null` inline
   * (it shares the runtime's isolate) or where not measurable.
   */
  memoryBytes: number | null;
  /**
   * Envelopes its isolates sent that they had no right to (a forged sender, a reply to a request
   * they were never given, a routing table from below, a claim about another container): each was
   * dropped and logged. Anything above 0 means its code is broken or hostile.
   */
  violations: number;
  /**
   * The host it runs on: `local` for this runtime, the agent's name for a `remote` container
   * (whose figures the agent reports). Absent in figures made by hand.
   */
  host?: string;
  /**
   * Handler time per topic since the runtime started, as a cumulative histogram (what
   * `GET /metrics` serves as `kraken_handler_duration_seconds`). Absent in figures made by hand.
   */
  topics?: TopicMetrics[];
  /**
   * Entities active in its instances now, for a container made by `entities()` (a worker's or
   * process's count as of its last heartbeat); absent for any other container.
   */
  entities?: number;
}

/**
 * Handler time of one topic of a container, since the runtime started, over every replica and
 * incarnation. Runs are sampled (a fast handler is timed one run in up to 512): a timed run
 * counts for every run since the previous timed one, so `runs` is the runs (but the last few of
 * a very fast handler) and each bucket an unbiased estimate.
 *
 * @example Mean and share of slow runs
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TopicMetrics } from "jsr:@kraken/kraken";
 * const greet: TopicMetrics = {
 *   topic: "greet", kind: "handler", runs: 4, sumMs: 10, buckets: [0, 0, 0, 0, 0, 0, 0, 0, 3, 1],
 * };
 * assert.equal(greet.sumMs / greet.runs, 2.5);
 * assert.equal(greet.buckets.slice(9).reduce((a, b) => a + b, 0) / greet.runs, 0.25);
 * ```
 */
export interface TopicMetrics {
  /** The topic. Past 64 topics of a container, the rest count as `(other)`. */
  topic: string;
  /** `handler`: a request or send handler; `subscription`: a `ctx.subscribe` listener. */
  kind: "handler" | "subscription";
  /** Runs. */
  runs: number;
  /** Their total time, ms. */
  sumMs: number;
  /**
   * Runs per bucket (not cumulative). Bucket `i` holds runs of at most 2^(i+4) µs (16 µs,
   * 32 µs, … 33.6 s, twice the one before); the last, bucket 22, those longer.
   */
  buckets: number[];
}
