// How runtimes dial each other: two that both list the other under hosts: end up with one link
// (the one dialed by the runtime whose name sorts first) and keep it; a dialer whose introduction
// the other side refuses backs off instead of redialing ten times a second.
import assert from "node:assert/strict";
import type { Runtime, TopologyInput } from "../../mod.ts";
import { Runtime as RT } from "../../mod.ts";
import { FIXTURES, waitUntil } from "../_helpers.ts";
import { defaultTransports } from "../../transports/defaults.ts";
import { TransportSet } from "../../transports/transport_set.ts";
import { Federation } from "../../distribution/_federation.ts";
import type { Hub } from "../../distribution/types.ts";

/** The built-in transports, as a runtime given none uses them. */
const builtin = new TransportSet(defaultTransports());

const SECRET = "dialing";

async function start(topology: TopologyInput, logs: string[]): Promise<Runtime> {
  return await RT.start(topology, {
    baseUrl: FIXTURES.href,
    logLevel: "info",
    logger: (e) => logs.push(e.message),
  });
}

const linked = (rt: Runtime, peer: string) =>
  rt.tree().peers.some((p) =>
    p.name === peer && p.state === "connected" && p.containers.length > 0
  );

Deno.test("two runtimes that dial each other keep one link, and both reach each other over it", async () => {
  const id = crypto.randomUUID();
  const address = (name: string) => `memory://${name}-${id}`;
  const runtime = (name: string, other: string, container: string): TopologyInput => ({
    name: "shop",
    transports: { name, listen: address(name), secret: SECRET, keepalive: "500ms" },
    hosts: { [other]: { address: address(other) } },
    containers: { [container]: { module: "./member.ts", mode: "inline" } },
  });
  const logsA: string[] = [];
  const logsB: string[] = [];
  const [a, b] = await Promise.all([
    start(runtime("a", "b", "front"), logsA),
    start(runtime("b", "a", "back"), logsB),
  ]);
  try {
    await waitUntil(() => linked(a, "b") && linked(b, "a"), 5_000, "linked both ways");
    const lostBefore = [logsA, logsB].map((l) => l.filter((m) => /lost the link/.test(m)).length);
    await new Promise((r) => setTimeout(r, 1_500)); // three keepalives: no flapping
    assert.ok(linked(a, "b") && linked(b, "a"), "still linked");
    const lostAfter = [logsA, logsB].map((l) => l.filter((m) => /lost the link/.test(m)).length);
    assert.deepEqual(lostAfter, lostBefore, "the link that was kept stays up");
    assert.equal(await a.ref("back").request("whoami"), "back#0.1");
    assert.equal(await b.ref("front").request("whoami"), "front#0.1");
  } finally {
    await Promise.all([a.shutdown(), b.shutdown()]);
  }
});

/** A federation alone (its hub only hands control envelopes back), named `name`, dialing `other`. */
function federation(name: string, other: string, id: string, logs: string[]): Federation {
  const hub: Hub = {
    routes: {},
    attachPeer(_name, link, onControl) {
      link.onEnvelope = (env) => onControl(env);
    },
    detach() {},
    reportRefused() {},
    send() {},
  };
  return new Federation(hub, {
    spec: {
      name,
      listen: `memory://${name}-${id}`,
      secret: SECRET.repeat(4),
      keepalive: 500,
      maxFrame: 1 << 20,
    },
    hosts: { [other]: { address: `memory://${other}-${id}` } },
    transports: builtin,
    hooks: {
      ownNames: () => [],
      ownRoutes: () => ({}),
      changed() {},
      log: (_level, message) => logs.push(`${name}: ${message}`),
      unreachable() {},
    },
  });
}

Deno.test("two runtimes that dial each other at the same moment agree on one link: the one dialed by the name that sorts first", async () => {
  // Each round both dial at once; which introduction each side reads first varies, and without
  // one rule both sides would keep their own link and close the other's: both lost.
  for (let round = 0; round < 6; round++) {
    const id = crypto.randomUUID();
    const logs: string[] = [];
    const a = federation("a", "b", id, logs);
    const b = federation("b", "a", id, logs);
    try {
      await Promise.all([a.start(), b.start()]);
      await waitUntil(
        () => a.snapshot()[0].state === "connected" && b.snapshot()[0].state === "connected",
        5_000,
        "linked",
      );
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(logs.filter((l) => /lost the link/.test(l)), [], logs.join("\n"));
      assert.equal(a.snapshot()[0].state, "connected");
      assert.equal(b.snapshot()[0].state, "connected");
    } finally {
      await a.close();
      await b.close();
    }
  }
});

Deno.test("a dialer the other side keeps refusing backs off (100 ms doubling), though it accepts the other side", async () => {
  const logsA: string[] = [];
  const a = await start({
    name: "shop",
    transports: { name: "a", listen: "tcp://127.0.0.1:0", secret: SECRET, keepalive: "500ms" },
    containers: { front: { module: "./member.ts", mode: "inline" } },
  }, logsA);
  // Runtime c runs "back" at a: a refuses b, which runs "back" too, every time; b has nothing
  // against a.
  const c = await builtin.dial(a.listening!, { secret: SECRET });
  c.onEnvelope = (env) => env.k === "ping" && c.send({ k: "pong" });
  c.send({ k: "join", n: "c", c: ["back"] });
  const logsB: string[] = [];
  let b: Runtime | null = null;
  try {
    await waitUntil(() => a.tree().peers.some((p) => p.name === "c"), 5_000, "c linked");
    b = await start({
      name: "shop",
      transports: { name: "b", secret: SECRET, keepalive: "500ms" },
      hosts: { a: { address: a.listening!.href } },
      containers: { back: { module: "./member.ts", mode: "inline" } },
    }, logsB);
    const started = performance.now();
    await waitUntil(() => refusals(logsA) >= 1, 5_000, "a first refusal");
    await new Promise((r) => setTimeout(r, 1_600 - (performance.now() - started)));
    // Backing off: dials after 100, 300, 700, 1500 ms — about five in 1.6 s, not sixteen.
    assert.ok(refusals(logsA) <= 6, `${refusals(logsA)} dials refused in 1.6 s`);
    assert.ok(!b.tree().peers.some((p) => p.state === "connected"), "never linked");
  } finally {
    c.close();
    await c.closed;
    await b?.shutdown();
    await a.shutdown();
  }
});

function refusals(logs: string[]): number {
  return logs.filter((l) => /^refused runtime "b" .*"back" already runs on runtime "c"/.test(l))
    .length;
}
