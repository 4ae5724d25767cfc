// The agent's own checks, whatever a root (even a compromised one holding the secret) asks.
import assert from "node:assert/strict";
import type { ContainerInput, ContainerSpec } from "../../config/topology.ts";
import type { Envelope } from "../../protocol/envelope.ts";
import { AgentHost } from "../../distribution/_agent.ts";
import { FIXTURES_DIR } from "./_agents.ts";
import { FakeClock, flush } from "../_fake_clock.ts";
import { DENO_FS } from "../../config/_deno_fs.ts";

function agent() {
  const sent: Envelope[] = [];
  const ran: string[] = [];
  const host = new AgentHost({ root: FIXTURES_DIR, maxPermissions: {} }, {
    run: (spec: ContainerSpec) => (ran.push(`${spec.name} ${spec.mode}`), Promise.resolve()),
    stop: () => Promise.resolve(),
    validate: (name: string, input: ContainerInput) =>
      ({ name, mode: input.mode ?? "worker" }) as ContainerSpec,
    send: (_peer: string, env: Envelope) => (sent.push(env), true),
    announce: () => {},
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

// ---- several roots on one agent: nobody holds anybody up ------------------------------------

/** An agent whose starts wait until the test lets them finish (by name). */
function gatedAgent(startTimeout = 25_000) {
  const clock = new FakeClock();
  const sent: [string, Envelope][] = [];
  const log: string[] = [];
  const gates = new Map<string, { resolve(): void; reject(e: Error): void }>();
  const stopped: string[] = [];
  const host = new AgentHost({ root: FIXTURES_DIR, maxPermissions: {} }, {
    run: (spec: ContainerSpec) =>
      spec.config?.gated
        ? new Promise<void>((resolve, reject) => gates.set(spec.name, { resolve, reject }))
        : Promise.resolve(),
    stop: (name: string) => {
      stopped.push(name);
      gates.get(name)?.reject(new Error(`${name} stopped while starting`));
      return Promise.resolve();
    },
    validate: (name: string, input: ContainerInput) =>
      ({ name, mode: "process", config: input.config }) as ContainerSpec,
    send: (peer: string, env: Envelope) => (sent.push([peer, env]), true),
    announce: () => {},
    log: (_level, message) => log.push(message),
  }, { clock, startTimeout });
  const place = (peer: string, n: string, e: number, gated = false) =>
    host.control(peer, {
      k: "place",
      n,
      e,
      s: { module: "./member.ts", ...(gated ? { config: { gated: true } } : {}) },
    });
  const answers = (peer: string) =>
    sent.filter(([to, env]) => to === peer && env.k === "placed").map(([, env]) => {
      const placed = env as Extract<Envelope, { k: "placed" }>;
      return `${placed.n}#${placed.e} ${placed.ok ? "ok" : placed.x?.message}`;
    });
  return { clock, host, gates, stopped, log, place, answers };
}

Deno.test("a root's slow start holds up neither another root's placement nor its fencing", async () => {
  const { host, stopped, place, answers } = gatedAgent();
  place("root1", "billing", 1);
  await flush();
  place("evil", "stuck", 1, true); // starts, and never finishes
  await flush();
  place("root1", "mailer", 1);
  await flush();
  assert.deepEqual(answers("root1"), ["billing#1 ok", "mailer#1 ok"], "placed meanwhile");
  host.lost("root1");
  assert.deepEqual(stopped, ["billing", "mailer"], "fenced at once, not after the slow start");
  assert.deepEqual(host.names(), []);
});

Deno.test("a start that outlasts the start timeout is stopped, and its root told that the placement failed", async () => {
  const { clock, host, stopped, place, answers } = gatedAgent(1_000);
  place("root1", "slow", 1, true);
  await clock.advance(999);
  assert.deepEqual([answers("root1"), stopped], [[], []]);
  await clock.advance(1);
  assert.deepEqual(stopped, ["slow"]);
  assert.deepEqual(answers("root1"), [
    'slow#1 container "slow" did not start within 1000 ms on this agent; it was stopped',
  ]);
  assert.equal(host.runs("slow"), false);
  place("root1", "slow", 2); // the name is free again
  await flush();
  assert.deepEqual(answers("root1").at(-1), "slow#2 ok");
});

Deno.test("losing a root stops what it was starting at once; that start is never recorded, and what it queued is dropped", async () => {
  const { host, stopped, place, answers } = gatedAgent();
  place("root1", "api", 1, true);
  await flush();
  place("root1", "api", 2); // queued behind the start of epoch 1
  host.lost("root1");
  assert.deepEqual(stopped, ["api"], "stopped while starting");
  await flush();
  assert.deepEqual(answers("root1"), [], "no answer to a lost root, no placement recorded");
  assert.deepEqual([host.names(), host.runs("api")], [[], false]);
});

Deno.test("an agent tells each root only what that root placed there, and not its limits", async () => {
  const { host, place } = gatedAgent();
  place("root1", "billing", 3);
  place("root2", "mailer", 1);
  await flush();
  assert.deepEqual(host.joinExtra("root1"), { a: {}, p: [{ n: "billing", e: 3, b: "root1" }] });
  assert.deepEqual(host.joinExtra("evil"), { a: {}, p: [] });
});

Deno.test("an agent resolves each path of a grant against its file system once per placement, however many items share it", async () => {
  let asked = 0;
  const sent: Envelope[] = [];
  const host = new AgentHost({ root: FIXTURES_DIR, maxPermissions: { read: ["./"] } }, {
    run: () => Promise.resolve(),
    stop: () => Promise.resolve(),
    validate: (name: string, input: ContainerInput) =>
      ({ name, mode: "process", permissions: input.permissions }) as ContainerSpec,
    send: (_peer: string, env: Envelope) => (sent.push(env), true),
    announce: () => {},
    log: () => {},
  }, {
    fs: {
      readLink(path) {
        asked++;
        return DENO_FS.readLink(path);
      },
    },
  });
  const read = Array.from({ length: 1_000 }, (_, k) => `${FIXTURES_DIR}data/x${k}`);
  host.control("root", {
    k: "place",
    n: "x",
    e: 1,
    s: { module: "./member.ts", permissions: { read } },
  });
  await flush();
  assert.equal((sent[0] as Extract<Envelope, { k: "placed" }>).ok, true);
  // Once per folder on the way and once per item — not twice per folder per item.
  const depth = FIXTURES_DIR.split("/").filter(Boolean).length;
  assert.ok(asked <= 1_000 + depth + 2, `${asked} file system lookups`);
});
