// on_error rules by error class, live in every mode: resume keeps state, stop holds the container
// stopped, escalate gives up at once, and a missing permission stops instead of crash-looping.
import assert from "node:assert/strict";
import { type ContainerInput, SupervisorGaveUpError, UnavailableError } from "../../mod.ts";
import { MODES, nextEvent, waitUntil, withRuntime } from "../_helpers.ts";

const fast = { intensity: 10, backoff: { min: 1, max: 5, jitter: 0 } };
const rules: ContainerInput["on_error"] = [
  { match: "ValidationError", action: ["log", "resume"] },
  { match: "DbError", action: "stop" },
  { match: ["EscalateMe", "URIError"], action: "escalate" },
];

for (const mode of MODES) {
  Deno.test(`[${mode}] on_error resume: the instance keeps its state; only the message fails`, async () => {
    const logs: string[] = [];
    await withRuntime({
      supervisor: fast,
      containers: { m: { module: "./member.ts", mode, on_error: rules } },
    }, async (rt) => {
      let exits = 0;
      rt.on("exit", () => exits++);
      const m = rt.ref("m");
      assert.equal(await m.request("count"), 1);
      await assert.rejects(m.request("fail", { cls: "ValidationError" }), /ValidationError/);
      assert.equal(await m.request("count"), 2, "state kept");
      assert.equal(await m.request("whoami"), "m#0.1", "same incarnation");
      assert.equal(exits, 0);
      await waitUntil(
        () =>
          logs.some((l) =>
            l.startsWith("on_error resume: ValidationError: ValidationError on purpose")
          ),
        2000,
        "log",
      );
    }, { logLevel: "error", logger: (e) => logs.push(e.message) });
  });

  Deno.test(`[${mode}] on_error stop matches an ancestor class and holds the container stopped`, async () => {
    await withRuntime({
      supervisor: fast,
      containers: { m: { module: "./member.ts", mode, on_error: rules } },
    }, async (rt) => {
      const exit = nextEvent(rt, "exit", (e) => e.container === "m");
      // DeepDbError extends DbError: the DbError rule applies.
      await assert.rejects(rt.ref("m").request("fail", { cls: "DeepDbError" }), /DeepDbError/);
      const { reason } = await exit;
      assert.equal(reason.action, "stop");
      await waitUntil(() => rt.tree().containers[0].held, 2000, "held");
      await new Promise((r) => setTimeout(r, 50));
      const m = rt.tree().containers[0];
      assert.equal(m.instances[0].state, "stopped");
      assert.equal(m.restarts, 0, "never restarted");
      await assert.rejects(rt.ref("m").request("count"), UnavailableError);
    });
  });

  Deno.test(`[${mode}] on_error escalate: the supervisor gives up at once, whatever its intensity`, async () => {
    await withRuntime({
      supervisor: { ...fast, intensity: 100 },
      containers: { m: { module: "./member.ts", mode, on_error: rules } },
    }, async (rt) => {
      const escalated = nextEvent(rt, "escalate");
      await assert.rejects(rt.ref("m").request("fail", { cls: "URIError" }), /URIError/);
      const { error, supervisor, child } = await escalated;
      assert.equal(supervisor, "root");
      assert.equal(child, "m");
      assert.equal(error.why, "escalate");
      assert.match(error.message, /supervisor "root" gave up: child "m" escalated URIError/);
      const closed = await rt.closed;
      assert.ok(closed instanceof SupervisorGaveUpError);
    });
  });
}

for (const mode of ["worker", "process"] as const) {
  Deno.test(`[${mode}] NotCapable stops the container and reports it: no crash loop`, async () => {
    const logs: string[] = [];
    await withRuntime({
      supervisor: fast,
      containers: { m: { module: "./member.ts", mode } },
    }, async (rt) => {
      const exit = nextEvent(rt, "exit");
      await assert.rejects(rt.ref("m").request("readHostname"), /NotCapable/);
      assert.equal((await exit).reason.action, "stop");
      await waitUntil(() => rt.tree().containers[0].held, 2000, "held");
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(rt.tree().containers[0].restarts, 0);
      assert.ok(
        logs.some((l) => /stays stopped \(on_error: stop\): NotCapable/.test(l)),
        logs.join("\n"),
      );
    }, { logLevel: "error", logger: (e) => logs.push(e.message) });
  });
}

Deno.test("restart delays grow exponentially from backoff.min (jitter 0) and reset after a stable period", async () => {
  await withRuntime({
    supervisor: { intensity: 10, backoff: { min: 10, max: 40, jitter: 0 } },
    containers: { m: { module: "./member.ts", mode: "inline" } },
  }, async (rt) => {
    const delays: number[] = [];
    rt.on("restart", (e) => delays.push(e.delay));
    for (let i = 0; i < 4; i++) {
      await assert.rejects(rt.ref("m").request("fail", { cls: "TypeError" }));
      await waitUntil(() => delays.length === i + 1, 2000, `restart ${i + 1}`);
    }
    assert.deepEqual(delays, [10, 20, 40, 40]);
    // Stable for longer than max(1 s, backoff.max): the next failure starts from min again.
    await new Promise((r) => setTimeout(r, 1100));
    await assert.rejects(rt.ref("m").request("fail", { cls: "TypeError" }));
    await waitUntil(() => delays.length === 5, 2000, "restart 5");
    assert.equal(delays[4], 10);
  });
});

for (const mode of MODES) {
  Deno.test(`[${mode}] a factory that throws on restart counts toward intensity until the supervisor gives up`, async () => {
    await withRuntime({
      supervisor: { intensity: 2, period: "10s", backoff: { min: 1, max: 5 } },
      containers: { m: { module: "./member.ts", mode, config: { failFactoryFrom: 2 } } },
    }, async (rt) => {
      const exits: string[] = [];
      rt.on("exit", (e) => exits.push(e.reason.message));
      await assert.rejects(rt.ref("m").request("fail", { cls: "TypeError" }));
      const closed = await rt.closed;
      assert.ok(closed instanceof SupervisorGaveUpError);
      assert.match(
        closed.message,
        /more than 2 restarts.*last failure: m: restart failed: .*factory refused incarnation 3/,
      );
      assert.equal(exits.length, 3, exits.join("\n"));
      assert.match(exits[1], /^restart failed: .*factory refused incarnation 2/);
    });
  });
}
