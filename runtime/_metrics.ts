/**
 * Per-container metrics: what each instance counts while it handles messages
 * ({@linkcode MetricsRecorder}), the plain figures that travel to the host with the heartbeat
 * answer ({@linkcode Figures}), the per-isolate book that adds up live and ended instances
 * ({@linkcode MetricsBook}), and how they add up to the public shape `rt.metrics()` returns
 * (`ContainerMetrics`, in `metrics.ts`).
 *
 * Pure: no I/O, no timers. The clock is read only by {@linkcode MetricsRecorder.start} and
 * {@linkcode MetricsRecorder.stop}, on the sampled handler runs.
 *
 * @module
 */
import type { Mode } from "../config/topology.ts";
import type { ContainerMetrics } from "./metrics.ts";
import {
  addTopicSets,
  readTopicSet,
  topicMetrics,
  TopicSamplers,
  type TopicSet,
} from "./_topic_metrics.ts";

export type { ContainerMetrics };

/**
 * Figures of the instances of one container, as plain data (they cross isolates in the heartbeat
 * answer). Short keys: a pong carries one of these per container every heartbeat.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bucketUpperMs, type Figures, percentile } from "./_metrics.ts";
 * const f: Figures = { i: 3, o: 0, r: 3, e: 0, f: 0, q: 0, h: [120, 3], m: null };
 * assert.equal(percentile(f.h, 0.5), bucketUpperMs(120)); // 32.768 ms
 * ```
 */
export interface Figures {
  /** Messages in. */
  i: number;
  /** Messages out. */
  o: number;
  /** Requests completed. */
  r: number;
  /** Handler errors. */
  e: number;
  /** Handlers in flight now. */
  f: number;
  /** Messages held for it now (while it restarts). */
  q: number;
  /** Recent handler times: a sparse histogram, `[bucket, count, bucket, count, …]`. */
  h: number[];
  /** Memory in bytes (a process's RSS, a worker's isolate heap), or `null` where not measurable. */
  m: number | null;
  /** Handler time per topic, since the start (`_topic_metrics.ts`); absent: none yet. */
  t?: TopicSet;
  /** Entities active now (a container made by `entities()` only). */
  a?: number;
}

/** Figures by container name: what one isolate (and everything below it) reports. */
export type FigureSet = Record<string, Figures>;

/**
 * The figures an isolate attached to a pong, exit or stopped envelope (`m`), or `null` when there
 * are none or they are malformed: the isolate runs container code, so what it sends is checked
 * before the host adds it up.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readFigureSet } from "./_metrics.ts";
 * const env = { k: "pong", m: { api: { i: 1, o: 0, r: 1, e: 0, f: 0, q: 0, h: [8, 1], m: null } } };
 * assert.equal(readFigureSet(env)?.api.i, 1);
 * assert.equal(readFigureSet({ k: "pong", m: { api: { i: "lots" } } }), null);
 * ```
 */
export function readFigureSet(envelope: object): FigureSet | null {
  const m = (envelope as { m?: unknown }).m;
  if (typeof m !== "object" || m === null || Array.isArray(m)) return null;
  const set: FigureSet = {};
  for (const [name, value] of Object.entries(m)) {
    if (typeof value !== "object" || value === null) return null;
    const f = value as Record<string, unknown>;
    for (const key of ["i", "o", "r", "e", "f", "q"]) {
      const n = f[key];
      if (typeof n !== "number" || !(n >= 0) || !Number.isFinite(n)) return null;
    }
    const h = f.h;
    if (!Array.isArray(h) || h.length % 2 !== 0) return null;
    for (let k = 0; k < h.length; k++) {
      const n = h[k];
      if (!Number.isInteger(n) || n < 0 || (k % 2 === 0 && n >= BUCKETS)) return null;
    }
    const mem = f.m;
    if (mem !== null && mem !== undefined && (typeof mem !== "number" || !(mem >= 0))) return null;
    const topics = readTopicSet(f.t);
    if (topics === null) return null;
    const active = f.a;
    if (active !== undefined && (!Number.isSafeInteger(active) || (active as number) < 0)) {
      return null;
    }
    set[name] = {
      i: f.i as number,
      o: f.o as number,
      r: f.r as number,
      e: f.e as number,
      f: f.f as number,
      q: f.q as number,
      h: h as number[],
      m: (mem as number | undefined) ?? null,
      ...(topics ? { t: topics } : {}),
      ...(active === undefined ? {} : { a: active as number }),
    };
  }
  return set;
}

