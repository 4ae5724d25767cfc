// Per-container metrics, end to end: what rt.metrics() shows after real traffic, failures and
// restarts, in each local mode (inline, worker, process); then the pure recorder and book.
import assert from "node:assert/strict";
import { RemoteError, type Runtime, type TopologyInput } from "../../mod.ts";
import {
  bucketOf,
  bucketUpperMs,
  type ContainerMetrics,
  MetricsBook,
  MetricsRecorder,
  percentile,
  readFigureSet,
  WINDOW,
} from "../../runtime/_metrics.ts";
import { MODES, nextEvent, waitUntil, withRuntime } from "../_helpers.ts";

const fast = { intensity: 10, backoff: { min: 1, max: 5 } };
const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

function metricsOf(rt: Runtime, name: string): ContainerMetrics {
  const found = rt.metrics().find((m) => m.container === name);
  if (!found) throw new Error(`${name} has no metrics entry`);
  return found;
}

/** The figures a test can pin exactly (not the times, not memory). */
function counts(m: ContainerMetrics) {
  const { instances, messagesIn, messagesOut, requests, errors, restarts, queueDepth } = m;
  return { instances, messagesIn, messagesOut, requests, errors, restarts, queueDepth };
}

for (const mode of MODES) {
  const one = (config: Record<string, unknown> = {}) => ({
    supervisor: fast,
    containers: { m: { module: "./metered.ts", mode, config } },
  });

  Deno.test(`[${mode}] metrics count N requests, K sends, one handler error and its restart exactly`, async () => {
    await withRuntime(one(), async (rt) => {
      const ref = rt.ref("m");
      for (let i = 0; i < 5; i++) await ref.request("count");
      for (let i = 0; i < 3; i++) ref.send("note");
      const restarted = nextEvent(rt, "start", (e) => e.container === "m" && e.incarnation === 2);
      await assert.rejects(ref.request("fail"), RemoteError);
      await restarted;
      await ref.request("count"); // counted by the new incarnation
      const expected = {
        instances: 1,
        messagesIn: 5 + 3 + 1 + 1,
        messagesOut: 0,
        requests: 5 + 1 + 1,
        errors: 1,
        restarts: 1,
        queueDepth: 0,
      };
      await waitUntil(
        () => JSON.stringify(counts(metricsOf(rt, "m"))) === JSON.stringify(expected),
        3000,
        `metrics ${JSON.stringify(expected)}, last ${JSON.stringify(counts(metricsOf(rt, "m")))}`,
      );
      await delay(600); // later heartbeats count nothing twice
      assert.deepEqual(counts(metricsOf(rt, "m")), expected);
      assert.equal(metricsOf(rt, "m").mode, mode);
    });
  });

  Deno.test(`[${mode}] a handler that sleeps 20 ms shows p50 >= 20 ms`, async () => {
    await withRuntime(one(), async (rt) => {
      const ref = rt.ref("m");
      assert.equal(metricsOf(rt, "m").handlerP50Ms, null, "no handler has run yet");
      await Promise.all(Array.from({ length: 6 }, () => ref.request("sleep", { ms: 20 })));
      await waitUntil(() => metricsOf(rt, "m").requests === 6, 3000, "6 requests reported");
      const m = metricsOf(rt, "m");
      assert.ok(m.handlerP50Ms !== null && m.handlerP50Ms >= 20, `p50 ${m.handlerP50Ms}`);
      assert.ok(
        m.handlerP99Ms !== null && m.handlerP99Ms >= m.handlerP50Ms,
        `p99 ${m.handlerP99Ms}`,
      );
      assert.ok(m.handlerP99Ms < 2000, `p99 ${m.handlerP99Ms} is implausibly slow`);
    });
  });

  Deno.test(`[${mode}] queueDepth counts the requests in flight in a slow handler`, async () => {
    await withRuntime(one(), async (rt) => {
      const ref = rt.ref("m");
      const waiting = [1, 2, 3].map(() => ref.request("wait"));
      await waitUntil(() => metricsOf(rt, "m").queueDepth === 3, 3000, "3 handlers in flight");
      await ref.request("release");
      await Promise.all(waiting);
      await waitUntil(() => metricsOf(rt, "m").queueDepth === 0, 3000, "none in flight");
      assert.equal(metricsOf(rt, "m").requests, 4);
    });
  });

  Deno.test(`[${mode}] memoryBytes is the RSS in process mode, the isolate heap in a worker, null inline`, async () => {
    await withRuntime(one(), async (rt) => {
      await rt.ref("m").request("count");
      if (mode === "inline") return assert.equal(metricsOf(rt, "m").memoryBytes, null);
      // A worker's heap comes with its first pong (a heartbeat, every 250 ms at most).
      await waitUntil(() => metricsOf(rt, "m").memoryBytes !== null, 3000, "a memory figure");
      const m = metricsOf(rt, "m");
      assert.ok(m.memoryBytes! > 1_000_000, `memory ${m.memoryBytes}`);
    });
  });

  Deno.test(`[${mode}] metrics read during a restart keep their counts and show held messages`, async () => {
    await withRuntime(one({ restartDelay: 400 }), async (rt) => {
      const ref = rt.ref("m");
      for (let i = 0; i < 4; i++) await ref.request("count");
      let back = false;
      const restarted = nextEvent(rt, "start", (e) => e.container === "m" && e.incarnation === 2)
        .then(() => (back = true));
      await assert.rejects(ref.request("fail"), RemoteError);
      const held = ref.request("count"); // held by the host until the container is back
      const seen: ContainerMetrics[] = [];
      const end = performance.now() + 10_000;
      while (!back) {
        if (performance.now() > end) throw new Error("timed out waiting for m's 2nd incarnation");
        seen.push(metricsOf(rt, "m"));
        await delay(10);
      }
      await restarted;
      assert.equal(await held, 1, "the held request reached the new incarnation");
      assert.ok(seen.length > 5, `read ${seen.length} times during the restart`);
      for (const [k, m] of seen.entries()) {
        assert.ok(m.messagesIn >= 5 && m.requests >= 5 && m.errors === 1, JSON.stringify(m));
        if (k > 0) {
          assert.ok(m.messagesIn >= seen[k - 1].messagesIn, "messagesIn never goes back");
          assert.ok(m.requests >= seen[k - 1].requests, "requests never goes back");
        }
      }
      assert.ok(
        seen.some((m) => m.instances === 0 && m.queueDepth === 1),
        "while away, the held request is its queue",
      );
      await waitUntil(() => metricsOf(rt, "m").requests === 6, 3000, "6 requests reported");
      assert.deepEqual(counts(metricsOf(rt, "m")), {
        instances: 1,
        messagesIn: 6,
        messagesOut: 0,
        requests: 6,
        errors: 1,
        restarts: 1,
        queueDepth: 0,
      });
    });
  });

  Deno.test(`[${mode}] messagesOut counts what ctx.ref() and ctx.publish make; publications count in`, async () => {
    const two = {
      containers: {
        a: { module: "./metered.ts", mode },
        b: { module: "./metered.ts", mode, config: { listen: true } },
      },
    };
    await withRuntime(two, async (rt) => {
      const a = rt.ref("a");
      assert.equal(await a.request("ask", { to: "b", topic: "count" }), 1);
      await a.request("tell", { to: "b", topic: "note" });
      await a.request("shout", { topic: "news" });
      rt.publish("news", {}); // the host's own: nobody's messages out, b's in
      const done = () => {
        const [ma, mb] = [metricsOf(rt, "a"), metricsOf(rt, "b")];
        return ma.requests === 3 && mb.messagesIn === 4;
      };
      await waitUntil(done, 3000, "a's and b's figures");
      await delay(300);
      const [ma, mb] = [metricsOf(rt, "a"), metricsOf(rt, "b")];
      assert.deepEqual([ma.messagesIn, ma.messagesOut, ma.requests], [3, 3, 3]);
      assert.deepEqual([mb.messagesIn, mb.messagesOut, mb.requests], [4, 0, 1]);
    });
  });
}

