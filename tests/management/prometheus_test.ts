// prometheusText: rt.metrics() as Prometheus text exposition format 0.0.4.
import assert from "node:assert/strict";
import type { ContainerMetrics } from "../../runtime/_metrics.ts";
import { escapeLabelValue, prometheusText } from "../../management/prometheus.ts";

const api: ContainerMetrics = {
  container: "api",
  mode: "worker",
  instances: 2,
  messagesIn: 120,
  messagesOut: 7,
  requests: 118,
  errors: 1,
  restarts: 1,
  handlerP50Ms: 1.5,
  handlerP99Ms: 21.247,
  queueDepth: 3,
  memoryBytes: null,
  violations: 0,
  host: "local",
  entities: 1500,
  topics: [{
    topic: "greet",
    kind: "handler",
    runs: 118,
    sumMs: 236.5,
    // 100 runs of at most 1.024 ms, 17 of at most 2.048 ms, 1 over 33.6 s.
    buckets: [0, 0, 0, 0, 0, 0, 100, 17, ...new Array(14).fill(0), 1],
  }],
};
const billing: ContainerMetrics = {
  container: "billing",
  mode: "process",
  instances: 1,
  messagesIn: 0,
  messagesOut: 0,
  requests: 0,
  errors: 0,
  restarts: 0,
  handlerP50Ms: null,
  handlerP99Ms: null,
  queueDepth: 0,
  memoryBytes: 52_428_800,
  violations: 0,
  host: "node-b",
};

/** A sample line: name, optional labels with escaped values, a value (spec 0.0.4). */
const SAMPLE =
  /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*\})? (?:[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|NaN|[+-]Inf)$/;
const HELP = /^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* [^\n]*$/;
const TYPE = /^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped)$/;

