// rt.apply(): an edited topology is reconciled live. Unchanged containers are untouched, scaling
// keeps serving, a mode change starts the new incarnation, switches traffic and drains the old one
// — under continuous load, with every request counted and none failing.
import assert from "node:assert/strict";
import { type Runtime, TopologyError, type TopologyInput } from "../../mod.ts";
import { withRuntime } from "../_helpers.ts";

const member = (extra: Record<string, unknown> = {}) => ({ module: "./member.ts", ...extra });

/**
 * Keeps `inFlight` requests going to each of `names` until stopped (or, should a failing test never
 * stop it, for at most `ms`); counts outcomes.
 */
function load(rt: Runtime, names: string[], inFlight = 8, ms = 120_000) {
  let running = true;
  const end = performance.now() + ms;
  const stats = { ok: 0, failed: [] as string[] };
  const loops = names.flatMap((name) =>
    Array.from({ length: inFlight }, async () => {
      while (running) {
        if (performance.now() > end) {
          stats.failed.push(`${name}: the load was never stopped within ${ms} ms`);
          break;
        }
        try {
          await rt.ref(name).request("whoami", undefined, { timeout: 10_000 });
          // An inline container answers within microtasks: turn the event loop now and then.
          if (++stats.ok % 64 === 0) await pause(0);
        } catch (error) {
          stats.failed.push(`${name}: ${(error as Error).name}: ${(error as Error).message}`);
          await pause(5); // a failure can be immediate: let the event loop turn
        }
      }
    })
  );
  return {
    stats,
    async stop() {
      running = false;
      await Promise.all(loops);
      return stats;
    },
  };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("apply under load: scale up and down, worker → process → inline, config change, add and remove — no request fails", async () => {
  const v1: TopologyInput = {
    containers: {
      api: member({ mode: "worker" }),
      db: member({ mode: "process" }),
    },
  };
  await withRuntime(v1, async (rt) => {
    const dbPid = await rt.ref("db").request("pid");
    const traffic = load(rt, ["api", "db"]);
    await pause(100);
    const steps: string[] = [];
    rt.on("apply", (e) => e.phase === "step" && steps.push(e.step!.op));

    let plan = await rt.apply({
      containers: { api: member({ mode: "worker", replicas: 3 }), db: v1.containers.db },
    });
    assert.deepEqual(plan.steps.map((s) => s.op), ["scale"]);
    assert.equal(rt.tree().containers[0].running, 3);
    await pause(100);

    plan = await rt.apply({
      containers: { api: member({ mode: "worker", replicas: 1 }), db: v1.containers.db },
    });
    assert.deepEqual(plan.steps.map((s) => s.op), ["scale"]);
    await pause(100);

    plan = await rt.apply({
      containers: { api: member({ mode: "process", replicas: 2 }), db: v1.containers.db },
    });
    assert.deepEqual(plan.steps, [{
      op: "replace",
      name: "api",
      parent: null,
      changes: ["mode: worker → process", "replicas: 1 → 2"],
    }]);
    const api = rt.tree().containers.find((c) => c.name === "api")!;
    assert.equal(api.mode, "process");
    assert.deepEqual(api.instances.map((i) => i.state), ["running", "running"]);
    await pause(100);

    plan = await rt.apply({
      containers: {
        api: member({ mode: "inline", config: { setting: "v4" } }),
        db: v1.containers.db,
        cache: member({ mode: "worker" }),
      },
    });
    assert.deepEqual(plan.steps.map((s) => s.op), ["replace", "add"]);
    assert.equal(await rt.ref("api").request("setting"), "v4");
    await pause(100);

    plan = await rt.apply({
      containers: { db: v1.containers.db, cache: member({ mode: "worker" }) },
    });
    assert.deepEqual(plan.steps, [{ op: "remove", name: "api", parent: null }]);

    const stats = await traffic.stop();
    // api's loops fail once it is removed (by design); everything before must have succeeded.
    const beforeRemoval = stats.failed.filter((f) => !f.includes('no container named "api"'));
    assert.deepEqual(beforeRemoval, [], `${stats.ok} succeeded`);
    assert.ok(stats.ok > 500, `only ${stats.ok} requests went through`);
    assert.equal(await rt.ref("db").request("pid"), dbPid, "db, never in a plan, was untouched");
    assert.deepEqual(steps, ["scale", "scale", "replace", "replace", "add", "remove"]);
    assert.deepEqual(rt.topology.containers.map((c) => c.name), ["db", "cache"]);
  });
});

Deno.test("apply: a request in flight on the old incarnation completes during a replacement", async () => {
  await withRuntime(
    { containers: { api: member({ mode: "worker", shutdown: "5s" }) } },
    async (rt) => {
      const slow = rt.ref("api").request("sleep", { ms: 400 });
      await pause(50);
      await rt.apply({ containers: { api: member({ mode: "process", shutdown: "5s" }) } });
      assert.equal(await slow, "api#0.1", "answered by the old incarnation, after the switch");
      assert.equal(await rt.ref("api").request("whoami"), "api#0.2");
    },
  );
});

Deno.test("apply: a replacement that cannot start leaves the old instances serving and throws", async () => {
  await withRuntime({ containers: { api: member({ mode: "worker" }) } }, async (rt) => {
    const before = await rt.ref("api").request("whoami");
    await assert.rejects(
      rt.apply({ containers: { api: member({ mode: "worker", config: { failFactory: true } }) } }),
      /factory refused to start/,
    );
    assert.equal(await rt.ref("api").request("whoami"), before);
    assert.deepEqual(rt.topology.containers[0].config, {}, "the topology says what runs");
    // The next apply plans from what runs: the same failing change is planned again.
    const plan = await rt.apply(
      { containers: { api: member({ mode: "worker", config: { failFactory: true } }) } },
      { dryRun: true },
    );
    assert.deepEqual(plan.steps.map((s) => s.op), ["replace"]);
  });
});

Deno.test("apply: a dry run plans and changes nothing; an invalid topology changes nothing", async () => {
  await withRuntime({ containers: { api: member({ mode: "worker" }) } }, async (rt) => {
    const plan = await rt.apply(
      { containers: { api: member({ mode: "worker", replicas: 3 }) } },
      { dryRun: true },
    );
    assert.deepEqual(plan.steps.map((s) => s.op), ["scale"]);
    assert.equal(rt.tree().containers[0].running, 1);
    await assert.rejects(
      rt.apply({ containers: { api: member({ mode: "worker", replicas: "three" }) } }),
      (e: Error) => e instanceof TopologyError && /replicas/.test(e.message),
    );
    assert.equal(rt.tree().containers[0].running, 1);
  });
});

Deno.test("apply: in-place updates restart nothing; children of an inline parent are added and removed by name", async () => {
  const v1: TopologyInput = {
    containers: {
      parent: member({ mode: "inline", children: { k1: member({ mode: "worker" }) } }),
    },
  };
  await withRuntime(v1, async (rt) => {
    const k1 = await rt.ref("k1").request("whoami");
    const plan = await rt.apply({
      containers: {
        parent: member({
          mode: "inline",
          restart: "transient",
          children: { k1: member({ mode: "worker" }), k2: member({ mode: "process" }) },
        }),
      },
    });
    assert.deepEqual(plan.steps.map((s) => `${s.op} ${s.name}`), ["update parent", "add k2"]);
    assert.equal(await rt.ref("k1").request("whoami"), k1, "k1 untouched");
    assert.equal(await rt.ref("k2").request("whoami"), "k2#0.1");
    await rt.apply({
      containers: {
        parent: member({
          mode: "inline",
          restart: "transient",
          children: { k2: member({ mode: "process" }) },
        }),
      },
    });
    await assert.rejects(rt.ref("k1").request("whoami"), /no container named "k1"/);
    // The parent restarts with the children it now has.
    await rt.restart("parent");
    assert.equal(await rt.ref("k2").request("whoami"), "k2#0.1");
    assert.deepEqual(
      rt.tree().containers[0].children?.map((c) => c.name),
      ["k2"],
    );
  });
});

Deno.test("apply: applies run one at a time, in the order asked", async () => {
  await withRuntime({ containers: { api: member({ mode: "worker" }) } }, async (rt) => {
    const a = rt.apply({ containers: { api: member({ mode: "worker", replicas: 3 }) } });
    const b = rt.apply({ containers: { api: member({ mode: "worker", replicas: 2 }) } });
    const [pa, pb] = await Promise.all([a, b]);
    assert.deepEqual(pa.steps, [{ op: "scale", name: "api", parent: null, from: 1, to: 3 }]);
    assert.deepEqual(pb.steps, [{ op: "scale", name: "api", parent: null, from: 3, to: 2 }]);
    assert.equal(rt.tree().containers[0].running, 2);
  });
});

Deno.test("apply plans from what runs: after a live scale, spawn and stop, rt.topology says so", async () => {
  await withRuntime({ containers: { api: member({ mode: "worker" }) } }, async (rt) => {
    await rt.scale("api", 3);
    await rt.spawn("extra", { module: "./member.ts", mode: "inline" });
    assert.deepEqual(rt.topology.containers.map((c) => [c.name, c.replicas]), [
      ["api", 3],
      ["extra", 1],
    ]);
    const plan = await rt.apply(
      { containers: { api: member({ mode: "worker", replicas: 3 }) } },
      { dryRun: true },
    );
    assert.deepEqual(plan.steps, [{ op: "remove", name: "extra", parent: null }]);
    await rt.stop("extra");
    assert.deepEqual(rt.topology.containers.map((c) => c.name), ["api"]);
  });
});

Deno.test("a spawn that fails to start leaves nothing behind: the name is free for a corrected one", async () => {
  await withRuntime({ containers: { api: member({ mode: "worker" }) } }, async (rt) => {
    await assert.rejects(
      rt.spawn("broken", {
        module: "./member.ts",
        mode: "worker",
        replicas: 2,
        config: { failFactory: true },
      }),
      /factory refused to start/,
    );
    assert.deepEqual(rt.tree().containers.map((c) => c.name), ["api"]);
    await rt.spawn("broken", { module: "./member.ts", mode: "worker" });
    assert.equal(await rt.ref("broken").request("whoami"), "broken#0.1");
  });
});
