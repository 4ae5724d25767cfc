// A leading root killed and started again at once (as a process manager does), with real
// processes: a `nats-server -js`, `kraken start` roots and a `kraken node` agent. The restarted
// root must never stop what the agent holds for the take-over: alone, it waits for its earlier
// run's lease to expire, leads and adopts the container in place; beside a standby, whichever
// leads adopts it and the container is never fenced.
import assert from "node:assert/strict";
import { NatsServer, natsTest } from "../nats/_nats_server.ts";
import { type AgentProcess, childrenOf, eventually, startAgent } from "./_agents.ts";
import { rootTopology, startRoot } from "./_roots.ts";

async function withSetup(fn: (agent: AgentProcess, file: string) => Promise<void>) {
  const store = await Deno.makeTempDir({ prefix: "kraken_restart_" });
  const server = await NatsServer.start(["-js", "--store_dir", store]);
  let agent: AgentProcess | null = null;
  let file: string | null = null;
  try {
    agent = await startAgent("node-b");
    file = await rootTopology(agent.url, server.port);
    await fn(agent, file);
  } finally {
    await agent?.stop();
    if (file) await Deno.remove(file).catch(() => {});
    await server.kill();
    await Deno.remove(store, { recursive: true });
  }
}

const adoptedBy = (agent: AgentProcess, root: string) =>
  agent.log.some((l) =>
    new RegExp(`adopted x \\(epoch \\d+\\) for runtime "${root}" from "root-a"`).test(l)
  );

natsTest(
  "a leading root SIGKILLed and started again at once waits for its earlier run's lease, leads, and adopts the held container in place (never stops it)",
  async () => {
    await withSetup(async (agent, file) => {
      const roots: ReturnType<typeof startRoot>[] = [];
      try {
        const a = startRoot(file, "root-a", false);
        roots.push(a);
        await eventually(
          () => agent.log.some((l) => /running x \(epoch 1\) for runtime "root-a"/.test(l)),
          20_000,
          "root-a placed x",
        );
        const before = childrenOf(agent.pid);
        assert.equal(before.length, 1);
        a.child.kill("SIGKILL");
        await a.child.status;
        const again = startRoot(file, "root-a", false);
        roots.push(again);
        await eventually(() => adoptedBy(agent, "root-a"), 15_000, "root-a adopted x again");
        assert.match(again.text(), /still held under this root's name/);
        assert.deepEqual(childrenOf(agent.pid), before, "the same x process");
        assert.ok(!agent.log.some((l) => /stopping x/.test(l)), agent.log.join("\n"));
      } finally {
        await Promise.all(roots.map((r) => r.stop()));
      }
    });
  },
);

natsTest(
  "a leading root SIGKILLed and started again at once beside a standby: the restarted root stops nothing, whichever root leads adopts the container in place",
  async () => {
    await withSetup(async (agent, file) => {
      const roots: ReturnType<typeof startRoot>[] = [];
      try {
        const a = startRoot(file, "root-a", false);
        roots.push(a);
        await eventually(
          () => agent.log.some((l) => /running x \(epoch 1\) for runtime "root-a"/.test(l)),
          20_000,
          "root-a placed x",
        );
        const b = startRoot(file, "root-b", true);
        roots.push(b);
        await eventually(() => /standing by/.test(b.text()), 20_000, "root-b stands by");
        const before = childrenOf(agent.pid);
        a.child.kill("SIGKILL");
        await a.child.status;
        const again = startRoot(file, "root-a", false);
        roots.push(again);
        await eventually(
          () => adoptedBy(agent, "root-a") || adoptedBy(agent, "root-b"),
          15_000,
          "a root adopted x",
        );
        assert.deepEqual(childrenOf(agent.pid), before, "the same x process");
        assert.ok(!agent.log.some((l) => /stopping x/.test(l)), agent.log.join("\n"));
      } finally {
        await Promise.all(roots.map((r) => r.stop()));
      }
    });
  },
);
