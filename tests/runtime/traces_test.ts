// One request across inline, worker and process containers is one trace in an OTLP collector:
// `kraken start` runs with Deno's OpenTelemetry on, exporting OTLP/JSON to a receiver in this test.
import assert from "node:assert/strict";
import { freePort, waitUntil } from "../_helpers.ts";
import { krakenInBackground } from "../cli/_cli.ts";
import { type ExportedSpan, OtlpReceiver, SPAN_KIND } from "../_otlp.ts";

const APP = new URL("../fixtures/traces/kraken.yaml", import.meta.url).pathname;
const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER = "00f067aa0ba902b7";

Deno.test("a request gateway(inline) → orders(worker) → inventory(process) is one trace with parent/child links", async () => {
  const otlp = freePort();
  const port = freePort();
  const receiver = new OtlpReceiver(otlp);
  const app = krakenInBackground(["start", APP], {
    env: { ...OtlpReceiver.env(otlp), TRACE_PORT: String(port) },
  });
  try {
    await app.waitFor(/Ctrl-C to stop/);
    const answer = await fetch(`http://127.0.0.1:${port}/order`, {
      method: "POST",
      headers: { traceparent: `00-${TRACE}-${CALLER}-01`, tracestate: "shop=1" },
      body: JSON.stringify({ sku: "kr-1" }),
    });
    assert.deepEqual(await answer.json(), { sku: "kr-1", reserved: true });
    // A malformed traceparent is dropped at the edge: that request starts a trace of its own.
    const other = await fetch(`http://127.0.0.1:${port}/order`, {
      method: "POST",
      headers: { traceparent: `00-${TRACE.toUpperCase()}-${CALLER}-01` },
      body: JSON.stringify({ sku: "kr-2" }),
    });
    assert.equal(other.status, 200);
    await other.body?.cancel();

    const ours = () => receiver.spans.filter((s) => s.traceId === TRACE);
    const want = [
      "gateway POST",
      "orders place",
      "inventory reserve",
    ];
    await waitUntil(
      () =>
        want.every((name) => ours().some((s) => s.name === name && s.kind === SPAN_KIND.server)),
      20_000,
      `server spans ${want.join(", ")} in trace ${TRACE}; got ${JSON.stringify(receiver.spans)}`,
    );
    const spans = ours();
    const one = (name: string, kind: number): ExportedSpan => {
      const found = ours().filter((s) => s.name === name && s.kind === kind);
      assert.equal(found.length, 1, `one ${name} span of kind ${kind}: ${JSON.stringify(spans)}`);
      return found[0];
    };
    const gateway = one("gateway POST", SPAN_KIND.server);
    const toOrders = one("orders place", SPAN_KIND.client);
    const orders = one("orders place", SPAN_KIND.server);
    const toInventory = one("inventory reserve", SPAN_KIND.client);
    const inventory = one("inventory reserve", SPAN_KIND.server);
    // Continues the caller's span: directly, or under the span Deno's HTTP server made for it.
    const http = spans.find((s) => s.spanId === gateway.parentSpanId);
    assert.equal(http ? http.parentSpanId : gateway.parentSpanId, CALLER, JSON.stringify(spans));
    assert.equal(toOrders.parentSpanId, gateway.spanId);
    assert.equal(orders.parentSpanId, toOrders.spanId, "across the worker boundary");
    assert.equal(toInventory.parentSpanId, orders.spanId);
    assert.equal(inventory.parentSpanId, toInventory.spanId, "across the process boundary");
    assert.equal(gateway.attributes["kraken.node"], "host");
    assert.match(String(orders.attributes["kraken.node"]), /^w\d+$/);
    assert.match(String(inventory.attributes["kraken.node"]), /^p\d+$/);
    assert.equal(inventory.attributes["kraken.instance"], "inventory#0.1");
    // A send (no reply) is a producer span in the worker and a consumer span in the process.
    await waitUntil(
      () => ours().some((s) => s.name === "inventory note" && s.kind === SPAN_KIND.consumer),
      20_000,
      "the send's consumer span",
    );
    const toNote = one("inventory note", SPAN_KIND.producer);
    const note = ours().find((s) => s.name === "inventory note" && s.kind === SPAN_KIND.consumer)!;
    assert.equal(toNote.parentSpanId, orders.spanId);
    assert.equal(note.parentSpanId, toNote.spanId, "a send across the process boundary");

    // The second request's spans form a trace of their own, not the malformed header's.
    await waitUntil(
      () => receiver.spans.some((s) => s.name === "inventory reserve" && s.traceId !== TRACE),
      20_000,
      "the second request's spans",
    );
    const fresh = receiver.spans.find((s) => s.name === "gateway POST" && s.traceId !== TRACE);
    assert.ok(fresh, "the second request's gateway span");
    const freshHttp = receiver.spans.find((s) => s.spanId === fresh.parentSpanId);
    assert.equal(
      freshHttp ? freshHttp.parentSpanId : fresh.parentSpanId,
      undefined,
      "a malformed traceparent is no parent",
    );
  } finally {
    await app.kill();
    await receiver.close();
  }
});

Deno.test("with OTEL_DENO on but no @opentelemetry/api in the import map, a runtime starts untraced and says why", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kraken-nomap-" });
  try {
    const root = new URL("../../", import.meta.url);
    await Deno.writeTextFile(`${dir}/deno.json`, JSON.stringify({ unstable: ["worker-options"] }));
    await Deno.writeTextFile(
      `${dir}/app.ts`,
      `import { Runtime } from "${new URL("mod.ts", root).href}";
const logs: string[] = [];
const rt = await Runtime.start({
  name: "nomap",
  containers: { echo: { module: "${
        new URL("tests/fixtures/echo.ts", root).href
      }", mode: "worker" } },
}, { logger: (e) => logs.push(e.message) });
const reply = await rt.ref("echo").request("echo", "hi");
await rt.shutdown();
console.log(JSON.stringify({ reply, logs }));
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-prompt", "--config", `${dir}/deno.json`, `${dir}/app.ts`],
      cwd: dir,
      env: { OTEL_DENO: "true", OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const { reply, logs } = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.equal(reply, "hi");
    assert.ok(
      logs.some((l: string) =>
        /^OTEL_DENO is on but this runtime records no spans: @opentelemetry\/api could not be loaded \(.+\); add "@opentelemetry\/api"/
          .test(l)
      ),
      JSON.stringify(logs),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