Deno.test("prometheusText renders a small fixture exactly", () => {
  const hosts = [
    { host: "local", up: true, memoryBytes: 80_000_000, relayed: 12, refused: 1 },
    { host: "node-b", up: false, replicas: 1, memoryBytes: 60_000_000 },
  ];
  assert.equal(
    prometheusText([api, billing], { hosts }),
    `# HELP kraken_container_instances Running instances of the container.
# TYPE kraken_container_instances gauge
kraken_container_instances{container="api",mode="worker",host="local"} 2
kraken_container_instances{container="billing",mode="process",host="node-b"} 1
# HELP kraken_messages_in_total Requests, sends and publications delivered to the container's instances.
# TYPE kraken_messages_in_total counter
kraken_messages_in_total{container="api",mode="worker",host="local"} 120
kraken_messages_in_total{container="billing",mode="process",host="node-b"} 0
# HELP kraken_messages_out_total Requests, sends and publications the container's instances made.
# TYPE kraken_messages_out_total counter
kraken_messages_out_total{container="api",mode="worker",host="local"} 7
kraken_messages_out_total{container="billing",mode="process",host="node-b"} 0
# HELP kraken_requests_total Requests the container's handlers completed, ok or error.
# TYPE kraken_requests_total counter
kraken_requests_total{container="api",mode="worker",host="local"} 118
kraken_requests_total{container="billing",mode="process",host="node-b"} 0
# HELP kraken_handler_errors_total Errors thrown or rejected by the container's handlers.
# TYPE kraken_handler_errors_total counter
kraken_handler_errors_total{container="api",mode="worker",host="local"} 1
kraken_handler_errors_total{container="billing",mode="process",host="node-b"} 0
# HELP kraken_violations_total Envelopes the container's isolates had no right to send (dropped): broken or hostile code.
# TYPE kraken_violations_total counter
kraken_violations_total{container="api",mode="worker",host="local"} 0
kraken_violations_total{container="billing",mode="process",host="node-b"} 0
# HELP kraken_restarts_total Restarts of the container's replicas.
# TYPE kraken_restarts_total counter
kraken_restarts_total{container="api",mode="worker",host="local"} 1
kraken_restarts_total{container="billing",mode="process",host="node-b"} 0
# HELP kraken_queue_depth Handlers in flight plus messages held for the container while it restarts.
# TYPE kraken_queue_depth gauge
kraken_queue_depth{container="api",mode="worker",host="local"} 3
kraken_queue_depth{container="billing",mode="process",host="node-b"} 0
# HELP kraken_entities_active Entities active in the container's instances (a container made by entities() only).
# TYPE kraken_entities_active gauge
kraken_entities_active{container="api",mode="worker",host="local"} 1500
# HELP kraken_memory_bytes Memory of the container's instances: RSS of its processes, isolate heap of its workers.
# TYPE kraken_memory_bytes gauge
kraken_memory_bytes{container="billing",mode="process",host="node-b"} 52428800
# HELP kraken_handler_seconds Handler time: quantiles over the recent window (upper bound of a ~9% bucket), sum and count since the start.
# TYPE kraken_handler_seconds summary
kraken_handler_seconds{container="api",mode="worker",host="local",quantile="0.5"} 0.0015
kraken_handler_seconds{container="api",mode="worker",host="local",quantile="0.99"} 0.021247
kraken_handler_seconds_sum{container="api",mode="worker",host="local"} 0.2365
kraken_handler_seconds_count{container="api",mode="worker",host="local"} 118
kraken_handler_seconds_sum{container="billing",mode="process",host="node-b"} 0
kraken_handler_seconds_count{container="billing",mode="process",host="node-b"} 0
# HELP kraken_handler_duration_seconds Handler time per topic since the start (sampled runs count for the runs they stand for).
# TYPE kraken_handler_duration_seconds histogram
kraken_handler_duration_seconds_bucket{container="api",mode="worker",host="local",topic="greet",kind="handler",le="0.000016"} 0
kraken_handler_duration_seconds_bucket{container="api",mode="worker",host="local",topic="greet",kind="handler",le="0.000032"} 0
kraken_handler_duration_seconds_bucket{container="api",mode="worker",host="local",topic="greet",kind="handler",le="0.000064"} 0
kraken_handler_duration_seconds_bucket{container="api",mode="worker",host="local",topic="greet",kind="handler",le="0.000128"} 0
kraken_handler_duration_seconds_bucket{container="api",mode="worker",host="local",topic="greet",kind="handler",le="0.000256"} 0
kraken_handler_duration_seconds_bucket{container="api",mode="worker",host="local",topic="greet",kind="handler",le="0.000512"} 0
kraken_handler_duration_seconds_bucket{container="api",mode="worker",host="local",topic="greet",kind="handler",le="0.001024"} 100
kraken_handler_duration_seconds_bucket{container="api",mode="worker",host="local",topic="greet",kind="handler",le="0.002048"} 117
kraken_handler_duration_seconds_bucket{container="api",mode="worker",host="local",topic="greet",kind="handler",le="0.004096"} 117
kraken_handler_duration_seconds_bucket{container="api",mode="worker",host="local",topic="greet",kind="handler",le="0.008192"} 117
kraken_handler_duration_seconds_bucket{container="api",mode="worker",host="local",topic="greet",kind="handler",le="0.016384"} 117
kraken_handler_duration_seconds_bucket{container="api",mode="worker",host="local",topic="greet",kind="handler",le="0.032768"} 117
kraken_handler_duration_seconds_bucket{container="api",mode="worker",host="local",topic="greet",kind="handler",le="0.065536"} 117
kraken_handler_duration_seconds_bucket{container="api",mode="worker",host="local",topic="greet",kind="handler",le="0.131072"} 117
kraken_handler_duration_seconds_bucket{container="api",mode="worker",host="local",topic="greet",kind="handler",le="0.262144"} 117
kraken_handler_duration_seconds_bucket{container="api",mode="worker",host="local",topic="greet",kind="handler",le="0.524288"} 117
kraken_handler_duration_seconds_bucket{container="api",mode="worker",host="local",topic="greet",kind="handler",le="1.048576"} 117
kraken_handler_duration_seconds_bucket{container="api",mode="worker",host="local",topic="greet",kind="handler",le="2.097152"} 117
kraken_handler_duration_seconds_bucket{container="api",mode="worker",host="local",topic="greet",kind="handler",le="4.194304"} 117
kraken_handler_duration_seconds_bucket{container="api",mode="worker",host="local",topic="greet",kind="handler",le="8.388608"} 117
kraken_handler_duration_seconds_bucket{container="api",mode="worker",host="local",topic="greet",kind="handler",le="16.777216"} 117
kraken_handler_duration_seconds_bucket{container="api",mode="worker",host="local",topic="greet",kind="handler",le="33.554432"} 117
kraken_handler_duration_seconds_bucket{container="api",mode="worker",host="local",topic="greet",kind="handler",le="+Inf"} 118
kraken_handler_duration_seconds_sum{container="api",mode="worker",host="local",topic="greet",kind="handler"} 0.2365
kraken_handler_duration_seconds_count{container="api",mode="worker",host="local",topic="greet",kind="handler"} 118
# HELP kraken_host_up 1 when the runtime (this one, or a peer or host agent) is linked, else 0.
# TYPE kraken_host_up gauge
kraken_host_up{host="local"} 1
kraken_host_up{host="node-b"} 0
# HELP kraken_host_memory_bytes Resident memory of the runtime's own process (its workers included, not its processes).
# TYPE kraken_host_memory_bytes gauge
kraken_host_memory_bytes{host="local"} 80000000
kraken_host_memory_bytes{host="node-b"} 60000000
# HELP kraken_host_replicas Replicas a host agent runs (for every root that placed them).
# TYPE kraken_host_replicas gauge
kraken_host_replicas{host="node-b"} 1
# HELP kraken_host_relayed_total Messages the runtime relayed between two containers outside it.
# TYPE kraken_host_relayed_total counter
kraken_host_relayed_total{host="local"} 12
# HELP kraken_host_refused_total Input the runtime refused at its edges (children, peers, NATS): dropped and logged.
# TYPE kraken_host_refused_total counter
kraken_host_refused_total{host="local"} 1
# HELP kraken_schedule_ticks_total Ticks of the schedule since it was (re)planned, by outcome: ok, failed (its request failed) or missed.
# TYPE kraken_schedule_ticks_total counter
# HELP kraken_schedule_next_timestamp_seconds When the schedule fires next, Unix time in seconds (absent: it never fires again).
# TYPE kraken_schedule_next_timestamp_seconds gauge
`,
  );
});

