/**
 * `rt.metrics()` as Prometheus text (exposition format 0.0.4), for `GET /metrics`.
 *
 * Pure: figures in, text out.
 *
 * @module
 */
import type { ContainerMetrics, TopicMetrics } from "../runtime/metrics.ts";
import type { ScheduleSnapshot } from "../runtime/types.ts";
import { HANDLER_BUCKETS_MS } from "../runtime/_topic_metrics.ts";

/**
 * The figures of one runtime of the application (this one, `local`, or a host agent), served
 * labelled `host`. What is not known (an agent's relayed messages) is left out.
 *
 * @example
 * ```ts
 * import type { HostMetrics } from "./prometheus.ts";
 * const here: HostMetrics = { host: "local", up: true, memoryBytes: 80_000_000, relayed: 12, refused: 0 };
 * const agent: HostMetrics = { host: "node-b", up: true, replicas: 3, memoryBytes: 60_000_000 };
 * ```
 */
export interface HostMetrics {
  /** `local`, or the peer's name. */
  host: string;
  /** Whether it is linked now (`local`: always). */
  up: boolean;
  /** Resident memory of its process, bytes. */
  memoryBytes?: number;
  /** Replicas it runs (a host agent's load). */
  replicas?: number;
  /** Messages it relayed between two containers outside it. */
  relayed?: number;
  /** Input it refused at its edges (children, peers, NATS). */
  refused?: number;
}

/**
 * What {@linkcode prometheusText} reads of a schedule (`rt.schedules()` gives it).
 *
 * @example
 * ```ts
 * import type { ScheduleMetrics } from "./prometheus.ts";
 * const beat: ScheduleMetrics = {
 *   name: "beat", next: "2026-12-05T00:00:10.000Z", okTicks: 3, failedTicks: 1, missedTicks: 0,
 * };
 * ```
 */
export type ScheduleMetrics = Pick<
  ScheduleSnapshot,
  "name" | "next" | "okTicks" | "failedTicks" | "missedTicks"
>;

/** Options of {@linkcode prometheusText}. */
export interface PrometheusOptions {
  /** Figures of the runtimes themselves: this one and its peers (see {@linkcode HostMetrics}). */
  hosts?: readonly HostMetrics[];
  /**
   * The schedules (`rt.schedules()`): `kraken_schedule_ticks_total{schedule,outcome}` and
   * `kraken_schedule_next_timestamp_seconds{schedule}`.
   */
  schedules?: readonly ScheduleMetrics[];
  /**
   * Labels added to every sample, e.g. `{ app: "shop" }` (names as Prometheus allows them; not
   * `container`, `mode`, `host`, `topic`, `kind`, `quantile`, `le`, `schedule` or `outcome`,
   * which Kraken sets).
   */
  labels?: Record<string, string>;
}

/** The `Content-Type` of {@linkcode prometheusText}'s output. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Family = {
  name: string;
  type: "counter" | "gauge";
  help: string;
  value: (m: ContainerMetrics) => number | null;
};

/** One line per family member; the order is the order of the text. */
const FAMILIES: readonly Family[] = [
  {
    name: "kraken_container_instances",
    type: "gauge",
    help: "Running instances of the container.",
    value: (m) => m.instances,
  },
  {
    name: "kraken_messages_in_total",
    type: "counter",
    help: "Requests, sends and publications delivered to the container's instances.",
    value: (m) => m.messagesIn,
  },
  {
    name: "kraken_messages_out_total",
    type: "counter",
    help: "Requests, sends and publications the container's instances made.",
    value: (m) => m.messagesOut,
  },
  {
    name: "kraken_requests_total",
    type: "counter",
    help: "Requests the container's handlers completed, ok or error.",
    value: (m) => m.requests,
  },
  {
    name: "kraken_handler_errors_total",
    type: "counter",
    help: "Errors thrown or rejected by the container's handlers.",
    value: (m) => m.errors,
  },
  {
    name: "kraken_violations_total",
    type: "counter",
    help:
      "Envelopes the container's isolates had no right to send (dropped): broken or hostile code.",
    value: (m) => m.violations,
  },
  {
    name: "kraken_restarts_total",
    type: "counter",
    help: "Restarts of the container's replicas.",
    value: (m) => m.restarts,
  },
  {
    name: "kraken_queue_depth",
    type: "gauge",
    help: "Handlers in flight plus messages held for the container while it restarts.",
    value: (m) => m.queueDepth,
  },
  {
    name: "kraken_entities_active",
    type: "gauge",
    help: "Entities active in the container's instances (a container made by entities() only).",
    value: (m) => m.entities ?? null,
  },
  {
    name: "kraken_memory_bytes",
    type: "gauge",
    help: "Memory of the container's instances: RSS of its processes, isolate heap of its workers.",
    value: (m) => m.memoryBytes,
  },
];

type HostFamily = {
  name: string;
  type: "counter" | "gauge";
  help: string;
  value: (h: HostMetrics) => number | undefined;
};