/** Anything whose current figures can be read: an inline instance, or the last pong of an isolate. */
export interface FigureSource {
  /** The figures now (`null`: none yet). */
  figures(): FigureSet | null;
}

// ---- the histogram ---------------------------------------------------------------------------

/**
 * Handler times go into a fixed log-scale histogram rather than a ring of raw durations: a bucket
 * index is one `Math.log2`, the window stays O(1) per sample, and the buckets of several replicas
 * (or isolates) add up exactly, so a container's percentiles are over the union of its replicas'
 * recent samples and a pong carries a few numbers instead of hundreds of durations.
 * Buckets are 2^(1/8) wide (about 9%): bucket `b` holds durations in (2^((b-1)/8), 2^(b/8)] µs.
 */
const SUB = 8;
/** 1 µs · 2^(319/8) ≈ 10 days: anything longer lands in the last bucket. */
export const BUCKETS = 320;
/** Handler runs each instance keeps in its recent window. */
export const WINDOW = 1024;
/** The most runs between two timed ones (a very fast handler at 1M runs/s: ~2000 samples/s). */
const MAX_GAP = 512;
/**
 * Reading the clock twice costs about 0.2 µs: timing one run in `0.05 / duration` keeps that
 * under ~0.5% of the handler time (a 50 µs handler is timed every run, a 5 µs one every 10th,
 * a trivial one every ~300th: under 1 ns a run on average).
 */
const GAP_BUDGET_MS = 0.05;

/**
 * The histogram bucket of a duration.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bucketOf, bucketUpperMs } from "./_metrics.ts";
 * const b = bucketOf(20);
 * assert.ok(bucketUpperMs(b) >= 20 && bucketUpperMs(b) < 20 * 1.1);
 * ```
 */
export function bucketOf(ms: number): number {
  if (!(ms > 0.001)) return 0;
  const b = Math.ceil(Math.log2(ms * 1000) * SUB);
  return b < BUCKETS ? b : BUCKETS - 1;
}

/**
 * The upper bound of bucket `b`, in ms (what percentiles report: "at most this").
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bucketUpperMs } from "./_metrics.ts";
 * assert.equal(bucketUpperMs(0), 0.001);
 * ```
 */
export function bucketUpperMs(b: number): number {
  return Math.round(2 ** (b / SUB) * 1000) / 1e6;
}

/**
 * Nearest-rank percentile `q` (0–1) of a sparse histogram (`[bucket, count, …]`), in ms: the
 * upper bound of the bucket holding that rank; `null` when it holds no sample.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bucketOf, bucketUpperMs, percentile } from "./_metrics.ts";
 * const h = [bucketOf(1), 98, bucketOf(50), 2];
 * assert.equal(percentile(h, 0.5), bucketUpperMs(bucketOf(1)));
 * assert.equal(percentile(h, 0.99), bucketUpperMs(bucketOf(50)));
 * ```
 */
export function percentile(h: readonly number[], q: number): number | null {
  let total = 0;
  for (let k = 1; k < h.length; k += 2) total += h[k];
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  // Sparse pairs may come in any order: walk buckets in order.
  const order: number[] = [];
  for (let k = 0; k < h.length; k += 2) order.push(k);
  order.sort((a, b) => h[a] - h[b]);
  let seen = 0;
  for (const k of order) {
    seen += h[k + 1];
    if (seen >= rank) return bucketUpperMs(h[k]);
  }
  return bucketUpperMs(h[order[order.length - 1]]);
}

