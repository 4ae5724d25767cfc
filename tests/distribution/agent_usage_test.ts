// What a host agent (`kraken node`, a real OS process) measures of the containers it runs for a
// root — resident memory and CPU per instance — shows in the root's tree under the agent, and in
// `kraken status` there, as for the root's own workers and processes.
import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import { serveManagement } from "../../management/server.ts";
import { kraken } from "../cli/_cli.ts";
import { waitUntil } from "../_helpers.ts";
import { childrenOf, FIXTURES_DIR, SECRET, startAgent } from "./_agents.ts";

const TOKEN = "agent-usage-token-0123456789";

/** Resident bytes of process `pid`, from /proc. */
function residentBytes(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) * 1024;
}

Deno.test("a remote container's instances show the memory and CPU their agent measures, under the agent, in rt.tree() and kraken status", async () => {
  const agent = await startAgent("node-b");
  try {
    const rt = await Runtime.start({
      name: "dist",
      transports: { name: "root", secret: SECRET, keepalive: "1s" },
      hosts: { "node-b": { address: agent.url } },
      containers: {
        stock: { module: "./member.ts", mode: "remote", replicas: 2 },
        local: { module: "./member.ts", mode: "process" },
      },
    }, { baseUrl: `file://${FIXTURES_DIR}`, logLevel: "silent" });
    const api = await serveManagement(rt, { listen: "127.0.0.1:0", token: TOKEN });
    try {
      const stock = () => rt.tree().containers.find((c) => c.name === "stock")!;
      await waitUntil(
        () =>
          stock().instances.length === 2 &&
          stock().instances.every((i) => i.memoryBytes !== undefined && i.cpuPercent !== undefined),
        10_000,
        "the agent's figures for both stock instances",
      );
      assert.equal(stock().host, "node-b");
      // The figures are the resident memory of the agent's two child processes (the instances),
      // as /proc on the agent's machine says: not the root's, not the agent's own.
      const children = childrenOf(agent.pid);
      assert.equal(children.length, 2, `the agent's children: ${children}`);
      const inProc = children.reduce((sum, pid) => sum + residentBytes(pid), 0);
      const reported = stock().instances.reduce((sum, i) => sum + i.memoryBytes!, 0);
      assert.ok(
        Math.abs(reported - inProc) < inProc * 0.5,
        `${reported} bytes reported, ${inProc} in /proc`,
      );
      for (const instance of stock().instances) {
        assert.ok(instance.memoryBytes! > 10 * 2 ** 20, `${instance.id}: ${instance.memoryBytes}`);
        assert.ok(instance.cpuPercent! >= 0);
      }

      const out = await kraken(["status", "--url", api.url.href, "--token", TOKEN, "-i"]);
      assert.equal(out.code, 0, out.stderr);
      const row = out.stdout.split("\n").find((line) => /^stock\s/.test(line));
      assert.ok(row, out.stdout);
      assert.match(row, /\bremote\s+node-b\s+running\s+2\/2\b.*\d+\.\d MiB\s+\d+\.\d%/);
      const instanceRows = out.stdout.split("\n").filter((line) => /· stock#/.test(line));
      assert.equal(instanceRows.length, 2, out.stdout);
      for (const line of instanceRows) assert.match(line, /\d+\.\d MiB\s+\d+\.\d%/);
    } finally {
      await api.close();
      await rt.shutdown();
    }
  } finally {
    await agent.stop();
  }
});