Deno.test("prometheusText with no containers is only HELP and TYPE lines", () => {
  const lines = prometheusText([]).trimEnd().split("\n");
  assert.equal(lines.length, 38);
  assert.ok(lines.every((line) => HELP.test(line) || TYPE.test(line)));
});

Deno.test("label values escape backslash, double quote and newline", () => {
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  assert.equal(escapeLabelValue("plain-name_1.ü"), "plain-name_1.ü");
  const odd = { ...api, container: 'we"ird\\na\nme' };
  const text = prometheusText([odd], { labels: { app: 'sh"op\n' } });
  assert.ok(
    text.includes(
      'kraken_requests_total{container="we\\"ird\\\\na\\nme",mode="worker",host="local",app="sh\\"op\\n"} 118\n',
    ),
    text,
  );
});

Deno.test("every line of the output parses as HELP, TYPE or a sample", () => {
  const odd = { ...billing, container: 'x\\"\n\n\\', handlerP50Ms: 0.001, handlerP99Ms: 9e9 };
  const text = prometheusText([api, billing, odd], { labels: { region: "eu-west\n1" } });
  assert.ok(text.endsWith("\n"), "the last line ends with a newline");
  const lines = text.slice(0, -1).split("\n");
  let samples = 0;
  for (const line of lines) {
    if (line.startsWith("# HELP ")) assert.match(line, HELP);
    else if (line.startsWith("# TYPE ")) assert.match(line, TYPE);
    else {
      assert.match(line, SAMPLE);
      samples++;
    }
  }
  // 8 families × 3 containers, memory for 2, active entities for 1 (api), quantiles for 2
  // containers × 2, summary sum and count for 3, and one topic's histogram: 23 buckets, sum, count.
  assert.equal(samples, 8 * 3 + 2 + 1 + 2 * 2 + 3 * 2 + 25);
  // Each family's TYPE comes once, before its samples.
  const types = lines.filter((l) => l.startsWith("# TYPE ")).map((l) => l.split(" ")[2]);
  assert.equal(new Set(types).size, types.length);
});

Deno.test("prometheusText refuses extra labels Prometheus or Kraken would not accept", () => {
  assert.throws(() => prometheusText([api], { labels: { "bad-name": "x" } }), TypeError);
  assert.throws(() => prometheusText([api], { labels: { __reserved: "x" } }), TypeError);
  assert.throws(
    () => prometheusText([api], { labels: { container: "x" } }),
    /label "container" is set by Kraken/,
  );
});

Deno.test("prometheusText serves each schedule's ticks by outcome and its next tick's time", () => {
  const text = prometheusText([], {
    labels: { app: "shop" },
    schedules: [
      {
        name: "beat",
        next: "2026-12-05T00:00:10.500Z",
        okTicks: 3,
        failedTicks: 1,
        missedTicks: 2,
      },
      { name: "once", next: null, okTicks: 1, failedTicks: 0, missedTicks: 0 },
    ],
  });
  const lines = text.split("\n");
  const from = lines.indexOf("# TYPE kraken_schedule_ticks_total counter");
  assert.deepEqual(lines.slice(from + 1), [
    'kraken_schedule_ticks_total{schedule="beat",app="shop",outcome="ok"} 3',
    'kraken_schedule_ticks_total{schedule="beat",app="shop",outcome="failed"} 1',
    'kraken_schedule_ticks_total{schedule="beat",app="shop",outcome="missed"} 2',
    'kraken_schedule_ticks_total{schedule="once",app="shop",outcome="ok"} 1',
    'kraken_schedule_ticks_total{schedule="once",app="shop",outcome="failed"} 0',
    'kraken_schedule_ticks_total{schedule="once",app="shop",outcome="missed"} 0',
    "# HELP kraken_schedule_next_timestamp_seconds When the schedule fires next, Unix time in seconds (absent: it never fires again).",
    "# TYPE kraken_schedule_next_timestamp_seconds gauge",
    // A schedule that never fires again has no sample.
    'kraken_schedule_next_timestamp_seconds{schedule="beat",app="shop"} 1796428810.5',
    "",
  ]);
  assert.throws(
    () => prometheusText([], { labels: { outcome: "x" } }),
    /label "outcome" is set by Kraken/,
  );
});