// ---- one instance --------------------------------------------------------------------------------

/**
 * What one instance counts. The counters are plain fields, bumped inline on the hot path (an
 * inline request costs ~0.4 µs, a send ~0.06 µs: a method call per message is already
 * measurable). Handler times are sampled: reading the clock twice costs about as much as three
 * sends, so runs are timed one in `gap`, where `gap` grows as the timed runs get shorter (at
 * most {@linkcode MAX_GAP}) and is 1 for handlers of 50 µs and more. The choice of which run to
 * time never depends on that run, so the samples stay an unbiased sample of the runs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MetricsRecorder } from "./_metrics.ts";
 * const rec = new MetricsRecorder();
 * rec.messagesIn++;
 * const t0 = --rec.skip > 0 ? -1 : rec.start(); // is this run sampled?
 * rec.requests++;
 * if (t0 >= 0) rec.stop(t0);
 * assert.equal(rec.figures().r, 1);
 * assert.equal(rec.figures().h.length, 2); // the first run is always timed: one bucket
 * ```
 */
export class MetricsRecorder {
  /** Requests + sends + publications delivered. */
  messagesIn = 0;
  /** Requests + sends + publications made through the instance's context. */
  messagesOut = 0;
  /** Requests answered (ok or error). */
  requests = 0;
  /** Handler errors. */
  errors = 0;
  /** Async handlers still running. */
  inflight = 0;
  /**
   * Runs left until the next timed one (the first run is timed). A public field so the caller can
   * test `--skip > 0` inline: two method calls per message cost ~10 ns, as much as a send.
   */
  skip = 1;
  #gap = 1;
  readonly #ring = new Uint16Array(WINDOW);
  readonly #counts = new Uint32Array(BUCKETS);
  #pos = 0;
  #filled = 0;
  /** Handler time per topic (sampled by the instance, topic by topic). */
  readonly topics: TopicSamplers = new TopicSamplers();

  /**
   * Starts timing a run: call it when `--skip` reached 0 (see the class example).
   * @returns The clock reading to pass to {@linkcode stop}.
   */
  start(): number {
    this.skip = this.#gap;
    return performance.now();
  }

