// Failure detection in every mode: silent exits, kills, bad modules, and no orphans.
import assert from "node:assert/strict";
import { RemoteError, Runtime, TopologyError } from "../../mod.ts";
import type echo from "../fixtures/echo.ts";
import {
  alive,
  childrenOf,
  FIXTURES,
  nextEvent,
  readUntil,
  waitUntil,
  withRuntime,
} from "../_helpers.ts";

type Echo = typeof echo;

Deno.test("[worker] Deno.exit() inside a worker is silent: heartbeats catch it and it restarts", async () => {
  await withRuntime({
    containers: { echo: { module: "./echo.ts", mode: "worker", keepalive: "300ms" } },
  }, async (rt) => {
    const unresponsive = nextEvent(rt, "unresponsive");
    const restarted = nextEvent(rt, "restart");
    rt.ref<Echo>("echo").send("exit");
    const event = await unresponsive;
    assert.equal(event.instance, "echo#0.1");
    assert.ok(event.silentFor > 300);
    assert.equal((await restarted).instance, "echo#0.2");
    assert.equal(await rt.ref<Echo>("echo").request("count"), 1);
  });
});

Deno.test("[process] a process that exits by itself is seen and started again", async () => {
  await withRuntime(
    { containers: { echo: { module: "./echo.ts", mode: "process" } } },
    async (rt) => {
      const exited = nextEvent(rt, "exit");
      rt.ref<Echo>("echo").send("exit");
      const exit = await exited;
      assert.equal(exit.reason.kind, "normal");
      await nextEvent(rt, "restart");
      assert.equal(await rt.ref<Echo>("echo").request("count"), 1);
    },
  );
});

Deno.test("[process] a process killed with SIGKILL is restarted; requests with retries still succeed", async () => {
  await withRuntime(
    { containers: { echo: { module: "./echo.ts", mode: "process" } } },
    async (rt) => {
      const ref = rt.ref<Echo>("echo");
      const pid = await ref.request("pid");
      assert.ok(alive(pid));
      const exited = nextEvent(rt, "exit");
      Deno.kill(pid, "SIGKILL");
      // Issued while the process is dead or restarting: retries wait for the new incarnation.
      const reply = ref.request("count", undefined, { retries: 20, timeout: 500 })
        .catch((e) => e);
      assert.equal((await exited).reason.kind, "killed");
      assert.equal(await reply, 1);
      assert.notEqual(await ref.request("pid"), pid);
      assert.equal(rt.tree().containers[0].restarts, 1);
    },
  );
});

Deno.test("[process] a process container exits within 2 s when its host is killed with SIGKILL", async () => {
  const host = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./orphan_host.ts", FIXTURES).pathname],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = host.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const text = await readUntil(reader, (t) => t.includes("\n"), 30_000, "the host's container pids")
    .catch(async (error) => {
      host.kill("SIGKILL");
      await host.status;
      throw error;
    });
  const pids: number[] = JSON.parse(text.split("\n")[0]);
  assert.equal(pids.length, 2);
  assert.deepEqual(
    childrenOf(host.pid).sort(),
    [...pids].sort(),
    "the containers are the host's children",
  );
  host.kill("SIGKILL");
  await host.status;
  reader.cancel();
  const killedAt = performance.now();
  await waitUntil(() => pids.every((pid) => !alive(pid)), 2000, "orphaned containers to exit");
  assert.ok(performance.now() - killedAt < 2000);
});

Deno.test("every mode: a module with no container() default export is a TopologyError", async () => {
  for (const mode of ["inline", "worker", "process"] as const) {
    const error = await Runtime.start(
      { containers: { bad: { module: "./no_default.ts", mode } } },
      { logLevel: "silent", baseUrl: FIXTURES.href },
    ).catch((e) => e);
    assert.ok(error instanceof TopologyError, `${mode}: ${error}`);
    assert.match(error.message, /no container\(\) default export/, mode);
    assert.equal(error.key, "containers.bad.module");
  }
});

Deno.test("every mode: a module that throws while it loads fails the start (inline: instead of hanging it)", async () => {
  for (const mode of ["inline", "worker", "process"] as const) {
    const error = await Runtime.start(
      { containers: { bad: { module: "./throws_at_load.ts", mode } } },
      { logLevel: "silent", baseUrl: FIXTURES.href },
    ).catch((e) => e);
    assert.ok(error instanceof TopologyError, `${mode}: ${error}`);
    assert.equal(error.key, "containers.bad.module");
    assert.match(error.message, /broken at load/, mode);
  }
});

Deno.test("every mode: a factory that throws fails the start with the remote error", async () => {
  for (const mode of ["inline", "worker", "process"] as const) {
    const error = await Runtime.start(
      { containers: { bad: { module: "./throwing_factory.ts", mode } } },
      { logLevel: "silent", baseUrl: FIXTURES.href },
    ).catch((e) => e);
    assert.ok(error instanceof RemoteError, `${mode}: ${error}`);
    assert.equal(error.remoteName, "SyntaxError");
    assert.match(error.message, /factory cannot start/);
  }
});

Deno.test("a module path that does not exist is a TopologyError naming the module, before anything starts", async () => {
  const error = await Runtime.start(
    {
      containers: {
        ok: { module: "./echo.ts", mode: "process" },
        gone: { module: "./missing.ts" },
      },
    },
    { logLevel: "silent", baseUrl: FIXTURES.href },
  ).catch((e) => e);
  assert.ok(error instanceof TopologyError);
  assert.equal(error.key, "containers.gone.module");
  assert.match(error.message, /missing\.ts does not exist/);
});

Deno.test("a permanent container that keeps failing exhausts intensity: the runtime stops with SupervisorGaveUpError", async () => {
  const rt = await Runtime.start({
    supervisor: { intensity: 2, period: "10s", backoff: { min: "1ms", max: "5ms" } },
    containers: { echo: { module: "./echo.ts", mode: "inline" } },
  }, { logLevel: "silent", baseUrl: FIXTURES.href });
  const ref = rt.ref<Echo>("echo");
  for (let i = 0; i < 3; i++) {
    await ref.request("fail", { message: `boom ${i}` }).catch(() => {});
    if (i < 2) await nextEvent(rt, "restart");
  }
  const error = await rt.closed;
  assert.equal(error?.name, "SupervisorGaveUpError");
  assert.equal(rt.tree().supervisor.state, "stopped");
  await rt.shutdown();
});

Deno.test("a worker whose creation throws fails its start and is gone at once (a shutdown never waits for it)", async () => {
  const { createHandle } = await import("../../runtime/_modes.ts");
  const { Node } = await import("../../runtime/_node.ts");
  const { validateContainer } = await import("../../config/topology.ts");
  const hub = new Node("host", { onControl() {}, onLog() {} }, { hub: true });
  const spec = validateContainer("bad", { module: "./member.ts", mode: "worker" }, {
    baseUrl: FIXTURES.href,
  });
  // What the validator refuses, given straight to the mode: the Worker constructor throws.
  spec.permissions = { sys: ["bogus"] };
  const handle = createHandle({
    spec,
    instance: "bad#0.1",
    node: "w1",
    hub,
    logLevel: "silent",
    log() {},
  }, () => ({}));
  await assert.rejects(handle.start(), /unknown system info kind "bogus"/);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const gone = await Promise.race([
    handle.gone.then(() => true),
    new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 2_000))),
  ]);
  clearTimeout(timer);
  assert.ok(gone, "the handle is gone");
  hub.close();
});
