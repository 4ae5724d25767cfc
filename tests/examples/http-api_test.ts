// examples/http-api, end to end over real HTTP: its own kraken.yaml started with Runtime.start on a
// free port (HTTP_API_PORT=0), the gateway's two worker replicas serving it, inventory in a worker
// and orders in a process behind them.
import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import type { Order } from "../../examples/http-api/containers/orders.ts";
import type { Stock } from "../../examples/http-api/containers/inventory.ts";
import { nextEvent } from "../_helpers.ts";
import { netnsWhyNot, runInNetns } from "../_netns.ts";
import { getOnNewConnection, KeepAliveClient } from "./_http.ts";
import { HTTP_API, httpApiTopology } from "./_http_api.ts";

/**
 * Starts the example on a port of the kernel's choosing, and always shuts it down. Its requests
 * end within 18 s of the start (the client's deadline), leaving the shutdown time within 25 s.
 */
async function withShop(
  fn: (shop: { rt: Runtime; http: KeepAliveClient; port: number }) => Promise<void>,
): Promise<void> {
  const deadline = performance.now() + 18_000;
  const rt = await Runtime.start(await httpApiTopology(), {
    logLevel: "silent",
    baseUrl: HTTP_API.href,
  });
  let client: KeepAliveClient | undefined;
  try {
    const serving = rt.serving("gateway");
    assert.ok(serving, "the gateway serves");
    assert.equal(serving.protocol, "http");
    assert.ok(serving.port > 0, `port 0 resolved, got ${serving.port}`);
    client = new KeepAliveClient(`http://127.0.0.1:${serving.port}`, deadline);
    await fn({ rt, http: client, port: serving.port });
  } finally {
    client?.close();
    await rt.shutdown();
  }
}

Deno.test("http-api lists stock, places and reads orders, and answers 409 when stock runs out", async () => {
  await withShop(async ({ http, port }) => {
    const stock = await http.request<Stock[]>("/stock");
    assert.equal(stock.status, 200);
    assert.deepEqual(stock.body.map((s) => s.sku), ["kr-1", "kr-2", "kr-3"]);

    const placed = await http.request<Order>("/orders", { json: { sku: "kr-2", qty: 2 } });
    assert.equal(placed.status, 201);
    assert.equal(placed.body.sku, "kr-2");
    assert.equal(placed.body.qty, 2);
    const read = await http.request<Order>(`/orders/${placed.body.id}`);
    assert.equal(read.status, 200);
    assert.deepEqual(read.body, placed.body);

    const refused = await http.request<{ error: string; message: string }>("/orders", {
      json: { sku: "kr-2", qty: 2 },
    });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error, "OutOfStock");
    assert.match(refused.body.message, /2 asked, 1 left/);
    const left = await http.request<Stock>("/stock/kr-2");
    assert.deepEqual(left.body, { sku: "kr-2", available: 1, reserved: 2 });

    // Input that is not what a route expects: 400 and 404 naming it, no crash behind them.
    const bad = await http.request<{ error: string }>("/orders", { json: { sku: "kr-1", qty: 0 } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, "BadRequest");
    assert.equal((await http.request("/orders", { json: { sku: "nope", qty: 1 } })).status, 404);
    assert.equal((await http.request("/orders/0123abcd")).status, 404);
    assert.equal((await http.request("/stock/kr-1")).status, 200);

    // Both replicas serve the one port: new connections reach both.
    const servedBy = new Set<string>();
    for (let i = 0; i < 40 && servedBy.size < 2; i++) {
      const answer = await getOnNewConnection(port, "/", 2_000);
      assert.equal(answer.status, 200);
      servedBy.add(answer.servedBy!.split("#")[1].split(".")[0]);
    }
    assert.deepEqual([...servedBy].sort(), ["0", "1"]);
  });
});

