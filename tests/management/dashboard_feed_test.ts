// The dashboard's live feed and its per-second samples, without a browser: what GET
// /v1/dashboard/stream sends and when, and how the sparklines' samples are computed.
import assert from "node:assert/strict";
import { Hono } from "hono";
import { Runtime } from "../../mod.ts";
import type { ContainerMetrics } from "../../runtime/metrics.ts";
import { dashboardRoutes } from "../../management/dashboard/routes.ts";
import { SampleRings } from "../../management/dashboard/_samples.ts";

const FIXTURES = new URL("../fixtures/dashboard/", import.meta.url);

interface Snapshot {
  tree: { containers: { name: string; instances: { state: string }[] }[] };
}

/** Reads SSE `snapshot` events one at a time, each within `ms`. */
function snapshots(response: Response) {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  return {
    async next(ms: number): Promise<Snapshot> {
      const deadline = Date.now() + ms;
      while (true) {
        const at = buffer.indexOf("event: snapshot\ndata: ");
        const end = at >= 0 ? buffer.indexOf("\n", at + 22) : -1;
        if (end >= 0) {
          const data = buffer.slice(at + 22, end);
          buffer = buffer.slice(end);
          return JSON.parse(data);
        }
        const left = deadline - Date.now();
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no snapshot within ${ms} ms`)), left);
        });
        try {
          const { value, done } = await Promise.race([reader.read(), late]);
          if (done) throw new Error("the stream ended");
          buffer += value;
        } finally {
          clearTimeout(timer);
        }
      }
    },
    cancel: () => reader.cancel(),
  };
}

Deno.test("a scale shows its new instances on the live feed at once, before they start or the next tick", async () => {
  const rt = await Runtime.start(
    { containers: { slow: { module: "./containers/slow_start.ts", mode: "inline" } } },
    { logLevel: "silent", baseUrl: FIXTURES.href },
  );
  const closing = new AbortController();
  const app = new Hono();
  // A tick far away: only the change itself can publish the snapshot in time.
  dashboardRoutes(app, { rt, token: "t", signal: closing.signal, heartbeat: 0, tick: 60_000 });
  app.post("/v1/containers/:name/scale", async (c) => {
    await rt.scale(c.req.param("name"), 3);
    return c.json({ ok: true });
  });
  const feed = snapshots(await app.request("/v1/dashboard/stream"));
  try {
    const first = await feed.next(1000);
    assert.equal(first.tree.containers[0].instances.length, 1);
    const scaling = app.request("/v1/containers/slow/scale", { method: "POST" });
    const next = await feed.next(1000);
    const states = next.tree.containers[0].instances.map((i) => i.state);
    assert.equal(states.length, 3);
    assert.ok(states.includes("starting"), `shown before they started: ${states}`);
    const res = await scaling;
    assert.equal(res.status, 200);
    await res.body?.cancel();
  } finally {
    await feed.cancel();
    closing.abort();
    await rt.shutdown();
  }
});

function metrics(requests: number, errors = 0): ContainerMetrics {
  return {
    container: "api",
    mode: "inline",
    instances: 1,
    messagesIn: requests,
    messagesOut: 0,
    requests,
    errors,
    restarts: 0,
    handlerP50Ms: 0.5,
    handlerP99Ms: 4,
    queueDepth: 0,
    memoryBytes: null,
    violations: 0,
  };
}

Deno.test("samples are per-second rates of the counters, never negative when a container's counters start again", () => {
  const rings = new SampleRings(10);
  assert.deepEqual(rings.record([metrics(100, 1)], 0), {}, "the first reading only sets the base");
  assert.deepEqual(rings.record([metrics(300, 5)], 2000).api, {
    t: 2000,
    rps: 100,
    errors: 2,
    p50: 0.5,
    p99: 4,
  });
  // Replaced by apply: its counters are back near 0.
  assert.equal(rings.record([metrics(10)], 3000).api.rps, 0);
  assert.equal(rings.record([metrics(40)], 4000).api.rps, 30);
});

Deno.test("a container gone from the metrics takes its samples with it", () => {
  const rings = new SampleRings(10);
  rings.record([metrics(0)], 0);
  rings.record([metrics(5)], 1000);
  assert.equal(rings.history().api.length, 1);
  rings.record([], 2000);
  assert.deepEqual(rings.history(), {});
  assert.throws(() => new SampleRings(0), /size must be a whole number >= 1, got 0/);
});
