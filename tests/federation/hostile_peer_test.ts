// A peer runtime that holds the secret is still a peer: it speaks for its own containers only.
// Here a raw link passes the handshake, introduces itself, then tries to take over a container
// of ours (its name, or one of its instance ids under a name of its own) and to answer our
// requests on that container's behalf.
import assert from "node:assert/strict";
import { FIXTURES } from "../_helpers.ts";
import { Runtime } from "../../mod.ts";
import { defaultTransports } from "../../transports/defaults.ts";
import { TransportSet } from "../../transports/transport_set.ts";
import type { Envelope } from "../../protocol/envelope.ts";
import type { Link } from "../../transports/link.ts";
import { waitUntil, within } from "../_helpers.ts";

/** The built-in transports, as a runtime given none uses them. */
const builtin = new TransportSet(defaultTransports());

const SECRET = "hostile-peer";

Deno.test("a peer holding the secret cannot reroute our containers' traffic or answer for them", async () => {
  const logs: string[] = [];
  const rt = await Runtime.start({
    name: "shop",
    transports: { name: "a", listen: "tcp://127.0.0.1:0", secret: SECRET, keepalive: "2s" },
    containers: { front: { module: "./echo.ts", mode: "worker" } },
  }, {
    baseUrl: FIXTURES.href,
    logLevel: "warn",
    logger: (e) => logs.push(e.message),
  });
  const link = await builtin.dial(rt.listening!, { secret: SECRET });
  try {
    const seen: Envelope[] = [];
    link.onEnvelope = (env) => {
      seen.push(env);
      // Whatever reaches it, it answers as front#0.1 would.
      if (env.k === "req") {
        link.send({ k: "res", i: env.i, d: env.s, f: "front#0.1", b: { instance: "stolen" } });
      }
    };
    link.send({ k: "join", n: "evil", c: ["evil"] });
    link.send({
      k: "routes",
      r: {
        // Our container's name, and our instance's id under a name of its own.
        front: { balance: "round_robin", instances: [{ i: "front#0.7", n: "w1" }] },
        evil: { balance: "round_robin", instances: [{ i: "front#0.1", n: "w1" }] },
      },
    });
    const deadline = performance.now() + 5000;
    while (!rt.tree().peers.some((p) => p.name === "evil" && p.state === "connected")) {
      if (performance.now() > deadline) throw new Error("the peer never linked");
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 100));
    const answers = new Set<string>();
    for (let k = 0; k < 20; k++) {
      answers.add(((await rt.ref("front").request("whoami")) as { instance: string }).instance);
    }
    assert.deepEqual([...answers], ["front#0.1"], "our traffic stays ours");
    assert.equal(seen.filter((e) => e.k === "req").length, 0, "no request of ours reached it");
    assert.ok(
      logs.some((l) => /runtime "evil": dropped from its routes: .*front#0\.1/.test(l)),
      logs.join("\n"),
    );
  } finally {
    link.close();
    await rt.shutdown();
  }
});

/**
 * A raw peer: dials, introduces itself as `name` running `back` (answering every request as
 * instance `back#0.1`, with `tag`), announces `routes`.
 */
async function rawPeer(
  url: URL,
  name: string,
  containers: string[],
  routes: Record<string, unknown>,
  tag: string,
) {
  const link = await builtin.dial(url, { secret: SECRET });
  const seen: Envelope[] = [];
  link.onEnvelope = (env) => {
    seen.push(env);
    if (env.k === "ping") link.send({ k: "pong" });
    if (env.k === "req") {
      link.send({ k: "res", i: env.i, d: env.s, f: env.to, b: { instance: tag } });
    }
  };
  link.send({ k: "join", n: name, c: containers });
  link.send({ k: "routes", r: routes } as Envelope);
  return { link, seen };
}

const backRoutes = (node: string, live: boolean) => ({
  back: {
    balance: "round_robin",
    instances: live ? [{ i: "back#0.1", n: node }] : [],
    ...(live ? {} : { x: [{ i: "back#0.1", n: node }] }),
  },
});

async function closeAll(...links: Link[]) {
  for (const link of links) link.close();
  await Promise.all(links.map((l) => l.closed));
}