Deno.test("http-api keeps answering while a crashed or killed orders process, or a crashed inventory worker, restarts", async () => {
  await withShop(async ({ rt, http }) => {
    for (const name of ["orders", "inventory"] as const) {
      const before = await http.request<Order>("/orders", { json: { sku: "kr-3", qty: 1 } });
      assert.equal(before.status, 201);
      const restarted = nextEvent(rt, "restart", (e) => e.container === name, 10_000);
      const crash = await http.request<{ crashing: string }>(`/crash/${name}`, { method: "POST" });
      assert.equal(crash.status, 202);
      // Until the new incarnation is up, every request is answered (held, then served, or 503):
      // none hangs (each is bounded by the client's 10 s) and none fails otherwise.
      let back = false;
      restarted.then(() => back = true, () => {});
      const statuses: number[] = [];
      while (!back) {
        const path = name === "orders" ? "/orders" : "/stock";
        statuses.push((await http.request(path)).status);
      }
      await restarted;
      assert.ok(statuses.length > 0);
      assert.deepEqual(statuses.filter((s) => s !== 200 && s !== 503), [], `during ${name}`);
      const after = await http.request<Order>("/orders", { json: { sku: "kr-3", qty: 1 } });
      assert.equal(after.status, 201, `an order after ${name} restarted`);
      if (name === "orders") {
        assert.notEqual(after.body.recordedBy, before.body.recordedBy, "a new incarnation");
        assert.equal((await http.request(`/orders/${before.body.id}`)).status, 404, "orders lost");
      } else {
        // The inventory starts again from kraken.yaml's stock: 100 less this order.
        const kr3 = await http.request<Stock>("/stock/kr-3");
        assert.equal(kr3.body.available, 99);
      }
    }

    // kill -9 of the orders process: detected, restarted, and the API answers throughout.
    const before = await http.request<Order>("/orders", { json: { sku: "kr-3", qty: 1 } });
    const restarted = nextEvent(rt, "restart", (e) => e.container === "orders", 10_000);
    Deno.kill(before.body.pid, "SIGKILL");
    let back = false;
    restarted.then(() => back = true, () => {});
    const statuses: number[] = [];
    while (!back) statuses.push((await http.request("/orders")).status);
    await restarted;
    assert.deepEqual(statuses.filter((s) => s !== 200 && s !== 503), [], "during the kill");
    const after = await http.request<Order>("/orders", { json: { sku: "kr-3", qty: 1 } });
    assert.equal(after.status, 201);
    assert.notEqual(after.body.pid, before.body.pid, "a new orders process");
  });
});

const ROLLING = new URL("./fixtures/http_api_rolling.ts", import.meta.url).pathname;

const noNetns = await netnsWhyNot();
if (noNetns) {
  console.log(
    `http_api_test.ts: skipping the rolling restart under load (it needs a network namespace ` +
      `with net.ipv4.tcp_migrate_req=1: ${noNetns})`,
  );
}

Deno.test({
  name:
    "http-api loses no request while the gateway restarts replica by replica, and scales, under load",
  ignore: noNetns !== null,
  fn: async () => {
    const seen = await runInNetns<{
      answered: number;
      failures: string[];
      error: string | null;
      before: string[];
      after: string[];
      servedAfter: string[];
    }>(ROLLING, { timeout: 24_000 });
    assert.equal(seen.error, null);
    assert.deepEqual(seen.failures, []);
    assert.ok(seen.answered >= 100, `${seen.answered} answers`);
    assert.equal(seen.after.length, 2);
    for (const id of seen.after) assert.ok(!seen.before.includes(id), `${id} is a new incarnation`);
    assert.ok(seen.after.some((id) => seen.servedAfter.includes(id)), "the new replicas answered");
  },
});

Deno.test("deno task example:http-api gives the topology every variable it reads (local.env)", async () => {
  const root = new URL("../../", import.meta.url);
  const tasks = JSON.parse(await Deno.readTextFile(new URL("deno.json", root))).tasks;
  const [deno, ...args] = (tasks["example:http-api"] as string).split(" ");
  assert.equal(deno, "deno");
  assert.ok(args.includes("--env-file=examples/http-api/local.env"), tasks["example:http-api"]);
  // The task's own command line, `check` for `start`, in an environment without the variables.
  const env = Deno.env.toObject();
  delete env.HTTP_API_PORT;
  delete env.KRAKEN_TOKEN;
  const out = await new Deno.Command(Deno.execPath(), {
    args: args.map((arg) => arg === "start" ? "check" : arg),
    cwd: root.pathname,
    clearEnv: true,
    env: { ...env, NO_COLOR: "1" },
    stdin: "null",
    signal: AbortSignal.timeout(20_000),
  }).output();
  const said = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, said);
  assert.match(said, /ok \(3 containers\)/);
});
