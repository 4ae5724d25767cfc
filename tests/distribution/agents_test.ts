// Host agents (`kraken node`, real OS processes): remote containers placed on them by a root
// runtime, limits the agent enforces, and host failure — a killed or frozen agent's containers
// serve again elsewhere within 3 s, requests issued meanwhile complete, and a returning agent's
// stale copy is fenced before it rejoins as capacity.
import assert from "node:assert/strict";
import type { Runtime, TopologyInput } from "../../mod.ts";
import { Runtime as RT } from "../../mod.ts";
import {
  type AgentProcess,
  alive,
  childrenOf,
  eventually,
  FIXTURES_DIR,
  pause,
  SECRET,
  startAgent,
} from "./_agents.ts";

function topology(
  agents: AgentProcess[],
  containers: TopologyInput["containers"],
  extra: Partial<TopologyInput> = {},
): TopologyInput {
  return {
    name: "dist",
    transports: { name: "root", secret: SECRET, keepalive: "1s" },
    hosts: Object.fromEntries(agents.map((a) => [a.name, { address: a.url }])),
    containers,
    ...extra,
  };
}

async function withCluster(
  names: string[],
  fn: (agents: AgentProcess[]) => Promise<void>,
  options: Parameters<typeof startAgent>[1] = {},
) {
  const agents: AgentProcess[] = [];
  try {
    for (const name of names) agents.push(await startAgent(name, options));
    await fn(agents);
  } finally {
    await Promise.all(agents.map((a) => {
      try {
        a.child.kill("SIGCONT");
      } catch {
        // gone
      }
      return a.stop();
    }));
  }
}

const start = (t: TopologyInput, logs: string[] = []) =>
  RT.start(t, {
    baseUrl: `file://${FIXTURES_DIR}`,
    logLevel: "info",
    logger: (e) => logs.push(`${e.level} ${e.message}`),
  });

const remote = (extra: Record<string, unknown> = {}) => ({
  module: "./member.ts",
  mode: "remote" as const,
  ...extra,
});

Deno.test("a remote container is placed on a host agent, runs as the agent's child process, and is reached by name", async () => {
  await withCluster(["node-b"], async ([b]) => {
    const rt = await start(topology([b], { x: remote() }));
    try {
      assert.equal(await rt.ref("x").request("whoami"), "x#0.1");
      const pid = await rt.ref("x").request("pid") as number;
      assert.ok(childrenOf(b.pid).includes(pid), "x is a process of the agent");
      const x = rt.tree().containers.find((c) => c.name === "x")!;
      assert.equal(x.mode, "remote");
      assert.equal(x.host, "node-b");
      assert.equal(x.running, 1);
      assert.deepEqual(x.placement, { state: "running", epoch: 1 });
    } finally {
      await rt.shutdown();
    }
    // Its root gone, the agent stops what it ran.
    await eventually(() => childrenOf(b.pid).length === 0, 5000, "x stopped on the agent");
  });
});

Deno.test("an agent refuses a grant beyond its --max-permissions with PermissionEscalationError", async () => {
  await withCluster(["node-b"], async ([b]) => {
    await assert.rejects(
      start(topology([b], { x: remote({ permissions: { net: ["127.0.0.1:9"] } }) })),
      (e: Error) =>
        e.name === "PermissionEscalationError" &&
        /container "x" asks for net "127.0.0.1:9", which cannot be granted: this agent's --max-permissions grant no net/
          .test(e.message),
    );
  }, { maxPermissions: { read: true } });
});

Deno.test("an agent runs only modules under its --root", async () => {
  await withCluster(["node-b"], async ([b]) => {
    await assert.rejects(
      start(topology([b], { x: remote({ module: "./no_such_module.ts" }) })),
      /module "\.\/no_such_module\.ts" does not exist under this agent's root/,
    );
  });
});

