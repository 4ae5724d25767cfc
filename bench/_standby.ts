// Root hand-over for bench/distribution.ts: a `nats-server -js`, a `kraken node` agent and two
// `kraken start` roots of one topology with a `leadership:` block (ttl 1 s); the active root is
// SIGKILLed, and the time until the standby has adopted the remote container (it keeps running)
// on the agent is measured.
import { NatsServer } from "../tests/nats/_nats_server.ts";
import { startAgent } from "../tests/distribution/_agents.ts";
import { placedFor, rootTopology, startRoot } from "../tests/distribution/_roots.ts";

/** Milliseconds from the SIGKILL of the active root to the standby's adoption; null: none in 10 s. */
export async function rootHandOver(): Promise<number | null> {
  const store = await Deno.makeTempDir({ prefix: "kraken_bench_standby_" });
  const server = await NatsServer.start(["-js", "--store_dir", store]);
  const agent = await startAgent("node-b", { keepalive: 1000 });
  const file = await rootTopology(agent.url, server.port);
  const a = startRoot(file, "root-a", false);
  let b: ReturnType<typeof startRoot> | null = null;
  const until = async (check: () => boolean, ms: number) => {
    const end = performance.now() + ms;
    while (!check()) {
      if (performance.now() > end) return false;
      await new Promise((r) => setTimeout(r, 5));
    }
    return true;
  };
  try {
    if (!await until(() => placedFor(agent, "root-a"), 20_000)) return null;
    b = startRoot(file, "root-b", true);
    if (!await until(() => /standing by/.test(b!.text()), 20_000)) return null;
    await new Promise((r) => setTimeout(r, 500));
    const t = performance.now();
    a.child.kill("SIGKILL");
    return await until(() => placedFor(agent, "root-b"), 10_000) ? performance.now() - t : null;
  } finally {
    await a.stop();
    await b?.stop();
    await agent.stop();
    await Deno.remove(file).catch(() => {});
    await server.kill();
    await Deno.remove(store, { recursive: true });
  }
}
