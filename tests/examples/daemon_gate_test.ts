// examples/daemon's Gate, alone: a job whose worker was lost with others in flight is tried again
// with nothing else in flight, so a crash there can only be its own.
import assert from "node:assert/strict";
import { Gate } from "../../examples/daemon/containers/gate.ts";

const turn = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("daemon's gate runs a suspect only once nothing else is in flight, and nothing beside it", async () => {
  const gate = new Gate();
  const signal = new AbortController().signal;
  assert.equal(await gate.enter(false, signal), true);
  assert.equal(await gate.enter(false, signal), true);
  const order: string[] = [];
  const suspect = gate.enter(true, signal).then(() => order.push("suspect"));
  const other = gate.enter(false, signal).then(() => order.push("other"));
  await turn();
  assert.deepEqual(order, [], "both wait while two attempts are in flight");
  assert.equal(gate.isolating, true, "nothing new is claimed meanwhile");
  gate.leave(false);
  await turn();
  assert.deepEqual(order, []);
  gate.leave(false);
  await suspect;
  await turn();
  assert.deepEqual(order, ["suspect"], "the suspect alone");
  assert.equal(gate.inFlight, 1);
  gate.leave(true);
  await other;
  assert.deepEqual(order, ["suspect", "other"]);
  assert.equal(gate.isolating, false);
  gate.leave(false);
  assert.equal(gate.inFlight, 0);
});

Deno.test("daemon's gate lets a waiting attempt go with false when the dispatcher stops", async () => {
  const gate = new Gate();
  const stopping = new AbortController();
  assert.equal(await gate.enter(true, stopping.signal), true);
  const waiting = [gate.enter(false, stopping.signal), gate.enter(true, stopping.signal)];
  stopping.abort();
  assert.deepEqual(await Promise.all(waiting), [false, false]);
  assert.equal(await gate.enter(false, stopping.signal), false, "nothing goes once stopping");
  gate.leave(true);
  assert.equal(gate.inFlight, 0);
  assert.equal(gate.isolating, false);
});
