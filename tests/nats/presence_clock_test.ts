// Presence over NATS as a decision on a clock moved by hand: when a silent runtime is away and
// when it is gone, what our own outage does to that, leaving, and new incarnations. The live
// behaviour with real runtimes and a real nats-server is presence_test.ts and outage_test.ts.
import assert from "node:assert/strict";
import { NatsPresence } from "../../distribution/_nats_presence.ts";
import { FakeClock } from "../_fake_clock.ts";

const KEEPALIVE = 500;

function world() {
  const clock = new FakeClock();
  const seen = {
    changed: 0,
    logs: [] as string[],
    unreachable: [] as string[],
    refused: [] as string[],
  };
  const presence = new NatsPresence({
    self: "me",
    keepalive: 300,
    clock,
    hooks: {
      changed: () => seen.changed++,
      log: (_level, message) => seen.logs.push(message),
      unreachable: (container, instance, silentFor) =>
        seen.unreachable.push(`${container} ${instance} ${silentFor}`),
      refused: (problem) => seen.refused.push(problem),
    },
  });
  return { clock, presence, seen };
}

const announce = (o: string, extra: Record<string, unknown> = {}) => ({
  o,
  n: "b",
  c: ["api"],
  q: [7],
  k: KEEPALIVE,
  ...extra,
});

const state = (p: NatsPresence) => p.snapshot().map((s) => s.state);

Deno.test("a runtime silent for twice its own keepalive is away: its containers are held for and reported unreachable", async () => {
  const { clock, presence, seen } = world();
  assert.equal(presence.heard(announce("b1")), true, "a newcomer: it should hear from us now");
  assert.deepEqual(presence.routes().api, {
    balance: "round_robin",
    instances: [{ i: "api@nats", n: "@nats" }],
    q: 7,
  });
  await clock.advance(2 * KEEPALIVE);
  presence.beat(true);
  assert.deepEqual(state(presence), ["connected"], "silent exactly 2x keepalive: not yet");
  await clock.advance(1);
  presence.beat(true);
  assert.deepEqual(state(presence), ["connecting"]);
  assert.deepEqual(seen.unreachable, ["api api@nats 1001"]);
  assert.deepEqual(presence.routes().api, { balance: "round_robin", instances: [], w: 1, q: 7 });
});

Deno.test("an away runtime is gone after twice its keepalive more: its containers are dropped", async () => {
  const { clock, presence } = world();
  presence.heard(announce("b1"));
  await clock.advance(2 * KEEPALIVE + 1);
  presence.beat(true);
  await clock.advance(2 * KEEPALIVE);
  presence.beat(true);
  assert.deepEqual(state(presence), ["connecting"]);
  await clock.advance(1);
  presence.beat(true);
  assert.deepEqual(state(presence), ["gone"]);
  assert.deepEqual(presence.routes(), {});
});

Deno.test("an announcement in time keeps a runtime connected", async () => {
  const { clock, presence } = world();
  presence.heard(announce("b1"));
  for (let i = 0; i < 10; i++) {
    await clock.advance(KEEPALIVE);
    assert.equal(presence.heard(announce("b1")), false);
    presence.beat(true);
  }
  assert.deepEqual(state(presence), ["connected"]);
});

Deno.test("while this runtime is cut off from NATS nobody expires; once back, everyone gets a fresh grace", async () => {
  const { clock, presence } = world();
  presence.heard(announce("b1"));
  await clock.advance(10 * KEEPALIVE);
  presence.beat(false);
  assert.deepEqual(state(presence), ["connected"], "our outage is not their silence");
  presence.reconnected();
  await clock.advance(2 * KEEPALIVE);
  presence.beat(true);
  assert.deepEqual(state(presence), ["connected"]);
  await clock.advance(1);
  presence.beat(true);
  assert.deepEqual(state(presence), ["connecting"], "silent since we came back: away");
});

Deno.test("a runtime that leaves is away at once; its next incarnation replaces it in the tree", () => {
  const { presence, seen } = world();
  presence.heard(announce("b1"));
  presence.heard(announce("b1", { x: 1 }));
  assert.deepEqual(state(presence), ["connecting"]);
  assert.equal(presence.routes().api.w, 1, "held for, not dropped");
  assert.match(seen.logs.at(-1)!, /runtime "b" left NATS/);
  assert.equal(presence.announces("api"), false);
  presence.heard(announce("b2"));
  assert.deepEqual(presence.snapshot().map((s) => [s.address, s.state]), [
    ["nats:b2", "connected"],
  ]);
  assert.equal(presence.announces("api"), true);
});

Deno.test("our own announcements and malformed ones are ignored", () => {
  const { presence } = world();
  assert.equal(presence.heard(announce("me")), false);
  assert.equal(presence.heard({ o: "x", n: 5, c: [] }), false);
  assert.equal(presence.heard({ o: "x", n: "x", c: [1] }), false);
  assert.deepEqual(presence.snapshot(), []);
});

Deno.test("a runtime that announces no keepalive is timed by this runtime's own", async () => {
  const { clock, presence } = world();
  presence.heard(announce("b1", { k: undefined }));
  await clock.advance(2 * 300 + 1);
  presence.beat(true);
  assert.deepEqual(state(presence), ["connecting"]);
});

Deno.test("of the runtimes gone for good, the tree keeps the 64 most recent", async () => {
  const { clock, presence } = world();
  for (let i = 0; i < 70; i++) presence.heard({ ...announce(`id${i}`), n: `r${i}`, c: [] });
  await clock.advance(2 * KEEPALIVE + 1);
  presence.beat(true);
  await clock.advance(2 * KEEPALIVE + 1);
  presence.beat(true);
  assert.equal(presence.snapshot().length, 64);
  assert.ok(presence.snapshot().every((s) => s.state === "gone"));
});
