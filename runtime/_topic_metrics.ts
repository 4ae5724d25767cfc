/**
 * Handler time per topic, as a cumulative histogram Prometheus can take as it is: what each
 * instance samples per topic ({@linkcode TopicSampler}), the plain figures that travel with the
 * heartbeat ({@linkcode TopicFigures}), checking them when they come from an isolate, adding them
 * up, and the public shape (`TopicMetrics`).
 *
 * Runs are sampled, as in `_metrics.ts` (reading the clock costs as much as a few sends): a timed
 * run counts for every run since the previous timed one of the same topic, so the counts add up
 * to the runs (all but the last few hundred of a very fast handler) and each bucket is an
 * unbiased estimate of the runs that fell in it. Counts only grow, as a Prometheus histogram's do.
 *
 * Pure: no I/O; the clock is read by the caller.
 *
 * @module
 */
import type { TopicMetrics } from "./metrics.ts";

/**
 * Upper bounds of the histogram's buckets, ms: 2^k µs for k = 4 … 25 (16 µs … 33.6 s), twice the
 * one before; one more bucket holds what is longer. Powers of two, so a bucket is one `Math.log2`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HANDLER_BUCKETS_MS } from "./_topic_metrics.ts";
 * assert.equal(HANDLER_BUCKETS_MS[0], 0.016);
 * assert.equal(HANDLER_BUCKETS_MS.at(-1), 33554.432);
 * ```
 */
export const HANDLER_BUCKETS_MS: readonly number[] = Object.freeze(
  Array.from({ length: 22 }, (_, i) => 2 ** (i + 4) / 1000),
);
/** Buckets, the one beyond the last bound included. */
const SLOTS = HANDLER_BUCKETS_MS.length + 1;

/**
 * Most topics counted apart per container: a container that subscribes to a new topic per user
 * must not grow the runtime's memory or Prometheus' series without bound. Beyond it, runs count
 * under the topic {@linkcode OTHER_TOPIC}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_TOPICS } from "./_topic_metrics.ts";
 * assert.equal(MAX_TOPICS, 64);
 * ```
 */
export const MAX_TOPICS = 64;
/**
 * Where runs of topics beyond {@linkcode MAX_TOPICS} are counted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { OTHER_TOPIC } from "./_topic_metrics.ts";
 * assert.equal(OTHER_TOPIC, "(other)");
 * ```
 */
export const OTHER_TOPIC = "(other)";
/** Longest topic name reported; a longer one is cut (a label value, not a payload). */
const MAX_TOPIC_LENGTH = 200;

/** The most runs between two timed ones, and the handler time under which runs are skipped. */
const MAX_GAP = 512;
const GAP_BUDGET_MS = 0.05;

/**
 * The bucket of a duration.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HANDLER_BUCKETS_MS, handlerBucket } from "./_topic_metrics.ts";
 * assert.equal(handlerBucket(0.002), 0); // 2 µs: under the first bound
 * assert.equal(HANDLER_BUCKETS_MS[handlerBucket(1)], 1.024);
 * assert.equal(handlerBucket(60_000), HANDLER_BUCKETS_MS.length); // beyond the last bound
 * ```
 */
export function handlerBucket(ms: number): number {
  const us = ms * 1000;
  if (!(us > 16)) return 0;
  const b = Math.ceil(Math.log2(us)) - 4;
  return b < SLOTS ? b : SLOTS - 1;
}

/**
 * Figures of one topic as plain data (they cross isolates in the heartbeat answer): `n` runs,
 * `s` their total time in ms, `b` a sparse histogram `[bucket, runs, …]`.
 *
 * @example
 * ```ts
 * import type { TopicFigures } from "./_topic_metrics.ts";
 * const f: TopicFigures = { n: 3, s: 1.5, b: [5, 3] };
 * ```
 */
export interface TopicFigures {
  /** Runs. */
  n: number;
  /** Their total time, ms. */
  s: number;
  /** Runs per bucket, sparse: `[bucket, runs, bucket, runs, …]`. */
  b: number[];
}

