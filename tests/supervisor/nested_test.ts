// Nested supervision across isolate boundaries: a container's children run inside it (inline in
// its isolate, workers nested in it); its own supervisor handles their failures, the host's
// handles its death, and escalations travel up the link.
import assert from "node:assert/strict";
import type { ContainerSnapshot, Runtime, TopologyInput } from "../../mod.ts";
import { nextEvent, waitUntil, withRuntime } from "../_helpers.ts";

const fast = { intensity: 10, backoff: { min: 1, max: 5 } };

function find(list: ContainerSnapshot[], name: string): ContainerSnapshot | undefined {
  for (const c of list) {
    if (c.name === name) return c;
    const deeper = find(c.children ?? [], name);
    if (deeper) return deeper;
  }
  return undefined;
}
function node(rt: Runtime, name: string): ContainerSnapshot {
  const found = find(rt.tree().containers, name);
  if (!found) throw new Error(`${name} not in the tree`);
  return found;
}
function running(rt: Runtime, name: string, incarnation: number): boolean {
  const c = find(rt.tree().containers, name);
  return c?.instances[0]?.state === "running" && c.instances[0].incarnation === incarnation;
}

const parentWith = (
  mode: "process" | "worker",
  extra: Record<string, unknown> = {},
): TopologyInput => ({
  supervisor: fast,
  containers: {
    billing: {
      module: "./member.ts",
      mode,
      supervisor: { strategy: "one_for_one", ...fast },
      children: {
        ledger: { module: "./member.ts", mode: "inline" },
        mailer: { module: "./member.ts", mode: "worker" },
      },
      ...extra,
    },
  },
});

for (const mode of ["process", "worker"] as const) {
  Deno.test(`a ${mode} container's children run inside it and are reachable by name`, async () => {
    await withRuntime(parentWith(mode), async (rt) => {
      const billing = node(rt, "billing");
      assert.equal(billing.supervisor?.strategy, "one_for_one");
      await waitUntil(() => find(rt.tree().containers, "mailer") !== undefined, 2000, "subtree");
      const parentNode = billing.instances[0].node;
      assert.equal(node(rt, "ledger").instances[0].node, parentNode, "inline child: same isolate");
      assert.equal(node(rt, "mailer").instances[0].node, `${parentNode}/w1`, "nested worker");
      assert.equal(await rt.ref("mailer").request("whoami"), "mailer#0.1");
      assert.equal(await rt.ref("ledger").request("whoami"), "ledger#0.1");
      // From a nested worker to a top-level container and back down.
      assert.equal(
        await rt.ref("mailer").request("ask", { to: "ledger", topic: "whoami" }),
        "ledger#0.1",
      );
      if (mode === "process") {
        const pids = new Set([
          await rt.ref("billing").request("pid"),
          await rt.ref("ledger").request("pid"),
          await rt.ref("mailer").request("pid"),
        ]);
        assert.equal(pids.size, 1, "the whole subtree lives in one OS process");
        assert.notEqual([...pids][0], Deno.pid);
      }
    });
  });

  Deno.test(`a failing child of a ${mode} container is restarted by that container's supervisor`, async () => {
    await withRuntime(parentWith(mode), async (rt) => {
      const exit = nextEvent(rt, "exit", (e) => e.container === "mailer");
      const restart = nextEvent(rt, "restart", (e) => e.container === "mailer");
      await assert.rejects(rt.ref("mailer").request("fail", { cls: "TypeError" }), /TypeError/);
      assert.equal((await exit).reason.kind, "error");
      assert.equal((await restart).incarnation, 2);
      await waitUntil(() => running(rt, "mailer", 2), 3000, "mailer#0.2 in the tree");
      assert.equal(node(rt, "billing").instances[0].incarnation, 1, "the parent was untouched");
      assert.equal(node(rt, "billing").restarts, 0);
      assert.equal(await rt.ref("mailer").request("count"), 1);
    });
  });

  Deno.test(`a ${mode} child supervisor that gives up fails its container, which the host restarts`, async () => {
    const topology = parentWith(mode);
    const billing = topology.containers.billing as { supervisor: Record<string, unknown> };
    billing.supervisor = { strategy: "one_for_one", intensity: 0 };
    await withRuntime(topology, async (rt) => {
      const escalated = nextEvent(rt, "escalate", (e) => e.supervisor === "billing");
      const parentExit = nextEvent(rt, "exit", (e) => e.container === "billing");
      await assert.rejects(rt.ref("mailer").request("fail", { cls: "DbError" }), /DbError/);
      const { error, child } = await escalated;
      assert.equal(child, "mailer");
      assert.equal(error.name, "SupervisorGaveUpError");
      assert.match(error.message, /supervisor "billing" gave up: more than 0 restarts/);
      assert.match(error.message, /mailer: DbError: DbError on purpose/);
      const exit = await parentExit;
      assert.match(exit.reason.message, /SupervisorGaveUpError/);
      await waitUntil(
        () => running(rt, "billing", 2) && running(rt, "mailer", 1),
        5000,
        "subtree back",
      );
      assert.equal(await rt.ref("mailer").request("whoami"), "mailer#0.1");
    });
  });
}

