// The agent's own checks, whatever a root (even a compromised one holding the secret) asks.
import assert from "node:assert/strict";
import type { ContainerInput, ContainerSpec } from "../../config/topology.ts";
import type { Envelope } from "../../protocol/envelope.ts";
import { AgentHost } from "../../distribution/_agent.ts";
import { FIXTURES_DIR } from "./_agents.ts";

function agent() {
  const sent: Envelope[] = [];
  const ran: string[] = [];
  const host = new AgentHost({ root: FIXTURES_DIR, maxPermissions: {} }, {
    run: (spec: ContainerSpec) => (ran.push(`${spec.name} ${spec.mode}`), Promise.resolve()),
    stop: () => Promise.resolve(),
    validate: (name: string, input: ContainerInput) =>
      ({ name, mode: input.mode ?? "worker" }) as ContainerSpec,
    send: (_peer: string, env: Envelope) => (sent.push(env), true),
    log: () => {},
  });
  return { host, sent, ran };
}

const settle = () => new Promise((r) => setTimeout(r, 20));

Deno.test("an agent refuses to run placed code inline (inside itself) or with children", async () => {
  const { host, sent, ran } = agent();
  host.control("root", { k: "place", n: "a", s: { module: "./member.ts", mode: "inline" }, e: 1 });
  host.control("root", {
    k: "place",
    n: "b",
    s: { module: "./member.ts", mode: "process", children: { c: {} } },
    e: 1,
  });
  host.control("root", { k: "place", n: "c", s: { module: "./member.ts", mode: "worker" }, e: 1 });
  await settle();
  assert.deepEqual(ran, ["c worker"]);
  const refusals = sent.filter((e) => e.k === "placed" && !e.ok).map((e) =>
    (e as { x: { message: string } }).x.message
  );
  assert.deepEqual(refusals, [
    'topology: a.mode: an agent runs a placed container as a process or a worker, not "inline"',
    "topology: b.children: a placed container has no children",
  ]);
});

Deno.test("an agent stops a container only for the runtime that placed it", async () => {
  const { host, ran } = agent();
  host.control("r1", { k: "place", n: "a", s: { module: "./member.ts" }, e: 1 });
  await settle();
  host.control("r2", { k: "unplace", n: "a", e: 9 });
  await settle();
  assert.deepEqual(host.names(), ["a"]);
  host.lost("r2");
  await settle();
  assert.deepEqual(host.names(), ["a"], "losing another runtime does not fence it");
  host.control("r1", { k: "unplace", n: "a", e: 1 });
  await settle();
  assert.deepEqual([host.names(), ran], [[], ["a process"]]);
});