/**
 * Topic figures by key: `h:<topic>` for a handler (requests and sends), `s:<topic>` for a
 * subscription.
 */
export type TopicSet = Record<string, TopicFigures>;

/**
 * What one instance samples for one topic. `skip` is a public field so the caller tests
 * `--skip > 0` inline on the hot path, as `MetricsRecorder` does.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TopicSampler } from "./_topic_metrics.ts";
 * const s = new TopicSampler();
 * const runs = --s.skip > 0 ? 0 : s.take(); // the first run is timed
 * s.record(2, runs);
 * assert.deepEqual(s.figures(), { n: 1, s: 2, b: [7, 1] });
 * ```
 */
export class TopicSampler {
  /** Runs left until the next timed one. */
  skip = 1;
  #gap = 1;
  /** Runs the next timed run will stand for. */
  #due = 1;
  #runs = 0;
  #sum = 0;
  readonly #buckets = new Float64Array(SLOTS);

  /**
   * This run is timed (`--skip` reached 0): starts the next gap.
   * @returns The runs it stands for, to pass to {@linkcode record}.
   */
  take(): number {
    const runs = this.#due;
    this.skip = this.#due = this.#gap;
    return runs;
  }

  /** A timed run took `ms` and stands for `runs` runs ({@linkcode take}'s answer). */
  record(ms: number, runs: number): void {
    this.#gap = ms >= GAP_BUDGET_MS ? 1 : Math.min(MAX_GAP, Math.ceil(GAP_BUDGET_MS / ms));
    if (this.skip > this.#gap) {
      // A slower run: time sooner. The next timed run stands for fewer runs by as much.
      this.#due -= this.skip - this.#gap;
      this.skip = this.#gap;
    }
    this.#runs += runs;
    this.#sum += ms * runs;
    this.#buckets[handlerBucket(ms)] += runs;
  }

