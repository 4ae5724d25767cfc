// Handler time per topic, as a cumulative histogram: what rt.metrics() shows after real traffic in
// each local mode (inline, worker, process), then the pure sampler, the cap and the wire check.
import assert from "node:assert/strict";
import { RemoteError, type Runtime, type TopicMetrics } from "../../mod.ts";
import { readFigureSet } from "../../runtime/_metrics.ts";
import {
  HANDLER_BUCKETS_MS,
  MAX_TOPICS,
  OTHER_TOPIC,
  readTopicSet,
  TopicSampler,
  TopicSamplers,
} from "../../runtime/_topic_metrics.ts";
import { MODES, nextEvent, waitUntil, withRuntime } from "../_helpers.ts";

function topicOf(rt: Runtime, container: string, topic: string): TopicMetrics | undefined {
  const m = rt.metrics().find((m) => m.container === container);
  return m?.topics?.find((t) => t.topic === topic);
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

for (const mode of MODES) {
  Deno.test(`[${mode}] handler time per topic: each topic its own histogram, a subscription too, kept across a restart`, async () => {
    const topology = {
      supervisor: { intensity: 10, backoff: { min: 1, max: 5 } },
      containers: { m: { module: "./metered.ts", mode, config: { listen: true } } },
    };
    await withRuntime(topology, async (rt) => {
      const ref = rt.ref("m");
      await Promise.all(Array.from({ length: 4 }, () => ref.request("sleep", { ms: 20 })));
      rt.publish("news", {});
      rt.publish("news", {});
      const restarted = nextEvent(rt, "start", (e) => e.container === "m" && e.incarnation === 2);
      await assert.rejects(ref.request("fail"), RemoteError);
      await restarted;
      await ref.request("sleep", { ms: 20 }); // the new incarnation's, added to the old one's
      await waitUntil(
        () => topicOf(rt, "m", "sleep")?.runs === 5 && topicOf(rt, "m", "news")?.runs === 2,
        5000,
        `sleep and news counted, last ${JSON.stringify(rt.metrics()[0]?.topics)}`,
      );
      const sleep = topicOf(rt, "m", "sleep")!;
      assert.equal(sleep.kind, "handler");
      assert.equal(sum(sleep.buckets), 5, "every run is in one bucket");
      // 20 ms is over the bound 16.384 ms: nothing in the buckets at or below it.
      const at16 = HANDLER_BUCKETS_MS.indexOf(16.384);
      assert.equal(sum(sleep.buckets.slice(0, at16 + 1)), 0, JSON.stringify(sleep.buckets));
      assert.ok(sleep.sumMs >= 5 * 20 && sleep.sumMs < 5 * 2000, `sum ${sleep.sumMs} ms`);
      const news = topicOf(rt, "m", "news")!;
      assert.equal(news.kind, "subscription");
      assert.equal(topicOf(rt, "m", "fail")?.runs, 1);
      assert.equal(topicOf(rt, "m", "count")?.runs, 0, "a topic that never ran is there, at 0");
    });
  });
}

Deno.test("a sampled run counts for every run since the one timed before it, so counts add up to the runs", () => {
  const sampler = new TopicSampler();
  let timedAt = 0;
  for (let run = 1; run <= 5000; run++) {
    if (--sampler.skip > 0) continue;
    const runs = sampler.take();
    // Very fast runs (0.5 µs): the sampler times fewer and fewer of them.
    sampler.record(0.0005, runs);
    timedAt = run;
    assert.equal(sampler.figures().n, run, `after the timed run ${run}`);
  }
  const { n, b } = sampler.figures();
  assert.ok(5000 - n < 512, `${5000 - n} runs since the last timed one`);
  assert.equal(n, timedAt);
  assert.ok(timedAt < 5000, "not every run was timed");
  assert.deepEqual(b, [0, n], "all in the first bucket");
});

Deno.test("a slower run makes the sampler time sooner, and the counts stay exact", () => {
  const sampler = new TopicSampler();
  const durations = (run: number) => (run % 700 < 300 ? 0.0005 : 2); // fast, then slow, …
  let timedAt = 0;
  for (let run = 1; run <= 3000; run++) {
    if (--sampler.skip > 0) continue;
    sampler.record(durations(run), sampler.take());
    timedAt = run;
    assert.equal(sampler.figures().n, run);
  }
  assert.equal(sampler.figures().n, timedAt);
});

Deno.test("past 64 topics a container's runs count under (other): memory and series stay bounded", () => {
  const samplers = new TopicSamplers();
  for (let i = 0; i < 200; i++) {
    const s = samplers.of("s", `user.${i}`);
    s.record(1, s.take());
  }
  const set = samplers.figures()!;
  assert.equal(Object.keys(set).length, MAX_TOPICS + 1);
  assert.equal(set[`s:${OTHER_TOPIC}`].n, 200 - MAX_TOPICS);
  assert.equal(set["s:user.0"].n, 1);
});

Deno.test("topic figures from an isolate are refused when malformed or unbounded", () => {
  const good = { "h:greet": { n: 2, s: 3.5, b: [7, 2] } };
  assert.deepEqual(readTopicSet(good), good);
  const bad: unknown[] = [
    [],
    { "greet": { n: 1, s: 1, b: [] } }, // no kind
    { "x:greet": { n: 1, s: 1, b: [] } },
    { "h:greet": { n: -1, s: 1, b: [] } },
    { "h:greet": { n: 1, s: Infinity, b: [] } },
    { "h:greet": { n: 1, s: 1, b: [7] } },
    { "h:greet": { n: 1, s: 1, b: [23, 1] } }, // no such bucket
    { "h:greet": { n: 1, s: 1, b: [1.5, 1] } },
    { "h:greet": { n: 1, s: 1, b: [7, -1] } },
    { [`h:${"t".repeat(300)}`]: { n: 1, s: 1, b: [] } },
    Object.fromEntries(
      Array.from({ length: 2 * MAX_TOPICS + 3 }, (_, i) => [`h:${i}`, { n: 0, s: 0, b: [] }]),
    ),
  ];
  for (const t of bad) {
    assert.equal(readTopicSet(t), null, JSON.stringify(t).slice(0, 80));
    const figures = { i: 0, o: 0, r: 0, e: 0, f: 0, q: 0, h: [], m: null, t };
    assert.equal(readFigureSet({ k: "pong", m: { api: figures } }), null, "the whole report");
  }
});
