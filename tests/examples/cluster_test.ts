// examples/cluster, end to end: its launcher starts the front runtime (the gateway) and the back
// runtime (orders, inventory) as `kraken start` processes, linked by TCP or over NATS; an order
// placed through the gateway is recorded on the back runtime; the back runtime killed, the gateway
// answers 503; started again (the launcher's `back` command), it answers 200 again.
import assert from "node:assert/strict";
import type { Order } from "../../examples/http-api/containers/orders.ts";
import { Running } from "../cli/_cli.ts";
import { freePort, KeepAliveClient } from "./_http.ts";

const LAUNCHER = new URL("../../examples/cluster/main.ts", import.meta.url).pathname;

/** Whether a program is on the PATH (nats-server is in CI; a laptop may lack it). */
function installed(program: string): boolean {
  try {
    return new Deno.Command(program, { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

const NATS = installed("nats-server");
if (!NATS) {
  console.warn(
    "cluster_test: nats-server is not installed, so the NATS variant is skipped " +
      "(apt install nats-server to run it; CI has it)",
  );
}

/** The launcher (`main.ts VARIANT WHICH`) as a subprocess, every setting on a free port. */
function launch(variant: "tcp" | "nats", which: string, env: Record<string, string>): Running {
  return new Running(
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-prompt", LAUNCHER, variant, which],
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }),
  );
}

/**
 * Asks a launcher to stop (SIGTERM: what it does on Ctrl-C) and waits up to 4 s; then (or if it
 * hangs) kills whatever is left below it.
 */
async function stop(run: Running): Promise<void> {
  try {
    Deno.kill(run.pid, "SIGTERM");
  } catch {
    // exited already
  }
  await run.exit(4_000).catch(() => {}); // past 4 s, exit() has killed it and everything below
  await run.kill().catch(() => {});
}

async function clusterRoundTrip(variant: "tcp" | "nats"): Promise<void> {
  // Every wait ends within 19 s of the start, leaving the stops (graceful, 4 s at most, then
  // killed) within 25 s.
  const deadline = performance.now() + 19_000;
  const left = () => Math.max(1, deadline - performance.now());
  const port = freePort();
  const env = {
    HTTP_API_PORT: String(port),
    CLUSTER_LINK: `127.0.0.1:${freePort()}`,
    NATS_URL: `nats://127.0.0.1:${freePort()}`, // a server of this test's own, started by the launcher
    FRONT_MANAGEMENT: `127.0.0.1:${freePort()}`,
    BACK_MANAGEMENT: `127.0.0.1:${freePort()}`,
    KRAKEN_TOKEN: "cluster-test",
    KRAKEN_SECRET: "cluster-test-secret",
  };
  const all = launch(variant, "all", env);
  let back: Running | undefined;
  const http = new KeepAliveClient(`http://127.0.0.1:${port}`, deadline);
  try {
    const [, backPid] = await all.waitFor(/back runtime, pid (\d+)/, left());

    // An order placed through the gateway (front) is recorded by orders, a child process of the
    // back runtime.
    const placed = await http.request<Order>("/orders", { json: { sku: "kr-1", qty: 1 } });
    assert.equal(placed.status, 201);
    const recordedIn = Deno.readTextFileSync(`/proc/${placed.body.pid}/stat`);
    const parent = Number(recordedIn.slice(recordedIn.lastIndexOf(")") + 2).split(" ")[1]);
    assert.equal(parent, Number(backPid), "orders runs under the back runtime");

    // The back runtime killed: requests are held while it may come back, then answered 503.
    Deno.kill(Number(backPid), "SIGKILL");
    const seen: number[] = [];
    while (seen.at(-1) !== 503) {
      const answer = await http.request("/stock", { ms: 5_000 }).catch((error: Error) => {
        throw new Error(`${error.message}; statuses so far: ${seen}`);
      });
      seen.push(answer.status);
    }
    // Meanwhile: 504 for a request held until its timeout (200 only before the kill took effect).
    assert.deepEqual(seen.filter((s) => ![200, 503, 504].includes(s)), []);

    // Started again with the launcher's `back` command: the gateway answers again.
    back = launch(variant, "back", env);
    let status = 0;
    while (status !== 200 && left() > 1) {
      status = (await http.request("/stock", { ms: 5_000 }).catch(() => ({ status: 0 }))).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(status, 200, "the gateway answers once the back runtime is back");
  } finally {
    http.close();
    await Promise.all([all, back].filter((run) => run !== undefined).map(stop));
  }
}

Deno.test("cluster over TCP: an order crosses runtimes, a killed back runtime is 503, back again is 200", async () => {
  await clusterRoundTrip("tcp");
});

Deno.test({
  name:
    "cluster over NATS: an order crosses runtimes, a killed back runtime is 503, back again is 200",
  ignore: !NATS,
  fn: () => clusterRoundTrip("nats"),
});