/** The runtimes' own figures, one sample per host. */
const HOST_FAMILIES: readonly HostFamily[] = [
  {
    name: "kraken_host_up",
    type: "gauge",
    help: "1 when the runtime (this one, or a peer or host agent) is linked, else 0.",
    value: (h) => (h.up ? 1 : 0),
  },
  {
    name: "kraken_host_memory_bytes",
    type: "gauge",
    help: "Resident memory of the runtime's own process (its workers included, not its processes).",
    value: (h) => h.memoryBytes,
  },
  {
    name: "kraken_host_replicas",
    type: "gauge",
    help: "Replicas a host agent runs (for every root that placed them).",
    value: (h) => h.replicas,
  },
  {
    name: "kraken_host_relayed_total",
    type: "counter",
    help: "Messages the runtime relayed between two containers outside it.",
    value: (h) => h.relayed,
  },
  {
    name: "kraken_host_refused_total",
    type: "counter",
    help: "Input the runtime refused at its edges (children, peers, NATS): dropped and logged.",
    value: (h) => h.refused,
  },
];

const QUANTILES = [["0.5", "handlerP50Ms"], ["0.99", "handlerP99Ms"]] as const;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const RESERVED = new Set([
  "container",
  "mode",
  "host",
  "topic",
  "kind",
  "quantile",
  "le",
  "schedule",
  "outcome",
]);
/** The `le` label of each bucket: bounds in seconds, as Go would print them, then `+Inf`. */
const LE = [...HANDLER_BUCKETS_MS.map((ms) => formatValue(ms / 1000)), "+Inf"];

/**
 * Formats container metrics in the Prometheus text exposition format 0.0.4: a `# HELP` and
 * `# TYPE` line per family, then one sample per container labelled `container`, `mode` and
 * `host` (`local` for this runtime, the agent's name for a remote container). Counters end in
 * `_total`; queue depth, memory and instances are gauges. Handler time is:
 *
 * - `kraken_handler_seconds`, a summary per container: `quantile="0.5"` and `"0.99"` over the
 *   recent window, and `_sum`/`_count` over every run since the start;
 * - `kraken_handler_duration_seconds`, a histogram per container and topic (labels `topic`, and
 *   `kind` = `handler` or `subscription`): cumulative `_bucket{le}` at 2^k µs (16 µs … 33.6 s, then
 *   `+Inf`), `_sum` and `_count`, for `histogram_quantile()` over any set of them.
 *
 * An entity's handler runs count in both, under their topic. `kraken_entities_active` is a gauge
 * of the entities active in a container made by `entities()`.
 *
 * A container without a figure (no handler run yet, memory not measurable) has no sample in
 * that family. Label values are escaped (backslash, double quote, newline); the text ends with a
 * newline.
 *
 * @param metrics What `rt.metrics()` returned.
 * @param options Labels added to every sample.
 * @returns The text to serve with {@linkcode PROMETHEUS_CONTENT_TYPE}.
 * @throws {TypeError} An extra label name Prometheus does not accept, or one Kraken sets.
 *
 * @example One container
 * ```ts
 * import assert from "node:assert/strict";
 * import { prometheusText } from "./prometheus.ts";
 * const text = prometheusText([{
 *   container: "api", mode: "worker", instances: 2, messagesIn: 10, messagesOut: 3,
 *   requests: 9, errors: 1, restarts: 1, handlerP50Ms: 2, handlerP99Ms: 40, queueDepth: 0,
 *   memoryBytes: null, violations: 0, host: "local",
 *   topics: [{ topic: "greet", kind: "handler", runs: 9, sumMs: 45, buckets: [0, 0, 0, 0, 0, 0, 0, 0, 9] }],
 * }], { labels: { app: "shop" } });
 * assert.ok(text.includes('kraken_messages_in_total{container="api",mode="worker",host="local",app="shop"} 10\n'));
 * // 9 runs of at most 4.096 ms:
 * assert.ok(text.includes('kraken_handler_duration_seconds_bucket{container="api",mode="worker",host="local",app="shop",topic="greet",kind="handler",le="0.004096"} 9\n'));
 * assert.ok(text.includes('kraken_handler_duration_seconds_count{container="api",mode="worker",host="local",app="shop",topic="greet",kind="handler"} 9\n'));
 * ```
 */