Deno.test("placement: host: pins an agent; spread puts containers on the least used agents", async () => {
  await withCluster(["node-b", "node-c"], async ([b, c]) => {
    const rt = await start(topology([b, c], {
      pinned: remote({ host: "node-c" }),
      s1: remote(),
      s2: remote(),
    }));
    try {
      const hosts = Object.fromEntries(rt.tree().containers.map((x) => [x.name, x.host]));
      assert.equal(hosts.pinned, "node-c");
      // Three containers on two agents: spread leaves them two and one, never three and none.
      const onB = Object.values(hosts).filter((h) => h === "node-b").length;
      assert.ok(onB === 1 || onB === 2, JSON.stringify(hosts));
      for (const name of ["pinned", "s1", "s2"]) {
        assert.equal(await rt.ref(name).request("whoami"), `${name}#0.1`);
      }
    } finally {
      await rt.shutdown();
    }
  });
});

/**
 * Keeps requests with retries going to `name` until stopped (or, should a failing test never stop
 * it, for at most `ms`); counts outcomes.
 */
function load(rt: Runtime, name: string, ms = 120_000) {
  let running = true;
  const end = performance.now() + ms;
  const stats = { ok: 0, failed: [] as string[], answeredBy: new Set<string>() };
  const loops = Array.from({ length: 4 }, async () => {
    while (running) {
      if (performance.now() > end) {
        stats.failed.push(`the load was never stopped within ${ms} ms`);
        break;
      }
      try {
        const who = await rt.ref(name).request("pid", undefined, { timeout: 2_000, retries: 3 });
        stats.answeredBy.add(String(who));
        stats.ok++;
      } catch (error) {
        stats.failed.push(`${(error as Error).name}: ${(error as Error).message}`);
      }
      await pause(5);
    }
  });
  return {
    stats,
    async stop() {
      running = false;
      await Promise.all(loops);
      return stats;
    },
  };
}

Deno.test("host failure: an agent killed with SIGKILL — its container serves again on another agent within 3 s; requests meanwhile complete", async () => {
  await withCluster(["node-b", "node-c"], async ([b, c]) => {
    const rt = await start(topology([b, c], { x: remote({ host: undefined }) }));
    try {
      const first = rt.tree().containers.find((x) => x.name === "x")!.host;
      const victim = first === "node-b" ? b : c;
      const survivor = first === "node-b" ? c : b;
      const traffic = load(rt, "x");
      await pause(200);
      const killedAt = performance.now();
      victim.child.kill("SIGKILL");
      await eventually(
        () =>
          rt.tree().containers.find((x) => x.name === "x")!.host === survivor.name &&
          rt.tree().containers.find((x) => x.name === "x")!.running === 1,
        3_000,
        "x running on the survivor",
      );
      const moved = performance.now() - killedAt;
      await pause(300);
      const stats = await traffic.stop();
      assert.deepEqual(stats.failed, [], `${stats.ok} requests succeeded`);
      assert.ok(moved < 3_000, `serving again after ${Math.round(moved)} ms`);
      assert.equal(stats.answeredBy.size, 2, "answered before and after the move");
      const x = rt.tree().containers.find((x) => x.name === "x")!;
      assert.equal(x.restarts, 1);
      assert.equal(x.placement?.epoch, 2);
    } finally {
      await rt.shutdown();
    }
  });
});

