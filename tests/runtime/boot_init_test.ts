// What the host sends a worker or process node right after its `init`, while the isolate still
// loads what init asked for (the tracing API), reaches the node: the whole routing table the hub
// sends each new node may already be newer than the init's.
import assert from "node:assert/strict";
import { bootNode } from "../../runtime/_boot.ts";
import { container } from "../../mod.ts";
import type { Envelope, RouteTable } from "../../protocol/envelope.ts";
import type { Link, LinkClosed } from "../../transports/link.ts";
import { waitUntil, withRuntime } from "../_helpers.ts";
import { startTracing } from "../../runtime/_tracing.ts";

/** Two ends of a link that hand each envelope over at once (in the sender's turn). */
function linkPair(): [Link, Link] {
  const make = (): Link & { peer?: Link } => {
    const end: Link & { peer?: Link } = {
      send: (env) => end.peer!.onEnvelope(structuredClone(env)),
      onEnvelope: () => {},
      close: () => {},
      closed: new Promise<LinkClosed>(() => {}),
    };
    return end;
  };
  const [a, b] = [make(), make()];
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/** The request's timeout: its node's expiry timer outlives the reply, so the test waits it out. */
const REQUEST_MS = 500;

const STARTING: RouteTable = {
  inventory: { balance: "round_robin", instances: [], q: 1000, w: 1 },
};
const RUNNING: RouteTable = {
  inventory: { balance: "round_robin", instances: [{ i: "inventory#0.1", n: "host" }], q: 1000 },
  orders: { balance: "round_robin", instances: [{ i: "orders#0.1", n: "w9" }], q: 1000 },
};

Deno.test("a routing table the host sends right after a traced init reaches the node: a request to a container that started meanwhile goes out", async () => {
  const [host, child] = linkPair();
  const seen: Envelope[] = [];
  host.onEnvelope = (env) => seen.push(env);
  const orders = container((ctx) => ({
    place: () => ctx.ref("inventory").request("reserve", "kr-1", { timeout: REQUEST_MS }),
  }));
  let stopped = false;
  bootNode(child, orders, "test:orders", {
    onStopped: () => stopped = true,
    onHostLost: () => {},
  });
  // The init's table is of the moment the worker was spawned (inventory still starting); the hub's
  // next broadcast, sent in the same turn, has inventory running.
  host.send({
    k: "init",
    s: {
      node: "w9",
      name: "orders",
      instance: "orders#0.1",
      config: {},
      shutdown: 1_000,
      logLevel: "error",
      routes: STARTING,
      trace: 1,
    },
  });
  host.send({ k: "routes", r: RUNNING });
  try {
    await waitUntil(() => seen.some((env) => env.k === "ready"), 5_000, "orders ready");
    host.send({ k: "req", i: 1, s: "host", to: "orders#0.1", t: "place", b: null });
    await waitUntil(
      () => seen.some((env) => env.k === "req" && env.to === "inventory#0.1"),
      2_000,
      "orders' request to inventory (held for a start it had already missed)",
    );
    const ask = seen.find((env) => env.k === "req" && env.to === "inventory#0.1")!;
    if (ask.k !== "req") throw new Error("not a request");
    host.send({ k: "res", i: ask.i, d: "w9", f: "inventory#0.1", b: true });
    await waitUntil(() => seen.some((env) => env.k === "res" && env.i === 1), 2_000, "reply");
    const reply = seen.find((env) => env.k === "res" && env.i === 1);
    assert.ok(reply?.k === "res");
    assert.equal(reply.b, true);
  } finally {
    host.send({ k: "stop" });
    await waitUntil(() => stopped, 5_000, "orders stopped");
    await new Promise((resolve) => setTimeout(resolve, REQUEST_MS + 100));
  }
});

Deno.test("with tracing on, a worker and a process started at once answer a request from one to the other at once, start after start", async () => {
  // Tracing on here makes each init ask its isolate to load the tracing API before it listens.
  await startTracing();
  for (let round = 0; round < 3; round++) {
    await withRuntime({
      name: "traced-start",
      containers: {
        inventory: { module: "./traces/inventory.ts", mode: "process" },
        orders: { module: "./traces/orders.ts", mode: "worker" },
      },
    }, async (rt) => {
      const reply = await rt.ref("orders").request("place", { sku: `kr-${round}` }, {
        timeout: 3_000,
      });
      assert.deepEqual(reply, { sku: `kr-${round}`, reserved: true });
    });
  }
});
