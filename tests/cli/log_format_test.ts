// `--log-format json`: `kraken start` and `kraken node` write one JSON object per stderr line —
// time, level, container, instance, host, runtime, msg, and the trace id of the span a container
// logged in (tracing on) — for log shippers.
import assert from "node:assert/strict";
import { freePort, waitUntil } from "../_helpers.ts";
import { OtlpReceiver } from "../_otlp.ts";
import { kraken, krakenInBackground } from "./_cli.ts";

const APP = new URL("../fixtures/traces/kraken.yaml", import.meta.url).pathname;
const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";

interface Line {
  time: string;
  level: string;
  container: string;
  instance: string | null;
  host: string;
  runtime: string;
  trace_id?: string;
  msg: string;
}

/** Every non-empty stderr line, each of which must be one JSON log object. */
function lines(stderr: string): Line[] {
  return stderr.split("\n").filter((l) => l !== "").map((l) => {
    const line = JSON.parse(l) as Line;
    for (const key of ["time", "level", "container", "host", "runtime", "msg"] as const) {
      assert.equal(typeof line[key], "string", `${key} in ${l}`);
    }
    assert.ok("instance" in line, `instance in ${l}`);
    assert.ok(!Number.isNaN(Date.parse(line.time)), l);
    return line;
  });
}

Deno.test("kraken start --log-format json: every stderr line is a JSON log object; container lines carry their trace id across worker and process", async () => {
  const otlp = freePort();
  const port = freePort();
  const receiver = new OtlpReceiver(otlp);
  const app = krakenInBackground(["start", APP, "--log-format", "json"], {
    env: { ...OtlpReceiver.env(otlp), TRACE_PORT: String(port) },
  });
  try {
    await app.waitFor(/Ctrl-C to stop/);
    const answer = await fetch(`http://127.0.0.1:${port}/order`, {
      method: "POST",
      headers: { traceparent: `00-${TRACE}-00f067aa0ba902b7-01` },
      body: JSON.stringify({ sku: "kr-9" }),
    });
    assert.equal(answer.status, 200);
    await answer.body?.cancel();
    await waitUntil(() => /reserved kr-9/.test(app.stderr), 10_000, "inventory's log line");
    app.child.kill("SIGTERM");
    assert.equal(await app.exit(), 0, app.stderr);
    const all = lines(app.stderr);
    const gateway = all.find((l) => l.msg === "order for kr-9");
    assert.ok(gateway, app.stderr);
    assert.equal(gateway.container, "gateway");
    assert.equal(gateway.instance, "gateway#0.1");
    assert.equal(gateway.runtime, "traced-shop");
    assert.equal(gateway.level, "info");
    assert.equal(gateway.trace_id, TRACE);
    const inventory = all.find((l) => l.msg === "reserved kr-9");
    assert.ok(inventory, app.stderr);
    assert.equal(inventory.container, "inventory");
    assert.equal(inventory.trace_id, TRACE, "a process's line carries the trace id up its link");
    const started = all.find((l) => l.msg.startsWith("started traced-shop"));
    assert.ok(started, app.stderr);
    assert.equal(started.container, "runtime");
    assert.equal(started.instance, null);
    assert.equal(started.trace_id, undefined, "outside any span, no trace id");
    assert.ok(all.some((l) => l.msg === "stopped"), "the command's own lines are JSON too");
  } finally {
    await app.kill();
    await receiver.close();
  }
});

Deno.test("kraken start --log-format json: the start progress (starting …, each instance started) is JSON log lines too", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kraken-log-format-" });
  const chatty = new URL("../fixtures/cli/containers/chatty.ts", import.meta.url).pathname;
  await Deno.writeTextFile(
    `${dir}/kraken.yaml`,
    `name: greeting\ncontainers:\n  greeter: { module: ${chatty}, mode: worker, replicas: 2 }\n`,
  );
  const app = krakenInBackground(["start", "--log-format", "json"], { cwd: dir });
  try {
    await app.waitFor(/Ctrl-C to stop/);
    app.child.kill("SIGTERM");
    assert.equal(await app.exit(), 0, app.stderr);
    const all = lines(app.stderr);
    const starting = all.find((l) => l.msg.startsWith("starting greeting:"));
    assert.ok(starting, app.stderr);
    assert.equal(starting.msg, "starting greeting: greeter (worker ×2)");
    assert.equal(starting.container, "runtime");
    assert.equal(starting.runtime, "greeting");
    for (const instance of ["greeter#0.1", "greeter#1.1"]) {
      const started = all.find((l) => l.msg === `started ${instance}`);
      assert.ok(started, `started ${instance} in\n${app.stderr}`);
      assert.equal(started.level, "info");
      assert.equal(started.instance, null, "the command's own line, not the instance's");
    }
  } finally {
    await app.kill();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kraken start --log-format json: a failure once the topology is loaded is a JSON error line too, with the exit code", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kraken-log-format-" });
  const port = freePort();
  await Deno.writeTextFile(
    `${dir}/kraken.yaml`,
    `name: taken\ncontainers: {}\nmanagement: { listen: "127.0.0.1:${port}", token: t0123456789abcdef }\n`,
  );
  const held = Deno.listen({ hostname: "127.0.0.1", port });
  try {
    const failed = await kraken(["start", "--log-format", "json"], { cwd: dir });
    assert.equal(failed.code, 1, failed.stderr);
    const all = lines(failed.stderr);
    assert.equal(all.length, 1, failed.stderr);
    assert.equal(all[0].level, "error");
    assert.equal(all[0].runtime, "taken");
    assert.match(
      all[0].msg,
      /^kraken start: the management API cannot listen on 127\.0\.0\.1:\d+: /,
    );
  } finally {
    held.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kraken node --log-format json: the agent's log lines are JSON objects named after it", async () => {
  const root = await Deno.makeTempDir({ prefix: "kraken-node-log-" });
  const agent = krakenInBackground([
    "node",
    "--secret",
    "a-secret-long-enough-for-tests",
    "--name",
    "agent-a",
    "--listen",
    "tcp://127.0.0.1:0",
    "--root",
    root,
    "--log-format",
    "json",
  ]);
  try {
    await agent.waitFor(/listening on tcp:\/\//);
    await waitUntil(() => agent.stderr.includes("\n"), 10_000, "a log line");
    agent.child.kill("SIGTERM");
    await agent.exit();
    const all = lines(agent.stderr);
    assert.ok(all.length > 0, agent.stderr);
    assert.ok(all.every((l) => l.runtime === "agent-a"), agent.stderr);
  } finally {
    await agent.kill();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("--log-format takes text or json, nothing else (exit 2)", async () => {
  const start = await kraken(["start", APP, "--log-format", "xml"], { env: { TRACE_PORT: "1" } });
  assert.equal(start.code, 2, start.stderr);
  assert.match(start.stderr, /--log-format must be one of text, json, got "xml"/);
  const node = await kraken(["node", "--secret", "s", "--log-format", "yaml"]);
  assert.equal(node.code, 2, node.stderr);
  assert.match(node.stderr, /--log-format must be one of text, json, got "yaml"/);
});
