// GET /metrics after real traffic in every local mode, checked by Prometheus' own linter
// (`promtool check metrics`, Debian's `prometheus` package; .ci/run installs it).
import assert from "node:assert/strict";
import { RemoteError, Runtime } from "../../mod.ts";
import { managementApp } from "../../management/app.ts";
import { prometheusText } from "../../management/prometheus.ts";
import { FIXTURES, waitUntil } from "../_helpers.ts";

const TOKEN = "promtool-token";
const PROMTOOL = ["/usr/bin/promtool", "/usr/local/bin/promtool"].find((path) => {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
});

/** `promtool check metrics` on `text`: its exit code and what it said. */
async function promtool(text: string): Promise<{ code: number; said: string }> {
  const child = new Deno.Command(PROMTOOL!, {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code, said: `${decode(stdout)}${decode(stderr)}` };
}

Deno.test({
  name:
    "promtool check metrics accepts GET /metrics after traffic in inline, worker and process containers",
  ignore: !PROMTOOL,
  async fn() {
    const rt = await Runtime.start({
      name: "promtool",
      supervisor: { intensity: 10, backoff: { min: 1, max: 5 } },
      containers: {
        a: { module: "./metered.ts", mode: "inline" },
        b: { module: "./metered.ts", mode: "worker", replicas: 2, config: { listen: true } },
        c: { module: "./metered.ts", mode: "process", config: { listen: true } },
        rooms: { module: "./entities/room.ts", mode: "worker", entities: { idle: "1m" } },
      },
      schedule: { beat: { every: "1s", to: "a", topic: "count" } },
    }, { logLevel: "silent", baseUrl: FIXTURES.href });
    const closing = new AbortController();
    try {
      const app = managementApp(rt, TOKEN, { signal: closing.signal, heartbeat: 0 });
      await rt.ref("a").request("shout", { topic: "news" });
      for (const name of ["a", "b", "c"]) {
        const ref = rt.ref(name);
        for (let i = 0; i < 50; i++) await ref.request("count");
        await ref.request("sleep", { ms: 5 });
      }
      await assert.rejects(rt.ref("a").request("fail"), RemoteError);
      for (const id of ["r1", "r2"]) await rt.ref("rooms").entity(id).request("bump", { ms: 2 });
      const rooms = () => rt.metrics().find((m) => m.container === "rooms");
      const news = (name: string) =>
        rt.metrics().find((m) => m.container === name)?.topics?.find((t) => t.topic === "news")
          ?.runs;
      // Each replica of b and c got the publication; their heartbeats bring the figures.
      await waitUntil(
        () =>
          news("b") === 2 && news("c") === 1 && rooms()?.entities === 2 &&
          rt.schedules()[0].okTicks >= 1,
        5000,
        "b's and c's news counted, rooms' 2 entities, and a tick of beat answered",
      );
      const res = await app.request("/metrics", { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(res.status, 200);
      const text = await res.text();
      for (const family of ["kraken_handler_duration_seconds", "kraken_handler_seconds"]) {
        assert.match(text, new RegExp(`^# TYPE ${family} (histogram|summary)$`, "m"));
      }
      assert.match(
        text,
        /^kraken_handler_duration_seconds_bucket\{container="c",.*topic="news",kind="subscription",le="\+Inf"\} 1$/m,
      );
      assert.match(text, /^kraken_handler_seconds_count\{container="b",/m);
      assert.match(text, /^# TYPE kraken_entities_active gauge$/m);
      assert.match(text, /^kraken_schedule_ticks_total\{schedule="beat",outcome="ok"\} [1-9]\d*$/m);
      assert.match(
        text,
        /^kraken_schedule_next_timestamp_seconds\{schedule="beat"\} \d+(\.\d+)?$/m,
      );
      assert.match(
        text,
        /^kraken_entities_active\{container="rooms",mode="worker",host="local"\} 2$/m,
      );
      assert.match(
        text,
        /^kraken_handler_duration_seconds_count\{container="rooms",.*topic="bump",kind="handler"\} 2$/m,
      );
      const { code, said } = await promtool(text);
      assert.equal(said, "", "promtool has nothing to say");
      assert.equal(code, 0);
    } finally {
      closing.abort();
      await rt.shutdown();
    }
  },
});

Deno.test({
  name: "promtool check metrics accepts escaped label values and extra labels",
  ignore: !PROMTOOL,
  async fn() {
    const text = prometheusText([{
      container: 'we"ird\\name\n',
      mode: "worker",
      instances: 1,
      messagesIn: 1,
      messagesOut: 0,
      requests: 1,
      errors: 0,
      restarts: 0,
      handlerP50Ms: 0.5,
      handlerP99Ms: 0.5,
      queueDepth: 0,
      memoryBytes: null,
      violations: 0,
      host: "node\\b",
      topics: [{
        topic: 'a "topic"',
        kind: "handler",
        runs: 1,
        sumMs: 0.5,
        buckets: [0, 0, 0, 0, 0, 1],
      }],
    }], { labels: { app: "shop\n1" } });
    const { code, said } = await promtool(text);
    assert.equal(said, "");
    assert.equal(code, 0);
  },
});

if (!PROMTOOL) {
  console.warn("promtool_test: promtool is not installed (apt-get install prometheus): skipped");
}