Deno.test("fencing: a frozen agent's copy stops when it wakes, the container runs once, and the agent rejoins as capacity", async () => {
  await withCluster(["node-b", "node-c"], async ([b, c]) => {
    const rt = await start(topology([b, c], { x: remote({ host: undefined }) }));
    try {
      const first = rt.tree().containers.find((x) => x.name === "x")!.host;
      const frozen = first === "node-b" ? b : c;
      const other = first === "node-b" ? c : b;
      const stalePid = await rt.ref("x").request("pid") as number;
      frozen.child.kill("SIGSTOP");
      await eventually(
        () =>
          rt.tree().containers.find((x) => x.name === "x")!.host === other.name &&
          rt.tree().containers.find((x) => x.name === "x")!.running === 1,
        3_000,
        "x moved to the other agent",
      );
      const freshPid = await rt.ref("x").request("pid") as number;
      assert.notEqual(freshPid, stalePid);
      frozen.child.kill("SIGCONT");
      // Awake again, it learns it lost its root (or is told on rejoining) and stops its copy.
      await eventually(() => !alive(stalePid), 5_000, "the stale copy stopped");
      await eventually(
        () => rt.tree().peers.some((p) => p.name === frozen.name && p.state === "connected"),
        5_000,
        "the agent rejoined",
      );
      for (let i = 0; i < 20; i++) assert.equal(await rt.ref("x").request("pid"), freshPid);
      // It is capacity again: a new container goes to it (spread: it runs nothing).
      await rt.spawn("y", remote());
      assert.equal(rt.tree().containers.find((x) => x.name === "y")!.host, frozen.name);
      assert.equal(await rt.ref("y").request("whoami"), "y#0.1");
    } finally {
      await rt.shutdown();
    }
  });
});

Deno.test("reload moves a remote container to another host (host: changed) while requests keep succeeding", async () => {
  await withCluster(["node-b", "node-c"], async ([b, c]) => {
    const v1 = topology([b, c], { x: remote({ host: "node-b" }) });
    const rt = await start(v1);
    try {
      const traffic = load(rt, "x");
      await pause(100);
      const plan = await rt.apply(topology([b, c], { x: remote({ host: "node-c" }) }));
      assert.deepEqual(plan.steps.map((s) => s.op), ["replace"]);
      assert.equal(rt.tree().containers.find((x) => x.name === "x")!.host, "node-c");
      await pause(200);
      const stats = await traffic.stop();
      assert.deepEqual(stats.failed, []);
      assert.equal(stats.answeredBy.size, 2);
      await eventually(() => childrenOf(b.pid).length === 0, 5_000, "the old copy stopped on b");
      await rt.scale("x", 2);
      await eventually(
        () => rt.tree().containers.find((x) => x.name === "x")!.running === 2,
        5_000,
        "two replicas on c",
      );
    } finally {
      await rt.shutdown();
    }
  });
});

Deno.test("remote supervision: a placed container that fails is restarted by its agent, and the root sees it", async () => {
  await withCluster(["node-b"], async ([b]) => {
    const rt = await start(topology([b], { x: remote() }));
    try {
      const restarts: string[] = [];
      rt.on("restart", (e) => restarts.push(`${e.container} ${e.instance}`));
      const before = await rt.ref("x").request("pid");
      await assert.rejects(
        rt.ref("x").request("fail", { cls: "TypeError" }),
        /TypeError on purpose/,
      );
      await eventually(() => restarts.length === 1, 5_000, "the restart event");
      assert.deepEqual(restarts, ["x x#0.2"]);
      assert.notEqual(await rt.ref("x").request("pid"), before, "a fresh process on the agent");
      const x = rt.tree().containers.find((c) => c.name === "x")!;
      assert.equal(x.restarts, 1);
      assert.equal(x.host, "node-b");
      // Everything the agent sent (placement, routes, logs, events, its load) passed the edge.
      assert.equal(rt.tree().refused, 0);
    } finally {
      await rt.shutdown();
    }
  });
});

Deno.test("kraken node refuses to start without a secret or with bad --max-permissions (exit 2)", async () => {
  const cli = new URL("../../cli/main.ts", import.meta.url).pathname;
  for (
    const [args, message] of [
      [["node", "--name", "n"], /needs --secret \(or KRAKEN_SECRET\)/],
      [["node", "--secret", "s", "--max-permissions", "{nope"], /--max-permissions must be JSON/],
      [["node", "--secret", "s", "--max-permissions", '{"nett":true}'], /--max-permissions: nett/],
    ] as const
  ) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-lock", cli, ...args],
      env: { NO_COLOR: "1", KRAKEN_SECRET: "" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 2, args.join(" "));
    assert.match(new TextDecoder().decode(out.stderr), message);
  }
});