Deno.test("a peer holding the secret cannot take over another peer's container: not by its name, not by its live instance id (even as draining), not under the owner's own name", async () => {
  const logs: string[] = [];
  const rt = await Runtime.start({
    name: "shop",
    transports: { name: "a", listen: "tcp://127.0.0.1:0", secret: SECRET, keepalive: "2s" },
    containers: {},
  }, { baseUrl: FIXTURES.href, logLevel: "warn", logger: (e) => logs.push(e.message) });
  const b = await rawPeer(rt.listening!, "b", ["back"], backRoutes("w1", true), "b");
  const links: Link[] = [b.link];
  try {
    await waitUntil(
      () => rt.tree().peers.some((p) => p.name === "b" && p.state === "connected"),
      5_000,
      "b linked",
    );
    assert.deepEqual(await rt.ref("back").request("whoami"), { instance: "b" });
    // Its live instance id as a draining instance of its own, then as a live one.
    const evil = await rawPeer(rt.listening!, "evil", [], backRoutes("x", false), "evil");
    links.push(evil.link);
    evil.link.send({ k: "routes", r: backRoutes("x", true) } as Envelope);
    // And under b's own name, while b is linked and heard.
    const impostor = await rawPeer(rt.listening!, "b", [], backRoutes("y", true), "impostor");
    links.push(impostor.link);
    await within(impostor.link.closed, 5_000, "the impostor refused");
    // Told why (its own claim, nothing of ours), never our introduction or routes.
    assert.deepEqual(
      impostor.seen.map((e) => e.k),
      ["refused"],
      "refused before it learnt anything",
    );
    await waitUntil(
      () =>
        logs.filter((l) =>
          /runtime "evil": dropped from its routes: routes for container "back", which runtime "b" runs/
            .test(l)
        ).length === 2,
      5_000,
      "both of evil's tables dropped",
    );
    const answers = new Set<string>();
    for (let k = 0; k < 20; k++) {
      answers.add(((await rt.ref("back").request("whoami")) as { instance: string }).instance);
    }
    assert.deepEqual([...answers], ["b"], "every request reaches b");
    assert.equal(evil.seen.filter((e) => e.k === "req").length, 0);
    assert.ok(
      logs.some((l) =>
        /refused runtime "b" .*: runtime "b" is already linked and was heard \d+ ms ago/.test(l)
      ),
      logs.join("\n"),
    );
    assert.deepEqual(
      rt.tree().peers.map((p) => [p.name, p.state, p.containers]),
      [["b", "connected", ["back"]], ["evil", "connected", []]],
    );
    // b hangs up and comes back: evil's attempts gave it no claim, so b is not refused.
    await closeAll(b.link);
    const again = await rawPeer(rt.listening!, "b", ["back"], backRoutes("w2", true), "b again");
    links.push(again.link);
    await waitUntil(
      () => rt.tree().peers.some((p) => p.name === "b" && p.state === "connected"),
      5_000,
      "b linked again",
    );
    assert.deepEqual(await rt.ref("back").request("whoami"), { instance: "b again" });
  } finally {
    await closeAll(...links);
    await rt.shutdown();
  }
});

Deno.test("a peer's name cannot forge a log line, and a runtime it refuses learns nothing of it", async () => {
  const lines: string[] = [];
  const rt = await Runtime.start({
    name: "shop",
    transports: { name: "a", listen: "tcp://127.0.0.1:0", secret: SECRET, keepalive: "2s" },
    containers: { front: { module: "./echo.ts", mode: "inline" } },
  }, { baseUrl: FIXTURES.href, logLevel: "info", logger: (e) => lines.push(e.message) });
  try {
    const link = await builtin.dial(rt.listening!, { secret: SECRET });
    const seen: Envelope[] = [];
    link.onEnvelope = (env) => seen.push(env);
    link.send({
      k: "join",
      n: `x" (0 containers)\n2030-01-01T00:00:00.000Z ERROR [runtime] forged`,
      c: [],
    });
    await within(link.closed, 5_000, "the forger refused");
    // Only why (in its own words), never our introduction or container names.
    assert.deepEqual(seen.map((e) => e.k), ["refused"], "no introduction of ours");
    assert.ok(!JSON.stringify(seen).includes("front"), "no container names of ours");
    assert.ok(lines.every((l) => !l.includes("\n")), lines.join("|"));
    assert.ok(lines.some((l) => /^refused runtime "x\\" .* is not a runtime name/.test(l)));
    // Too many names: refused at the edge, whatever they are.
    const many = await builtin.dial(rt.listening!, { secret: SECRET });
    many.onEnvelope = () => {};
    many.send({ k: "join", n: "many", c: Array.from({ length: 10_001 }, (_, k) => `s${k}`) });
    await within(many.closed, 5_000, "too many names refused");
    assert.ok(lines.some((l) => /refused runtime "many" .*field "c" holds 10001 items/.test(l)));
  } finally {
    await rt.shutdown();
  }
});