Deno.test("children of a process container are counted through its heartbeat", async () => {
  const topology: TopologyInput = {
    supervisor: fast,
    containers: {
      billing: {
        module: "./metered.ts",
        mode: "process",
        children: {
          ledger: { module: "./metered.ts", mode: "inline" },
          mailer: { module: "./metered.ts", mode: "worker" },
        },
      },
    },
  };
  await withRuntime(topology, async (rt) => {
    await waitUntil(() => rt.metrics().length === 3, 3000, "the subtree");
    for (let i = 0; i < 2; i++) await rt.ref("ledger").request("count");
    for (let i = 0; i < 3; i++) await rt.ref("mailer").request("count");
    await waitUntil(
      () => metricsOf(rt, "ledger").requests === 2 && metricsOf(rt, "mailer").requests === 3,
      3000,
      "the children's figures",
    );
    const all = rt.metrics();
    assert.deepEqual(all.map((m) => [m.container, m.mode]), [
      ["billing", "process"],
      ["ledger", "inline"],
      ["mailer", "worker"],
    ]);
    assert.deepEqual(all.map((m) => m.messagesIn), [0, 2, 3]);
    assert.ok((all[0].memoryBytes ?? 0) > 0, "the process's RSS");
    assert.equal(all[1].memoryBytes, null, "an inline child shares its parent's process");
    // A nested worker's own isolate heap, measured in its process.
    await waitUntil(() => metricsOf(rt, "mailer").memoryBytes !== null, 3000, "mailer's heap");
  });
});