export function prometheusText(
  metrics: readonly ContainerMetrics[],
  options: PrometheusOptions = {},
): string {
  let extra = "";
  for (const [name, value] of Object.entries(options.labels ?? {})) {
    if (!LABEL_NAME.test(name) || name.startsWith("__")) {
      throw new TypeError(
        `prometheusText: label name ${
          JSON.stringify(name)
        } is not valid (expected [a-zA-Z_][a-zA-Z0-9_]*, not starting with __)`,
      );
    }
    if (RESERVED.has(name)) {
      throw new TypeError(`prometheusText: label "${name}" is set by Kraken; choose another name`);
    }
    extra += `,${name}="${escapeLabelValue(String(value))}"`;
  }
  const labels = (m: ContainerMetrics) =>
    `container="${escapeLabelValue(m.container)}",mode="${escapeLabelValue(m.mode)}",host="${
      escapeLabelValue(m.host ?? "local")
    }"${extra}`;
  const lines: string[] = [];
  for (const family of FAMILIES) {
    lines.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`);
    for (const m of metrics) {
      const value = family.value(m);
      if (value !== null) lines.push(`${family.name}{${labels(m)}} ${formatValue(value)}`);
    }
  }
  lines.push(
    "# HELP kraken_handler_seconds Handler time: quantiles over the recent window (upper bound of a ~9% bucket), sum and count since the start.",
    "# TYPE kraken_handler_seconds summary",
  );
  for (const m of metrics) {
    for (const [quantile, key] of QUANTILES) {
      const ms = m[key];
      if (ms === null) continue;
      lines.push(
        `kraken_handler_seconds{${labels(m)},quantile="${quantile}"} ${
          formatValue(Math.round(ms * 1000) / 1e6)
        }`,
      );
    }
    const topics = m.topics ?? [];
    const sum = topics.reduce((total, t) => total + t.sumMs, 0);
    const count = topics.reduce((total, t) => total + t.runs, 0);
    lines.push(
      `kraken_handler_seconds_sum{${labels(m)}} ${formatValue(seconds(sum))}`,
      `kraken_handler_seconds_count{${labels(m)}} ${formatValue(count)}`,
    );
  }
  lines.push(
    "# HELP kraken_handler_duration_seconds Handler time per topic since the start (sampled runs count for the runs they stand for).",
    "# TYPE kraken_handler_duration_seconds histogram",
  );
  for (const m of metrics) {
    for (const t of m.topics ?? []) lines.push(...histogram(`${labels(m)}${topicLabels(t)}`, t));
  }
  for (const family of HOST_FAMILIES) {
    lines.push(`# HELP ${family.name} ${family.help}`, `# TYPE ${family.name} ${family.type}`);
    for (const h of options.hosts ?? []) {
      const value = family.value(h);
      if (value !== undefined) {
        lines.push(
          `${family.name}{host="${escapeLabelValue(h.host)}"${extra}} ${formatValue(value)}`,
        );
      }
    }
  }
  lines.push(...scheduleLines(options.schedules ?? [], extra));
  return lines.join("\n") + "\n";
}

/** The schedules' families: ticks by outcome, and the next tick's time. */
function scheduleLines(schedules: readonly ScheduleMetrics[], extra: string): string[] {
  const lines = [
    "# HELP kraken_schedule_ticks_total Ticks of the schedule since it was (re)planned, by outcome: ok, failed (its request failed) or missed.",
    "# TYPE kraken_schedule_ticks_total counter",
  ];
  for (const s of schedules) {
    const name = escapeLabelValue(s.name);
    for (
      const [outcome, n] of [["ok", s.okTicks], ["failed", s.failedTicks], [
        "missed",
        s.missedTicks,
      ]] as const
    ) {
      lines.push(
        `kraken_schedule_ticks_total{schedule="${name}"${extra},outcome="${outcome}"} ${
          formatValue(n)
        }`,
      );
    }
  }
  lines.push(
    "# HELP kraken_schedule_next_timestamp_seconds When the schedule fires next, Unix time in seconds (absent: it never fires again).",
    "# TYPE kraken_schedule_next_timestamp_seconds gauge",
  );
  for (const s of schedules) {
    const next = s.next === null ? NaN : Date.parse(s.next);
    if (Number.isNaN(next)) continue;
    lines.push(
      `kraken_schedule_next_timestamp_seconds{schedule="${escapeLabelValue(s.name)}"${extra}} ${
        formatValue(next / 1000)
      }`,
    );
  }
  return lines;
}

function topicLabels(t: TopicMetrics): string {
  return `,topic="${escapeLabelValue(t.topic)}",kind="${t.kind}"`;
}

/** One topic's `_bucket` (cumulative), `_sum` and `_count` lines. */
function histogram(labels: string, t: TopicMetrics): string[] {
  const lines: string[] = [];
  let below = 0;
  for (let i = 0; i < LE.length; i++) {
    below += t.buckets[i] ?? 0;
    lines.push(`kraken_handler_duration_seconds_bucket{${labels},le="${LE[i]}"} ${below}`);
  }
  lines.push(
    `kraken_handler_duration_seconds_sum{${labels}} ${formatValue(seconds(t.sumMs))}`,
    // The +Inf bucket and the count must agree: both are the sum of the buckets.
    `kraken_handler_duration_seconds_count{${labels}} ${below}`,
  );
  return lines;
}

/** Milliseconds as seconds, rounded to the nanosecond (no 0.30000000000000004 in the text). */
function seconds(ms: number): number {
  return Math.round(ms * 1e6) / 1e9;
}

/**
 * Escapes a label value as the text format requires: `\` → `\\`, `"` → `\"`, newline → `\n`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeLabelValue } from "./prometheus.ts";
 * assert.equal(escapeLabelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
 * ```
 */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => c === "\n" ? "\\n" : `\\${c}`);
}

/** A sample value: integers as they are, floats in shortest form, non-finite as Go spells them. */
function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}
