// A host agent and a root with a standby (`leadership:`): what a lost leading root placed is held
// for its standby to adopt (a later term of the same lease group), never handed to anyone else.
import assert from "node:assert/strict";
import type { ContainerInput, ContainerSpec } from "../../config/topology.ts";
import type { Envelope } from "../../protocol/envelope.ts";
import { AgentHost } from "../../distribution/_agent.ts";
import { FIXTURES_DIR } from "./_agents.ts";
import { FakeClock, flush } from "../_fake_clock.ts";

function agent() {
  const clock = new FakeClock(0);
  const sent: [string, Envelope][] = [];
  const ran: string[] = [];
  const stopped: string[] = [];
  const host = new AgentHost({ root: FIXTURES_DIR, maxPermissions: {} }, {
    run: (spec: ContainerSpec) => (ran.push(spec.name), Promise.resolve()),
    stop: (name: string) => (stopped.push(name), Promise.resolve()),
    validate: (name: string, input: ContainerInput) =>
      ({ name, mode: input.mode ?? "process", config: input.config }) as ContainerSpec,
    send: (peer: string, env: Envelope) => (sent.push([peer, env]), true),
    announce: (peer: string) => void sent.push([peer, { k: "routes", r: {} }]),
    log: () => {},
  }, { clock });
  return { host, sent, ran, stopped, clock };
}

const place = (t: number, extra: Record<string, unknown> = {}, g = "shop_leader") =>
  ({
    k: "place",
    n: "x",
    s: { module: "./member.ts", ...extra },
    e: 1,
    l: { g, t, w: 4_000 },
  }) as Envelope;

Deno.test("a lost leading root's container keeps running, and its standby (a later term) adopts it without a restart", async () => {
  const { host, sent, ran, stopped, clock } = agent();
  host.control("root-a", place(1));
  await clock.advance(10);
  host.lost("root-a");
  await clock.advance(3_000);
  assert.deepEqual(stopped, [], "held, not fenced");
  host.control("root-b", place(5));
  await clock.advance(10);
  assert.deepEqual(ran, ["x"], "the same spec: adopted as it runs, not started again");
  assert.equal(host.placerOf("x"), "root-b");
  assert.deepEqual(sent.slice(-2), [
    ["root-b", { k: "routes", r: {} }],
    ["root-b", { k: "placed", n: "x", e: 1, ok: true }],
  ], "its routes go to the adopting root before the answer");
  await clock.advance(10_000);
  assert.deepEqual(stopped, [], "the hold's end does not fence what was adopted");
});

Deno.test("a standby that places a changed spec replaces the held container (a start, no fencing)", async () => {
  const { host, ran, stopped, clock } = agent();
  host.control("root-a", place(1));
  await clock.advance(10);
  host.lost("root-a");
  host.control("root-b", place(2, { config: { v: 2 } }));
  await clock.advance(10_000);
  assert.deepEqual([ran, stopped, host.placerOf("x")], [["x", "x"], [], "root-b"]);
});

Deno.test("nobody adopts within the hold: the lost root's container is fenced then", async () => {
  const { host, stopped, clock } = agent();
  host.control("root-a", place(1));
  await clock.advance(10);
  host.lost("root-a");
  await clock.advance(3_999);
  assert.deepEqual(stopped, []);
  await clock.advance(2);
  assert.deepEqual(stopped, ["x"]);
  assert.deepEqual(host.names(), []);
});

Deno.test("only a later term of the same lease group adopts: an older term, another group or no lease is refused", async () => {
  const { host, sent, clock } = agent();
  host.control("root-a", place(3));
  await clock.advance(10);
  host.lost("root-a");
  for (
    const [peer, env] of [
      ["root-b", place(3)],
      ["root-c", place(2)],
      ["root-d", place(9, {}, "other_leader")],
      ["root-e", { k: "place", n: "x", s: { module: "./member.ts" }, e: 7 } as Envelope],
    ] as const
  ) {
    host.control(peer, env);
    await clock.advance(10);
    const [to, answer] = sent.at(-1)!;
    assert.equal(to, peer);
    assert.ok(answer.k === "placed" && !answer.ok, `${peer} was refused`);
    assert.match(answer.x!.message, /already runs a container named "x" for runtime "root-a"/);
  }
  assert.equal(host.placerOf("x"), "root-a");
  await flush();
});