Deno.test("two roots share an agent: each runs, sees and stops only its own containers; a name another root placed there is refused", async () => {
  await withCluster(["node-b"], async ([b]) => {
    const r1 = await start(topology([b], { single: remote() }));
    const t2 = topology([b], { other: remote() });
    t2.transports = { name: "root2", secret: SECRET, keepalive: "1s" };
    const r2 = await start(t2);
    try {
      assert.equal(await r1.ref("single").request("whoami"), "single#0.1");
      assert.equal(await r2.ref("other").request("whoami"), "other#0.1");
      await assert.rejects(r2.ref("single").request("whoami"), /no container named "single"/);
      await assert.rejects(
        r2.spawn("single", remote()),
        /already runs a container named "single" for runtime "root"/,
      );
      await pause(300);
      assert.equal(await r1.ref("single").request("whoami"), "single#0.1", "r1's copy untouched");
      assert.equal(r1.tree().containers.find((c) => c.name === "single")!.running, 1);
    } finally {
      await r2.shutdown();
      await r1.shutdown();
    }
  });
});

Deno.test("scaling a remote container keeps its running replicas", async () => {
  await withCluster(["node-b"], async ([b]) => {
    const rt = await start(topology([b], { x: remote() }));
    try {
      assert.equal(await rt.ref("x").request("count"), 1);
      await rt.scale("x", 2);
      await eventually(
        () => rt.tree().containers.find((c) => c.name === "x")!.running === 2,
        5_000,
        "two replicas",
      );
      const ids = rt.tree().containers.find((c) => c.name === "x")!.instances.map((i) => i.id);
      assert.deepEqual(ids.toSorted(), ["x#0.1", "x#1.1"], "replica 0 kept its incarnation");
    } finally {
      await rt.shutdown();
    }
  });
});

Deno.test("a host: naming a runtime that is not an agent fails at start and says why", async () => {
  const plain = await RT.start({
    name: "dist",
    transports: { name: "plain", listen: "tcp://127.0.0.1:0", secret: SECRET },
    containers: {},
  }, { logLevel: "silent", baseUrl: `file://${FIXTURES_DIR}` });
  try {
    await assert.rejects(
      start({
        name: "dist",
        transports: { name: "root", secret: SECRET, keepalive: "1s" },
        hosts: { plain: { address: plain.listening!.href } },
        containers: { x: remote({ host: "plain" }) },
      }),
      /host "plain" is a runtime, not a host agent: start it with kraken node/,
    );
  } finally {
    await plain.shutdown();
  }
});

Deno.test("what a placed container logs on its agent shows in the root's log, with its host", async () => {
  await withCluster(["node-b"], async ([b]) => {
    const logs: string[] = [];
    const rt = await RT.start(topology([b], { x: remote() }), {
      baseUrl: `file://${FIXTURES_DIR}`,
      logLevel: "info",
      logger: (e) => logs.push(`${e.source} ${e.message}`),
    });
    try {
      await rt.ref("x").request("printRaw", { text: "HELLO-FROM-AGENT\n" });
      await eventually(() => logs.some((l) => l.includes("HELLO-FROM-AGENT")), 3_000, "the line");
      assert.ok(logs.includes("x#0.1@node-b HELLO-FROM-AGENT"), logs.join("\n"));
    } finally {
      await rt.shutdown();
    }
  });
});

Deno.test("rt.restart of a remote container restarts it on its agent (a new incarnation, a new process)", async () => {
  await withCluster(["node-b"], async ([b]) => {
    const rt = await start(topology([b], { x: remote() }));
    try {
      const before = await rt.ref("x").request("pid");
      await rt.restart("x");
      await eventually(
        async () => {
          try {
            return (await rt.ref("x").request("whoami", undefined, { timeout: 500 })) === "x#0.2";
          } catch {
            return false;
          }
        },
        5_000,
        "the new incarnation answers",
      );
      assert.notEqual(await rt.ref("x").request("pid"), before);
    } finally {
      await rt.shutdown();
    }
  });
});
