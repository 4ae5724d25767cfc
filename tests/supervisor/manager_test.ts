// The runtime manager: rt.spawn / rt.stop / rt.restart / rt.scale with stop modes, live.
import assert from "node:assert/strict";
import { PermissionEscalationError, TopologyError, UnavailableError } from "../../mod.ts";
import { alive, MODES, waitUntil, withRuntime } from "../_helpers.ts";

for (const mode of MODES) {
  Deno.test(`[${mode}] rt.spawn starts a container by name; a second spawn needs replace: true`, async () => {
    await withRuntime({ containers: {} }, async (rt) => {
      await rt.spawn("late", { module: "./member.ts", mode, replicas: 2 });
      assert.equal(rt.tree().containers[0].running, 2);
      assert.equal(await rt.ref("late").request("count"), 1);
      await assert.rejects(
        rt.spawn("late", { module: "./member.ts", mode }),
        /container "late" already exists; pass \{ replace: true \}/,
      );
      await rt.spawn("late", { module: "./member.ts", mode, config: { v: 2 } }, { replace: true });
      const late = rt.tree().containers[0];
      assert.equal(late.replicas, 1);
      assert.equal(late.instances[0].incarnation, 1, "a new container, not a restart");
      await rt.stop("late");
      assert.deepEqual(rt.tree().containers, []);
      await assert.rejects(rt.ref("late").request("count"), /no container named "late"/);
    });
  });

  Deno.test(`[${mode}] rt.restart starts every replica again without counting toward intensity`, async () => {
    await withRuntime({
      supervisor: { intensity: 0 },
      containers: { m: { module: "./member.ts", mode, replicas: 2 } },
    }, async (rt) => {
      await rt.ref("m").request("count");
      await rt.restart("m");
      await rt.restart("m");
      const m = rt.tree().containers[0];
      assert.deepEqual(m.instances.map((i) => [i.incarnation, i.state]), [[3, "running"], [
        3,
        "running",
      ]]);
      assert.equal(m.restarts, 4);
      assert.equal(rt.tree().supervisor.state, "running");
    });
  });
}

for (const mode of ["worker", "process"] as const) {
  Deno.test(`[${mode}] stop modes: kill ends a stuck onStop at once; the default gives it shutdown:`, async () => {
    const hung = { module: "./echo.ts", mode, shutdown: "200ms", config: { hangOnStop: true } };
    await withRuntime({ containers: { b: hung, c: hung } }, async (rt) => {
      let t = performance.now();
      await rt.stop("b", { mode: "kill" });
      assert.ok(performance.now() - t < 150, `kill took ${performance.now() - t} ms`);
      t = performance.now();
      await rt.stop("c");
      const took = performance.now() - t;
      assert.ok(took >= 190 && took < 2000, `graceful-then-kill took ${took} ms`);
      assert.deepEqual(rt.tree().containers, []);
    });
  });
}

Deno.test("[process] graceful stop of a process stuck in a busy loop fails instead of killing; kill then ends it", async () => {
  await withRuntime({
    containers: { a: { module: "./member.ts", mode: "process", shutdown: "200ms" } },
  }, async (rt) => {
    const pid = await rt.ref("a").request("pid") as number;
    rt.ref("a").send("spin");
    const t = performance.now();
    await assert.rejects(
      rt.stop("a", { mode: "graceful" }),
      /did not stop gracefully in time; stop it with mode "kill"/,
    );
    assert.ok(performance.now() - t >= 1000, "waited shutdown: plus the margin");
    assert.equal(rt.tree().containers[0].instances[0].state, "stopping");
    await rt.stop("a", { mode: "kill" });
    assert.deepEqual(rt.tree().containers, []);
    await waitUntil(() => !alive(pid), 2000, "the process is gone");
  });
});

Deno.test("rt.scale adds replicas that serve at once and removes the last ones first", async () => {
  await withRuntime(
    { containers: { m: { module: "./member.ts", mode: "worker" } } },
    async (rt) => {
      await rt.scale("m", 3);
      const ids = new Set<string>();
      for (let i = 0; i < 6; i++) ids.add(await rt.ref("m").request("whoami") as string);
      assert.deepEqual([...ids].sort(), ["m#0.1", "m#1.1", "m#2.1"]);
      await rt.scale("m", 1);
      assert.deepEqual(rt.tree().containers[0].instances.map((i) => i.id), ["m#0.1"]);
      await assert.rejects(rt.scale("m", -1), RangeError);
    },
  );
});

Deno.test("rt.spawn refuses bad specs and grants wider than the host with typed errors", async () => {
  await withRuntime({ containers: {} }, async (rt) => {
    await assert.rejects(rt.spawn("x", { module: "./member.ts", replicas: -2 }), TopologyError);
    await assert.rejects(rt.spawn("bad name", { module: "./member.ts" }), TopologyError);
    await assert.rejects(rt.stop("ghost"), /no container named "ghost"/);
    assert.deepEqual(rt.tree().containers, []);
  });
  // A host without write cannot grant it.
  const script = `
    import { Runtime, PermissionEscalationError } from ${
    JSON.stringify(new URL("../../mod.ts", import.meta.url).href)
  };
    const rt = await Runtime.start({ containers: {} }, { logLevel: "silent", baseUrl: ${
    JSON.stringify(new URL("../fixtures/", import.meta.url).href)
  } });
    try { await rt.spawn("w", { module: "./member.ts", permissions: { write: ["/tmp"] } }); console.log("spawned"); }
    catch (e) { console.log(e instanceof PermissionEscalationError ? "refused" : e.message); }
    await rt.shutdown();`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-lock",
      "--unstable-worker-options",
      "--allow-read",
      "--allow-env",
      `data:application/typescript;base64,${btoa(script)}`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "refused");
  void PermissionEscalationError;
});

Deno.test("requests to a container being stopped for good fail fast with UnavailableError", async () => {
  await withRuntime(
    { containers: { m: { module: "./member.ts", mode: "worker" } } },
    async (rt) => {
      await rt.stop("m");
      await assert.rejects(rt.ref("m").request("count"), UnavailableError);
      await waitUntil(() => rt.tree().containers.length === 0, 1000, "removed");
    },
  );
});