  /** Ends a run timed since `t0` (a {@linkcode start} reading). */
  stop(t0: number): void {
    const ms = performance.now() - t0;
    this.#gap = ms >= GAP_BUDGET_MS ? 1 : Math.min(MAX_GAP, Math.ceil(GAP_BUDGET_MS / ms));
    if (this.skip > this.#gap) this.skip = this.#gap;
    this.record(ms);
  }

  /** Adds one handler time (ms) to the recent window, dropping the oldest when it is full. */
  record(ms: number): void {
    const b = bucketOf(ms);
    if (this.#filled === WINDOW) this.#counts[this.#ring[this.#pos]]--;
    else this.#filled++;
    this.#ring[this.#pos] = b;
    this.#counts[b]++;
    if (++this.#pos === WINDOW) this.#pos = 0;
  }

  /** Entities active now, for a container made by `entities()` (its host sets it). */
  activeEntities: (() => number) | null = null;

  /** The figures now, as plain data. */
  figures(): Figures {
    const h: number[] = [];
    if (this.#filled > 0) {
      for (let b = 0; b < BUCKETS; b++) if (this.#counts[b] > 0) h.push(b, this.#counts[b]);
    }
    const t = this.topics.figures();
    const figures: Figures = {
      i: this.messagesIn,
      o: this.messagesOut,
      r: this.requests,
      e: this.errors,
      f: this.inflight,
      q: 0,
      h,
      m: null,
      ...(t ? { t } : {}),
    };
    if (this.activeEntities) figures.a = this.activeEntities();
    return figures;
  }
}

// ---- adding up -------------------------------------------------------------------------------

/**
 * Figures with nothing counted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptyFigures } from "./_metrics.ts";
 * assert.deepEqual(emptyFigures(), { i: 0, o: 0, r: 0, e: 0, f: 0, q: 0, h: [], m: null });
 * ```
 */
export function emptyFigures(): Figures {
  return { i: 0, o: 0, r: 0, e: 0, f: 0, q: 0, h: [], m: null };
}

/**
 * Adds `b` into `a` (counters and gauges summed, histograms merged, memory summed where known).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { addFigures, emptyFigures } from "./_metrics.ts";
 * const a = emptyFigures();
 * addFigures(a, { i: 2, o: 1, r: 2, e: 0, f: 1, q: 0, h: [10, 2], m: 1000 });
 * assert.deepEqual([a.i, a.h, a.m], [2, [10, 2], 1000]);
 * ```
 */
export function addFigures(a: Figures, b: Figures): Figures {
  a.i += b.i;
  a.o += b.o;
  a.r += b.r;
  a.e += b.e;
  a.f += b.f;
  a.q += b.q;
  if (b.h.length > 0) a.h = mergeHistograms(a.h, b.h);
  if (b.m !== null) a.m = (a.m ?? 0) + b.m;
  const t = addTopicSets(a.t, b.t);
  if (t) a.t = t;
  if (b.a !== undefined) a.a = (a.a ?? 0) + b.a;
  return a;
}

/** Adds each container of `set` into `into`. */
function addSet(into: Map<string, Figures>, set: FigureSet): void {
  for (const name in set) {
    let f = into.get(name);
    if (!f) into.set(name, f = emptyFigures());
    addFigures(f, set[name]);
  }
}

function mergeHistograms(a: readonly number[], b: readonly number[]): number[] {
  const sum = new Map<number, number>();
  for (const h of [a, b]) {
    for (let k = 0; k < h.length; k += 2) sum.set(h[k], (sum.get(h[k]) ?? 0) + h[k + 1]);
  }
  const out: number[] = [];
  for (const bucket of [...sum.keys()].sort((x, y) => x - y)) out.push(bucket, sum.get(bucket)!);
  return out;
}

/** Halves a histogram until it holds at most {@linkcode WINDOW} samples (older ones fade). */
function capHistogram(h: number[]): number[] {
  let total = 0;
  for (let k = 1; k < h.length; k += 2) total += h[k];
  while (total > WINDOW) {
    const next: number[] = [];
    total = 0;
    for (let k = 0; k < h.length; k += 2) {
      const c = Math.floor(h[k + 1] / 2);
      if (c > 0) next.push(h[k], c);
      total += c;
    }
    h = next;
  }
  return h;
}

/**
 * The figures of one isolate: the sources live in it (its inline instances, the handles of the
 * workers and processes it started, each with its last pong) plus what ended ones had counted.
 * Counters therefore keep counting across restarts; in-flight and held figures of an ended
 * instance are dropped (nothing is in flight in it any more), and its recent handler times are
 * kept, faded to at most one window, until newer ones outnumber them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MetricsBook } from "./_metrics.ts";
 * const book = new MetricsBook();
 * const source = { figures: () => ({ api: { i: 5, o: 0, r: 5, e: 1, f: 2, q: 0, h: [], m: null } }) };
 * book.track(source);
 * book.retire(source);
 * const api = book.collect().get("api")!;
 * assert.deepEqual([api.i, api.f], [5, 0]); // counted; no longer in flight
 * ```
 */
export class MetricsBook {
  readonly #live = new Set<FigureSource>();
  readonly #retired = new Map<string, Figures>();

  /** Starts counting a source. */
  track(source: FigureSource): void {
    this.#live.add(source);
  }

  /** The source has ended: its last figures join the totals (once), minus what was in flight. */
  retire(source: FigureSource): void {
    if (!this.#live.delete(source)) return;
    const set = source.figures();
    if (!set) return;
    for (const name in set) {
      const f = set[name];
      let into = this.#retired.get(name);
      if (!into) this.#retired.set(name, into = emptyFigures());
      addFigures(into, { ...f, f: 0, q: 0, m: null });
      into.h = capHistogram(into.h);
    }
  }

  /**
   * Every container's figures now: ended instances' totals plus every live source's figures.
   * @param held Messages held per container in this isolate's node (added to `q`).
   */
  collect(held: Record<string, number> = {}): Map<string, Figures> {
    const out = new Map<string, Figures>();
    for (const [name, f] of this.#retired) out.set(name, addFigures(emptyFigures(), f));
    for (const source of this.#live) {
      const set = source.figures();
      if (set) addSet(out, set);
    }
    for (const name in held) {
      let f = out.get(name);
      if (!f) out.set(name, f = emptyFigures());
      f.q += held[name];
    }
    return out;
  }

  /** {@linkcode collect} as plain data, for a pong. */
  collectSet(held: Record<string, number> = {}): FigureSet {
    return Object.fromEntries(this.collect(held));
  }
}

const books = new WeakMap<object, MetricsBook>();

/**
 * The book of an isolate's node (one per node: several runtimes in one process keep apart).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { metricsBook } from "./_metrics.ts";
 * const node = {};
 * assert.equal(metricsBook(node), metricsBook(node));
 * assert.notEqual(metricsBook(node), metricsBook({}));
 * ```
 */
export function metricsBook(node: object): MetricsBook {
  let book = books.get(node);
  if (!book) books.set(node, book = new MetricsBook());
  return book;
}

/** What `rt.metrics()` needs of a container in the supervision tree. */
export interface TreeEntry {
  /** Container name. */
  name: string;
  /** Its mode. */
  mode: Mode;
  /** Running instances. */
  running: number;
  /** Restarts across its replicas. */
  restarts: number;
  /** The host it runs on (`local`: this runtime). */
  host?: string;
  /** Its children, when it supervises any. */
  children?: TreeEntry[];
}

/**
 * One {@linkcode ContainerMetrics} per container of `tree` (children after their parent), from
 * the figures `book` collected. Percentiles are over the union of the replicas' recent windows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { containerMetrics } from "./_metrics.ts";
 * const figures = new Map([["api", { i: 4, o: 1, r: 3, e: 1, f: 1, q: 2, h: [], m: null }]]);
 * const [api] = containerMetrics(
 *   [{ name: "api", mode: "worker", running: 1, restarts: 1 }],
 *   figures,
 * );
 * assert.deepEqual([api.queueDepth, api.handlerP50Ms, api.memoryBytes], [3, null, null]);
 * ```
 */
export function containerMetrics(
  tree: readonly TreeEntry[],
  figures: ReadonlyMap<string, Figures>,
  violations: ReadonlyMap<string, number> = new Map(),
): ContainerMetrics[] {
  const out: ContainerMetrics[] = [];
  const walk = (entries: readonly TreeEntry[]) => {
    for (const c of entries) {
      const f = figures.get(c.name) ?? emptyFigures();
      out.push({
        container: c.name,
        mode: c.mode,
        instances: c.running,
        messagesIn: f.i,
        messagesOut: f.o,
        requests: f.r,
        errors: f.e,
        restarts: c.restarts,
        handlerP50Ms: percentile(f.h, 0.5),
        handlerP99Ms: percentile(f.h, 0.99),
        queueDepth: f.f + f.q,
        // An inline container's isolate is the runtime's: no memory of its own.
        memoryBytes: c.mode === "inline" ? null : f.m,
        violations: violations.get(c.name) ?? 0,
        host: c.host ?? "local",
        topics: topicMetrics(f.t),
        ...(f.a === undefined ? {} : { entities: f.a }),
      });
      if (c.children) walk(c.children);
    }
  };
  walk(tree);
  return out;
}