// ---- the pure parts ----------------------------------------------------------------------------

Deno.test("a percentile is the upper bound of the bucket holding its nearest rank", () => {
  const h = [bucketOf(1), 90, bucketOf(5), 9, bucketOf(80), 1];
  assert.equal(percentile(h, 0.5), bucketUpperMs(bucketOf(1)));
  assert.equal(percentile(h, 0.99), bucketUpperMs(bucketOf(5)));
  assert.equal(percentile(h, 1), bucketUpperMs(bucketOf(80)));
  assert.equal(percentile([], 0.5), null);
  for (const ms of [0.0005, 0.003, 1, 19.7, 20, 1234.5]) {
    const upper = bucketUpperMs(bucketOf(ms));
    assert.ok(upper >= ms && upper <= Math.max(ms * 1.1, 0.001), `${ms} -> ${upper}`);
  }
});

Deno.test("the recorder's window keeps the last WINDOW handler times", () => {
  const rec = new MetricsRecorder();
  for (let k = 0; k < WINDOW; k++) rec.record(100);
  assert.equal(percentile(rec.figures().h, 0.5), bucketUpperMs(bucketOf(100)));
  for (let k = 0; k < WINDOW / 2 + 1; k++) rec.record(1);
  assert.equal(percentile(rec.figures().h, 0.5), bucketUpperMs(bucketOf(1)), "newer outnumber");
  const total = rec.figures().h.filter((_, k) => k % 2 === 1).reduce((a, b) => a + b, 0);
  assert.equal(total, WINDOW);
});

Deno.test("the recorder times the first run, then samples fast runs sparsely", () => {
  const rec = new MetricsRecorder();
  let timed = 0;
  for (let k = 0; k < 10_000; k++) {
    const t0 = --rec.skip > 0 ? -1 : rec.start();
    if (t0 >= 0) {
      timed++;
      rec.stop(t0);
    }
  }
  assert.ok(timed >= 1 && timed < 2_000, `timed ${timed} of 10000 trivial runs`);
});

Deno.test("the book keeps an ended instance's counters but not its in-flight handlers", () => {
  const book = new MetricsBook();
  const figures = (i: number, f: number) => ({ i, o: 1, r: i, e: 0, f, q: 0, h: [8, i], m: null });
  const old = { figures: () => ({ api: figures(5, 2) }) };
  const current = { figures: () => ({ api: figures(3, 1) }) };
  book.track(old);
  book.track(current);
  assert.deepEqual([book.collect().get("api")!.i, book.collect().get("api")!.f], [8, 3]);
  book.retire(old);
  book.retire(old); // once only
  const api = book.collect({ api: 4 }).get("api")!;
  assert.deepEqual([api.i, api.o, api.f, api.q, api.h], [8, 2, 1, 4, [8, 8]]);
});

Deno.test("figures from an isolate are checked before they are added up", () => {
  const good = { i: 1, o: 0, r: 1, e: 0, f: 0, q: 0, h: [8, 1], m: null };
  assert.deepEqual(readFigureSet({ k: "pong", m: { api: good } }), { api: good });
  assert.equal(readFigureSet({ k: "pong" }), null);
  for (
    const bad of [
      { api: { ...good, i: -1 } },
      { api: { ...good, r: Infinity } },
      { api: { ...good, h: [8] } },
      { api: { ...good, h: [100_000, 1] } },
      { api: { ...good, m: "big" } },
      { api: null },
      [good],
    ]
  ) {
    assert.equal(readFigureSet({ k: "pong", m: bad }), null, JSON.stringify(bad));
  }
});