  /** The figures so far. */
  figures(): TopicFigures {
    const b: number[] = [];
    for (let i = 0; i < SLOTS; i++) if (this.#buckets[i] > 0) b.push(i, this.#buckets[i]);
    return { n: this.#runs, s: this.#sum, b };
  }
}

/**
 * The samplers of one instance, by topic, at most {@linkcode MAX_TOPICS} (then
 * {@linkcode OTHER_TOPIC}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TopicSamplers } from "./_topic_metrics.ts";
 * const samplers = new TopicSamplers();
 * assert.equal(samplers.of("h", "greet"), samplers.of("h", "greet"));
 * assert.notEqual(samplers.of("h", "greet"), samplers.of("s", "greet"));
 * ```
 */
export class TopicSamplers {
  readonly #byKey = new Map<string, TopicSampler>();

  /** The sampler of a handler (`h`) or subscription (`s`) topic. */
  of(kind: "h" | "s", topic: string): TopicSampler {
    let key = `${kind}:${topic.slice(0, MAX_TOPIC_LENGTH)}`;
    let sampler = this.#byKey.get(key);
    if (sampler) return sampler;
    if (this.#byKey.size >= MAX_TOPICS) {
      key = `${kind}:${OTHER_TOPIC}`;
      sampler = this.#byKey.get(key);
      if (sampler) return sampler;
    }
    this.#byKey.set(key, sampler = new TopicSampler());
    return sampler;
  }

  /** Every topic's figures (none: `undefined`, so a pong carries nothing). */
  figures(): TopicSet | undefined {
    if (this.#byKey.size === 0) return undefined;
    const set: TopicSet = {};
    for (const [key, sampler] of this.#byKey) set[key] = sampler.figures();
    return set;
  }
}

/**
 * The topic figures an isolate reported (the `t` of its figures), or `null` when they are
 * malformed: the isolate runs container code, so they are checked before they are added up.
 * Absent is `undefined`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTopicSet } from "./_topic_metrics.ts";
 * assert.deepEqual(readTopicSet({ "h:greet": { n: 1, s: 2, b: [7, 1] } }), { "h:greet": { n: 1, s: 2, b: [7, 1] } });
 * assert.equal(readTopicSet({ "h:greet": { n: -1, s: 0, b: [] } }), null);
 * assert.equal(readTopicSet(undefined), undefined);
 * ```
 */
export function readTopicSet(value: unknown): TopicSet | undefined | null {
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const entries = Object.entries(value);
  // Twice the cap: a handler and a subscription may share a name.
  if (entries.length > 2 * (MAX_TOPICS + 1)) return null;
  const set: TopicSet = {};
  for (const [key, f] of entries) {
    if (!/^[hs]:/.test(key) || key.length > MAX_TOPIC_LENGTH + 2) return null;
    if (typeof f !== "object" || f === null) return null;
    const { n, s, b } = f as Record<string, unknown>;
    if (!count(n) || !count(s) || !Array.isArray(b) || b.length % 2 !== 0) return null;
    if (b.length > 2 * SLOTS) return null;
    for (let k = 0; k < b.length; k++) {
      const v = b[k];
      if (k % 2 === 0 ? !(Number.isInteger(v) && v >= 0 && v < SLOTS) : !count(v)) return null;
    }
    set[key] = { n: n as number, s: s as number, b: b as number[] };
  }
  return set;
}

function count(v: unknown): boolean {
  return typeof v === "number" && v >= 0 && Number.isFinite(v);
}

/**
 * Adds `b` into `a` (a new object; neither is changed). Keys beyond what a container may hold
 * are folded into {@linkcode OTHER_TOPIC} of their kind.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { addTopicSets } from "./_topic_metrics.ts";
 * const sum = addTopicSets({ "h:a": { n: 1, s: 1, b: [6, 1] } }, { "h:a": { n: 2, s: 4, b: [7, 2] } });
 * assert.deepEqual(sum, { "h:a": { n: 3, s: 5, b: [6, 1, 7, 2] } });
 * ```
 */
export function addTopicSets(
  a: TopicSet | undefined,
  b: TopicSet | undefined,
): TopicSet | undefined {
  if (!b) return a;
  if (!a) return b;
  const out: TopicSet = { ...a };
  let keys = Object.keys(out).length;
  for (let [key, f] of Object.entries(b)) {
    if (!(key in out) && keys >= 2 * MAX_TOPICS) key = `${key.slice(0, 2)}${OTHER_TOPIC}`;
    const into = out[key];
    if (!into) keys++;
    out[key] = into ? addTopic(into, f) : f;
  }
  return out;
}

function addTopic(a: TopicFigures, b: TopicFigures): TopicFigures {
  const buckets = new Float64Array(SLOTS);
  for (const h of [a.b, b.b]) for (let k = 0; k < h.length; k += 2) buckets[h[k]] += h[k + 1];
  const merged: number[] = [];
  for (let i = 0; i < SLOTS; i++) if (buckets[i] > 0) merged.push(i, buckets[i]);
  return { n: a.n + b.n, s: a.s + b.s, b: merged };
}

/**
 * The public shape of a container's topic figures, topics in name order, handlers first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { topicMetrics } from "./_topic_metrics.ts";
 * const [greet] = topicMetrics({ "h:greet": { n: 2, s: 3, b: [7, 2] } });
 * assert.deepEqual([greet.topic, greet.kind, greet.runs, greet.buckets[7]], ["greet", "handler", 2, 2]);
 * ```
 */
export function topicMetrics(set: TopicSet | undefined): TopicMetrics[] {
  if (!set) return [];
  return Object.keys(set).sort().map((key) => {
    const f = set[key];
    const buckets = new Array<number>(SLOTS).fill(0);
    for (let k = 0; k < f.b.length; k += 2) buckets[f.b[k]] += f.b[k + 1];
    return {
      topic: key.slice(2),
      kind: key.startsWith("h:") ? "handler" : "subscription",
      runs: f.n,
      sumMs: f.s,
      buckets,
    };
  });
}
