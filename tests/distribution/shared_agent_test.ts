// Several roots share one host agent (a real `kraken node` process), and one of them — or anyone
// else holding the secret — is hostile: it cannot act under another root's name, and its slow
// placements hold up nobody else's.
import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import type { Envelope } from "../../protocol/envelope.ts";
import { defaultTransports } from "../../transports/defaults.ts";
import { TransportSet } from "../../transports/transport_set.ts";
import { within } from "../_helpers.ts";
import { alive, FIXTURES_DIR, pause, SECRET, startAgent } from "./_agents.ts";

const builtin = new TransportSet(defaultTransports());

const root1 = (agent: string) => ({
  name: "shop",
  transports: { name: "root1", secret: SECRET, keepalive: "1s" },
  hosts: { "node-b": { address: agent } },
  containers: { billing: { module: "./member.ts", mode: "remote" as const, host: "node-b" } },
});

/** A raw link holding the secret, introduced as `name`. */
async function rawRoot(url: string, name: string) {
  const link = await builtin.dial(url, { secret: SECRET });
  const seen: Envelope[] = [];
  link.onEnvelope = (env) => {
    seen.push(env);
    if (env.k === "ping") link.send({ k: "pong" });
  };
  link.send({ k: "join", n: name, c: [] });
  return { link, seen };
}

Deno.test("on a shared agent, a second link under a linked root's name is refused: it can neither stop that root's containers nor fence them by hanging up", async () => {
  const agent = await startAgent("node-b");
  let rt: Runtime | null = null;
  try {
    rt = await Runtime.start(root1(agent.url), {
      baseUrl: `file://${FIXTURES_DIR}`,
      logLevel: "silent",
    });
    const pid = await rt.ref("billing").request("pid") as number;
    const impostor = await rawRoot(agent.url, "root1");
    impostor.link.send({ k: "unplace", n: "billing", e: 1_000_000 });
    await within(impostor.link.closed, 5_000, "the impostor refused");
    // Told why (its own claim), nothing of the agent: not even its introduction.
    assert.deepEqual(impostor.seen.map((e) => e.k), ["refused"], "no introduction of the agent");
    await pause(1_500); // longer than the agent's lease: a fenced billing would be gone
    assert.ok(alive(pid), "billing still runs");
    assert.equal(await rt.ref("billing").request("pid"), pid);
    assert.ok(
      agent.log.some((l) => /refused runtime "root1" .*is already linked/.test(l)),
      agent.log.join("\n"),
    );
  } finally {
    await rt?.shutdown();
    await agent.stop();
  }
});

Deno.test("on a shared agent, another root's placement that takes forever to start holds up neither a root's placement nor its fencing", async () => {
  const agent = await startAgent("node-b");
  const evil = await rawRoot(agent.url, "evil");
  let rt: Runtime | null = null;
  try {
    evil.link.send({
      k: "place",
      n: "stuck",
      e: 1,
      s: { module: "./member.ts", mode: "worker", config: { startDelay: 60_000 } },
    });
    await pause(300);
    const started = performance.now();
    rt = await Runtime.start(root1(agent.url), {
      baseUrl: `file://${FIXTURES_DIR}`,
      logLevel: "silent",
    });
    const pid = await rt.ref("billing").request("pid", undefined, { timeout: 5_000 }) as number;
    assert.ok(performance.now() - started < 8_000, "placed while the other start goes on");
    await rt.shutdown();
    rt = null;
    // root1 is gone: its lease (1 s) runs out and billing stops, the other start still going.
    const deadline = performance.now() + 4_000;
    while (alive(pid) && performance.now() < deadline) await pause(50);
    assert.ok(!alive(pid), "fenced within its lease");
  } finally {
    evil.link.close();
    await evil.link.closed;
    await rt?.shutdown();
    await agent.stop();
  }
});