Deno.test("kill -9 of a process container: the host restarts it with its whole subtree", async () => {
  await withRuntime(parentWith("process"), async (rt) => {
    await waitUntil(() => running(rt, "mailer", 1), 2000, "mailer up");
    assert.equal(await rt.ref("mailer").request("count"), 1);
    const pid = await rt.ref("billing").request("pid") as number;
    Deno.kill(pid, "SIGKILL");
    const exit = await nextEvent(rt, "exit", (e) => e.container === "billing");
    assert.equal(exit.reason.kind, "killed");
    await waitUntil(
      () => running(rt, "billing", 2) && running(rt, "mailer", 1),
      5000,
      "subtree back",
    );
    assert.notEqual(await rt.ref("mailer").request("pid"), pid);
    assert.equal(await rt.ref("mailer").request("count"), 1, "a fresh mailer");
  });
});

Deno.test("an inline container supervises process children from the host", async () => {
  await withRuntime({
    supervisor: fast,
    containers: {
      front: {
        module: "./member.ts",
        mode: "inline",
        supervisor: { strategy: "one_for_all", ...fast },
        children: {
          x: { module: "./member.ts", mode: "process" },
          y: { module: "./member.ts", mode: "worker" },
        },
      },
    },
  }, async (rt) => {
    assert.notEqual(await rt.ref("x").request("pid"), Deno.pid);
    await assert.rejects(rt.ref("x").request("fail", { cls: "TypeError" }));
    // one_for_all under front: y restarts with x; front itself does not.
    await waitUntil(() => running(rt, "x", 2) && running(rt, "y", 2), 5000, "x and y restarted");
    assert.equal(node(rt, "front").instances[0].incarnation, 1);
    await rt.stop("x");
    assert.equal(find(rt.tree().containers, "x"), undefined, "stopped and removed");
  });
});

Deno.test("ctx.spawn of a worker in a process without read access to its module says what to grant", async () => {
  await withRuntime({
    supervisor: fast,
    containers: { boss: { module: "./member.ts", mode: "process" } },
  }, async (rt) => {
    const refused = await rt.ref("boss").request("spawn", {
      name: "dyn",
      spec: { module: "./member.ts" },
    }) as { ok: boolean; message: string };
    assert.equal(refused.ok, false);
    assert.match(
      refused.message,
      /Requires read access to "[^"]*member\.ts"[\s\S]*grant the parent read access to the module's folder/,
    );
    assert.equal(find(rt.tree().containers, "dyn"), undefined);
    assert.equal(await rt.ref("boss").request("count"), 1, "the parent is unharmed");
  });
});

Deno.test("ctx.spawn and ctx.stop manage children from inside a process, within its grant", async () => {
  const fixtures = decodeURIComponent(new URL("../fixtures/", import.meta.url).pathname);
  await withRuntime({
    supervisor: fast,
    containers: {
      boss: { module: "./member.ts", mode: "process", permissions: { read: [fixtures] } },
    },
  }, async (rt) => {
    const boss = rt.ref("boss");
    assert.deepEqual(
      await boss.request("spawn", { name: "dyn", spec: { module: "./member.ts", mode: "worker" } }),
      { ok: true },
    );
    await waitUntil(() => find(rt.tree().containers, "dyn") !== undefined, 2000, "dyn in tree");
    assert.equal(await rt.ref("dyn").request("whoami"), "dyn#0.1");
    assert.equal(await rt.ref("dyn").request("pid"), await boss.request("pid"));
    const twice = await boss.request("spawn", { name: "dyn", spec: { module: "./member.ts" } });
    assert.match(
      (twice as { message: string }).message,
      /container "dyn" already exists; pass \{ replace: true \}/,
    );
    assert.deepEqual(
      await boss.request("spawn", {
        name: "dyn",
        spec: { module: "./member.ts", mode: "inline" },
        replace: true,
      }),
      { ok: true },
    );
    await waitUntil(
      () => running(rt, "dyn", 1) && node(rt, "dyn").mode === "inline",
      2000,
      "replaced",
    );
    const greedy = await boss.request("spawn", {
      name: "greedy",
      spec: { module: "./member.ts", permissions: { read: ["/etc"] } },
    }) as { name: string; message: string };
    assert.equal(greedy.name, "PermissionEscalationError");
    assert.match(
      greedy.message,
      /"greedy" asks for read "\/etc".*its parent "boss" does not have it/,
    );
    assert.equal(await boss.request("stopChild", { name: "dyn", mode: "kill" }), true);
    await waitUntil(() => find(rt.tree().containers, "dyn") === undefined, 2000, "dyn removed");
    await assert.rejects(rt.ref("dyn").request("whoami"), /no container named "dyn"/);
  });
});

Deno.test("an inline container's supervisor that gives up fails it; the root restarts it and its children", async () => {
  await withRuntime({
    supervisor: fast,
    containers: {
      front: {
        module: "./member.ts",
        mode: "inline",
        supervisor: {
          strategy: "one_for_one",
          intensity: 1,
          period: "10s",
          backoff: { min: 1, max: 5 },
        },
        children: { x: { module: "./member.ts", mode: "worker" } },
      },
    },
  }, async (rt) => {
    const escalated = nextEvent(rt, "escalate", (e) => e.supervisor === "front");
    await assert.rejects(rt.ref("x").request("fail", { cls: "TypeError" }));
    await waitUntil(() => running(rt, "x", 2), 3000, "first restart, by front");
    await assert.rejects(rt.ref("x").request("fail", { cls: "TypeError" }));
    const { error } = await escalated;
    assert.match(error.message, /supervisor "front" gave up: more than 1 restarts within 10000 ms/);
    await waitUntil(() => running(rt, "front", 2) && running(rt, "x", 1), 5000, "front restarted");
    assert.equal(node(rt, "front").restarts, 1);
    assert.equal(rt.tree().supervisor.state, "running", "the root coped");
  });
});