Deno.test("a later term cannot adopt a container whose placer is linked: refused (UnavailableError naming both), the placer keeps it running", async () => {
  const { host, sent, ran, stopped, clock } = agent();
  host.control("root-a", place(1));
  await clock.advance(10);
  // An impostor with the secret and a bucket of the same name, its term pushed up.
  host.control("evil", place(2 ** 40));
  await clock.advance(10);
  assert.ok(!sent.some(([to]) => to === "evil"), "it waits for root-a's link to be judged");
  await clock.advance(5_000); // the wait's bound (ADOPT_WAIT), root-a still linked
  const [to, answer] = sent.at(-1)!;
  assert.equal(to, "evil");
  assert.ok(answer.k === "placed" && !answer.ok);
  assert.equal(answer.x!.name, "UnavailableError");
  assert.match(answer.x!.message, /"x" runs on this agent for runtime "root-a", which is linked/);
  assert.equal(host.placerOf("x"), "root-a");
  // The impostor leaves: nothing of root-a's is fenced.
  host.lost("evil");
  await clock.advance(10_000);
  assert.deepEqual([ran, stopped, host.placerOf("x")], [["x"], [], "root-a"]);
});

Deno.test("a held placement whose placer links again is no longer adoptable: a later term is refused", async () => {
  const { host, sent, clock } = agent();
  host.control("root-a", place(1));
  await clock.advance(10);
  host.lost("root-a");
  await clock.advance(1_000);
  // root-a links again (it still leads): what it placed is no longer held.
  host.control("root-a", { k: "unplace", n: "y", e: 1 } as Envelope);
  host.control("root-b", place(5));
  await clock.advance(2_000);
  // It waits for root-a's link to be judged (root-a stays linked): never adopted meanwhile.
  assert.ok(
    !sent.some(([to, e]) => to === "root-b" && e.k === "placed" && e.ok),
    "root-a is linked again: not adopted",
  );
  assert.equal(host.placerOf("x"), "root-a");
});

Deno.test("a root whose held container a later term adopted is told, when it links again, that it no longer runs there (UnavailableError naming the adopter)", async () => {
  const { host, sent, clock } = agent();
  host.control("root-a", place(1));
  await clock.advance(10);
  host.lost("root-a");
  host.control("root-b", place(5));
  await clock.advance(10);
  assert.equal(host.placerOf("x"), "root-b");
  host.joined("root-c");
  assert.ok(!sent.some(([to]) => to === "root-c"), "nothing to tell a root that lost nothing");
  host.joined("root-a");
  const [to, told] = sent.at(-1)!;
  assert.equal(to, "root-a");
  assert.ok(told.k === "placed" && !told.ok && told.n === "x" && told.e === 1);
  assert.equal(told.x!.name, "UnavailableError");
  assert.match(
    told.x!.message,
    /"x" \(epoch 1\) no longer runs on this agent for runtime "root-a": runtime "root-b" adopted it in lease term 5/,
  );
  const count = sent.length;
  host.joined("root-a");
  assert.equal(sent.length, count, "told once");
});

Deno.test("a later term placed while this agent still counts the placer as linked waits for that link to be judged: lost meanwhile (a cut, a freeze), it is adopted", async () => {
  const { host, sent, ran, stopped, clock } = agent();
  host.control("root-a", place(1));
  await clock.advance(10);
  // root-b leads (root-a's lease expired in NATS) before this agent has judged root-a silent.
  host.control("root-b", place(5));
  await clock.advance(500);
  assert.ok(!sent.some(([to]) => to === "root-b"), "no answer yet");
  host.lost("root-a"); // its keepalive ran out here
  await clock.advance(100);
  assert.equal(host.placerOf("x"), "root-b");
  const [to, answer] = sent.at(-1)!;
  assert.equal(to, "root-b");
  assert.ok(answer.k === "placed" && answer.ok);
  assert.deepEqual([ran, stopped], [["x"], []], "adopted in place: never stopped");
});
