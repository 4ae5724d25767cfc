// A real Prometheus server (Debian's `prometheus`; .ci/run installs it) scrapes a real
// `kraken start` with the bearer token, and answers PromQL over what it scraped: the request
// counter and a quantile of the per-topic handler-time histogram.
import assert from "node:assert/strict";
import { FIXTURES, freePort } from "../_helpers.ts";
import { krakenInBackground, Running } from "../cli/_cli.ts";

const TOKEN = "prometheus-scrape-token";
const PROMETHEUS = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"].find((path) => {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
});

/** One PromQL instant query: the samples' labels and values (empty: no result yet). */
async function query(
  base: string,
  promql: string,
): Promise<{ metric: Record<string, string>; value: number }[]> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = await res.json();
  assert.equal(body.status, "success", `${promql}: ${JSON.stringify(body)}`);
  return body.data.result.map((r: { metric: Record<string, string>; value: [number, string] }) => ({
    metric: r.metric,
    value: Number(r.value[1]),
  }));
}

Deno.test({
  name:
    "a real Prometheus scrapes kraken start with the bearer token and answers PromQL over its counters and histograms",
  ignore: !PROMETHEUS,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "kraken-prometheus-" });
    const apiPort = freePort();
    const promPort = freePort();
    const module = new URL("metered.ts", FIXTURES).pathname;
    await Deno.writeTextFile(
      `${dir}/kraken.yaml`,
      [
        "name: scraped",
        "containers:",
        `  shop: { module: ${module}, mode: inline }`,
        `  stock: { module: ${module}, mode: worker, replicas: 2 }`,
        "management:",
        `  listen: 127.0.0.1:${apiPort}`,
        "  token: ${KRAKEN_TOKEN}",
        "",
      ].join("\n"),
    );
    await Deno.writeTextFile(`${dir}/token`, TOKEN);
    await Deno.writeTextFile(
      `${dir}/prometheus.yml`,
      [
        "global: { scrape_interval: 1s, evaluation_interval: 1s }",
        "scrape_configs:",
        "  - job_name: kraken",
        `    static_configs: [{ targets: ["127.0.0.1:${apiPort}"] }]`,
        `    authorization: { credentials_file: ${dir}/token }`,
        "",
      ].join("\n"),
    );
    let kraken: Running | null = null;
    let prometheus: Running | null = null;
    try {
      kraken = krakenInBackground(["start", `${dir}/kraken.yaml`], {
        env: { KRAKEN_TOKEN: TOKEN },
      });
      const [, url] = await kraken.waitFor(/management API: (http:\/\/127\.0\.0\.1:\d+\/)/);
      await kraken.waitFor(/Ctrl-C to stop/);
      const call = async (container: string, topic: string, body?: unknown) => {
        const res = await fetch(new URL(`v1/containers/${container}/call`, url), {
          method: "POST",
          headers: { authorization: `Bearer ${TOKEN}` },
          body: JSON.stringify({ topic, body }),
        });
        assert.equal(res.status, 200, `${container} ${topic}: ${await res.clone().text()}`);
        await res.body?.cancel();
      };
      for (let i = 0; i < 20; i++) await call("shop", "count");
      for (let i = 0; i < 10; i++) await call("stock", "sleep", { ms: 20 });

      prometheus = new Running(
        new Deno.Command(PROMETHEUS!, {
          args: [
            `--config.file=${dir}/prometheus.yml`,
            `--storage.tsdb.path=${dir}/data`,
            `--web.listen-address=127.0.0.1:${promPort}`,
          ],
          cwd: dir,
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }),
      );
      const base = `http://127.0.0.1:${promPort}`;
      await prometheus.waitFor(/Server is ready to receive web requests/, 30_000, "stderr");

      // Bounded: a scrape a second, and the workers' figures come with their heartbeats.
      let requests: number | undefined;
      const deadline = performance.now() + 30_000;
      while (requests !== 30) {
        if (performance.now() > deadline) {
          throw new Error(`sum(kraken_requests_total) was ${requests}, not 30, after 30 s`);
        }
        await new Promise((r) => setTimeout(r, 250));
        requests = (await query(base, "sum(kraken_requests_total)"))[0]?.value;
      }

      const up = await query(base, 'up{job="kraken"}');
      assert.deepEqual(up.map((s) => s.value), [1], "the scrape succeeded (the token was taken)");

      const byContainer = await query(base, "sum by (container, host) (kraken_requests_total)");
      assert.deepEqual(
        byContainer.map((s) => [s.metric.container, s.metric.host, s.value]).sort(),
        [["shop", "local", 20], ["stock", "local", 10]],
      );

      // Every 20 ms sleep is in the bucket (16.384 ms, 32.768 ms] (or later, on a busy machine):
      // the median, interpolated inside its bucket, lies above 16 ms.
      const [median] = await query(
        base,
        'histogram_quantile(0.5, sum by (le) (kraken_handler_duration_seconds_bucket{container="stock",topic="sleep"}))',
      );
      assert.ok(median, "a quantile of the sleep topic");
      assert.ok(median.value > 0.016384 && median.value < 2, `median ${median.value} s`);

      const [count] = await query(
        base,
        'sum(kraken_handler_duration_seconds_count{container="stock",topic="sleep"})',
      );
      assert.equal(count?.value, 10);
      const [mean] = await query(
        base,
        'sum(kraken_handler_seconds_sum{container="stock"}) / sum(kraken_handler_seconds_count{container="stock"})',
      );
      assert.ok(mean.value >= 0.02 && mean.value < 2, `mean ${mean.value} s`);

      // The runtime itself, labelled by host too.
      const [memory] = await query(base, 'kraken_host_memory_bytes{host="local"}');
      assert.ok(memory?.value > 10 * 2 ** 20, `the runtime's resident memory: ${memory?.value}`);
    } finally {
      if (prometheus) {
        prometheus.child.kill("SIGTERM");
        await prometheus.exit(30_000);
      }
      if (kraken) {
        await fetch(`http://127.0.0.1:${apiPort}/v1/shutdown`, {
          method: "POST",
          headers: { authorization: `Bearer ${TOKEN}` },
        }).then((res) => res.body?.cancel()).catch(() => {});
        const code = await kraken.exit(30_000).catch(async (error) => {
          await kraken?.kill();
          throw error;
        });
        assert.equal(code, 0, kraken.stderr);
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
});

if (!PROMETHEUS) {
  console.warn(
    "prometheus_server_test: the prometheus server is not installed (apt-get install prometheus): skipped",
  );
}
