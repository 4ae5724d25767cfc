// Liveness: heartbeats catch what stops answering (busy loops, silent exits) and replace it; a
// worker spinning beyond terminate() is contained and never keeps the host from exiting; a hung
// handler costs only its own requests.
import assert from "node:assert/strict";
import { TimeoutError } from "../../mod.ts";
import { alive, MODES, nextEvent, waitUntil, withRuntime } from "../_helpers.ts";

const ROOT = new URL("../../", import.meta.url);
const FIXTURES = new URL("../fixtures/", import.meta.url);

Deno.test("[process] a busy loop is declared unresponsive, SIGKILLed and replaced; service continues", async () => {
  await withRuntime({
    supervisor: { backoff: { min: 1, max: 5 } },
    containers: { m: { module: "./member.ts", mode: "process", keepalive: "300ms" } },
  }, async (rt) => {
    const pid = await rt.ref("m").request("pid") as number;
    const unresponsive = nextEvent(rt, "unresponsive");
    rt.ref("m").send("spin");
    const event = await unresponsive;
    assert.ok(event.silentFor > 300 && event.silentFor < 2000, `silent for ${event.silentFor} ms`);
    await waitUntil(() => rt.tree().containers[0].running === 1, 3000, "replacement");
    assert.equal(await rt.ref("m").request("whoami"), "m#0.2");
    await waitUntil(() => !alive(pid), 2000, "the spinning process is gone");
    assert.equal(rt.tree().containers[0].instances[0].lastExit?.kind, "unresponsive");
    assert.deepEqual(rt.tree().leaked, [], "a process is killed for real: nothing leaks");
  });
});

Deno.test("[worker] a busy loop is replaced, shown as leaked, and the host still exits after shutdown", async () => {
  const t = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-lock", new URL("spin_host.ts", FIXTURES).pathname],
    cwd: ROOT.pathname,
    stdout: "piped",
    stderr: "inherit",
    signal: AbortSignal.timeout(20_000),
  }).output();
  const took = performance.now() - t;
  assert.equal(out.code, 0);
  const report = JSON.parse(new TextDecoder().decode(out.stdout).trim());
  assert.equal(report.served, "m#0.2", "the replacement served while the old thread spun");
  assert.deepEqual(report.leaked, ["m#0.1"]);
  assert.ok(report.shutdownMs < 3000, `shutdown took ${report.shutdownMs} ms`);
  assert.ok(took < 15_000, `the host exited after ${took} ms`);
});

Deno.test("[worker] kraken start exits non-zero when workers crash-loop in busy loops, threads and all", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/kraken.yaml`;
    await Deno.writeTextFile(
      file,
      `name: spinning
supervisor: { intensity: 1, period: 30s, backoff: { min: 1ms, max: 5ms } }
containers:
  m:
    module: ${new URL("member.ts", FIXTURES).pathname}
    mode: worker
    keepalive: 300ms
    config: { spinAfter: 50 }
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-lock", new URL("cli/main.ts", ROOT).pathname, "start", file],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
      signal: AbortSignal.timeout(20_000),
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1, stderr);
    assert.match(stderr, /supervisor "root" gave up: more than 1 restarts within 30000 ms/);
    assert.match(stderr, /worker thread\(s\) stuck in a busy loop \(m#0\.1, m#0\.2/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

for (const mode of MODES) {
  Deno.test(`[${mode}] a handler that never replies costs only its own request: TimeoutError, others served`, async () => {
    // shutdown: 200ms — a graceful stop waits that long for the hung handler, then moves on.
    await withRuntime({
      containers: { m: { module: "./member.ts", mode, shutdown: "200ms" } },
    }, async (rt) => {
      const hung = rt.ref("m").request("hang", undefined, { timeout: 150 });
      assert.equal(await rt.ref("m").request("count"), 1);
      await assert.rejects(hung, TimeoutError);
      assert.equal(await rt.ref("m").request("count"), 2, "same instance, still serving");
      assert.equal(rt.tree().containers[0].restarts, 0);
    });
  });
}

Deno.test("[worker] 40 workers answering through a host event loop blocked beyond their keepalive are never declared unresponsive", async () => {
  const unresponsive: string[] = [];
  await withRuntime({
    containers: { m: { module: "./member.ts", mode: "worker", replicas: 40, keepalive: "300ms" } },
  }, async (rt) => {
    rt.on("unresponsive", (event) => void unresponsive.push(event.instance));
    // Past the start grace, so what is tested is the host's own lag.
    await new Promise((resolve) => setTimeout(resolve, 700));
    for (let round = 0; round < 3; round++) {
      // The host is starved (a long synchronous turn): no timer runs, the workers' answers queue.
      const until = performance.now() + 1000;
      while (performance.now() < until) { /* blocked */ }
      await new Promise((resolve) => setTimeout(resolve, 400));
    }
    assert.deepEqual(unresponsive, []);
    const [m] = rt.tree().containers;
    assert.equal(m.running, 40);
    assert.ok(m.instances.every((i) => i.id.endsWith(".1")), "none was restarted");
  });
});
