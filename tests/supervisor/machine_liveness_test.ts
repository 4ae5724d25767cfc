// Liveness that tells a dead child from a starved host (pure, on the simulated clock): the
// stretches in which the supervisor's own heartbeat timer fired late do not count toward a child's
// silence, and a new instance gets one keepalive of start grace. A child that stays silent once the
// host runs again is still declared unresponsive, with its whole silence reported.
import assert from "node:assert/strict";
import { countedSilence, starvedWithin } from "../../supervisor/_liveness.ts";
import { child, Sim } from "./_sim.ts";

/** A sim with one worker child (keepalive 300 ms, pinged every 75 ms), past its start grace. */
function running(): { sim: Sim; key: number } {
  const sim = new Sim();
  sim.add(child("w", { mode: "worker", keepalive: 300 }));
  sim.advance(600);
  return { sim, key: sim.key("w") };
}

Deno.test("a host blocked longer than the keepalive does not make an answering child unresponsive", () => {
  const { sim, key } = running();
  // The host's isolate is stuck for 1 s: no timer fires, the child's answers wait in its queue.
  sim.now += 1000;
  sim.instances.get(key)!.silentFor = 1000;
  sim.advance(0); // the late heartbeat fires first
  assert.deepEqual(sim.seen("unresponsive"), []);
  assert.deepEqual(sim.of("kill"), []);
  sim.instances.get(key)!.silentFor = 0; // its queued answers are read
  sim.advance(1000);
  assert.deepEqual(sim.seen("unresponsive"), []);
});

Deno.test("a child still silent once the host runs again is declared unresponsive, its whole silence reported", () => {
  const { sim, key } = running();
  sim.now += 1000;
  let silent = 1000;
  sim.instances.get(key)!.silentFor = silent;
  sim.advance(0);
  while (sim.seen("unresponsive").length === 0 && silent < 5000) {
    silent += 75;
    sim.instances.get(key)!.silentFor = silent;
    sim.advance(75);
  }
  const [event] = sim.events.filter((e) => e.type === "unresponsive") as { silentFor: number }[];
  assert.ok(event, "declared unresponsive");
  // 925 ms of starved host (its beat was due 75 ms into the block), then more than its
  // keepalive (300 ms) of its own silence.
  assert.ok(event.silentFor > 1225 && event.silentFor <= 1400, `silentFor ${event.silentFor}`);
  assert.equal(sim.of("kill").length, 1);
});

Deno.test("a host that lags a little on every beat still catches a dead child within twice its keepalive", () => {
  const { sim, key } = running();
  let silent = 0;
  for (let beat = 0; beat < 20 && sim.seen("unresponsive").length === 0; beat++) {
    sim.now += 10; // each beat 10 ms late: 10 of every 85 ms are the host's
    silent += 85;
    sim.instances.get(key)!.silentFor = silent;
    sim.advance(75);
  }
  const [event] = sim.events.filter((e) => e.type === "unresponsive") as { silentFor: number }[];
  assert.ok(
    event && event.silentFor > 300 && event.silentFor < 600,
    `silentFor ${event?.silentFor}`,
  );
});

Deno.test("a new instance is given one keepalive of start grace before its silence counts", () => {
  const sim = new Sim();
  sim.add(child("w", { mode: "worker", keepalive: 300 }));
  const key = sim.key("w");
  // Never heard from since it started: silent for as long as it has run.
  for (let now = 75; now <= 600; now += 75) {
    sim.instances.get(key)!.silentFor = now;
    sim.advance(75);
    assert.deepEqual(sim.seen("unresponsive"), [], `at ${now} ms`);
  }
  sim.instances.get(key)!.silentFor = 675;
  sim.advance(75);
  assert.equal(sim.seen("unresponsive").length, 1, "beyond grace + keepalive");
});

Deno.test("the starved stretches a supervisor remembers stay few and recent", () => {
  const { sim } = running();
  for (let i = 0; i < 2000; i++) {
    sim.now += 20;
    sim.advance(75);
  }
  const starved = sim.state.heartbeat!.starved;
  assert.ok(starved.length > 0 && starved.length <= 256, `${starved.length} kept`);
  assert.ok(starved[0].to >= sim.now - 10_000, "none from long ago");
});

Deno.test("counted silence: the part of a silence after the start grace, less the host's starved time", () => {
  const starved = [{ from: 1000, to: 1500 }, { from: 2000, to: 2100 }];
  assert.equal(starvedWithin(starved, 0, 3000), 600);
  assert.equal(starvedWithin(starved, 1200, 2050), 350);
  assert.equal(starvedWithin([], 0, 3000), 0);
  assert.equal(countedSilence(1000, 3000, 0, 300, starved), 900);
  assert.equal(countedSilence(2500, 3000, 0, 300, starved), 1900);
  assert.equal(countedSilence(2500, 3000, 2800, 300, starved), 0, "within its grace");
  assert.equal(countedSilence(2500, 3000, 2500, 300, starved), 200);
});

Deno.test("a supervisor with many running children pings each less often, at most four times per keepalive apart", () => {
  const sim = new Sim();
  for (let i = 0; i < 300; i++) sim.add(child(`w${i}`, { mode: "worker", keepalive: 5_000 }));
  sim.advance(1_000);
  const delays = () =>
    sim.of("set_timer").map((e) => (e as { delay: number }).delay).filter((d) => d !== 20);
  // 300 instances at 200 pings a second would be 1.5 s apart: a quarter of the keepalive caps it.
  assert.equal(delays().at(-1), 1_250);
  const few = new Sim();
  few.add(child("w", { mode: "worker", keepalive: 5_000 }));
  few.advance(1_000);
  assert.equal(few.of("set_timer").map((e) => (e as { delay: number }).delay).at(-1), 250);
});

Deno.test("a child silent beyond its keepalive among hundreds is still caught, within its keepalive and one beat", () => {
  const sim = new Sim();
  for (let i = 0; i < 300; i++) sim.add(child(`w${i}`, { mode: "worker", keepalive: 5_000 }));
  sim.advance(12_000); // past every start grace
  const key = sim.key("w7");
  let silent = 0;
  while (sim.seen("unresponsive").length === 0 && silent < 20_000) {
    silent += 250;
    sim.instances.get(key)!.silentFor = silent;
    sim.advance(250);
  }
  assert.deepEqual(sim.seen("unresponsive"), ["w7#0.1"]);
  assert.ok(silent > 5_000 && silent <= 5_000 + 1_250 + 250, `caught after ${silent} ms`);
});
