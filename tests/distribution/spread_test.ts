// The spread decision alone (pure): where each replica of a `placement: spread` container goes,
// what scaling adds or removes, and one rebalancing step at a time. No agent, no timer.
import assert from "node:assert/strict";
import { rebalanceStep, spreadReplicas } from "../../distribution/_spread.ts";

Deno.test("spread: replicas go one by one to the agent with the fewest, ties by name", () => {
  assert.deepEqual(spreadReplicas({ replicas: 5, agents: ["c", "a", "b"], current: {} }), {
    a: 2,
    b: 2,
    c: 1,
  });
});

Deno.test("spread: running replicas stay where they are when scaling up", () => {
  assert.deepEqual(
    spreadReplicas({ replicas: 4, agents: ["a", "b", "c"], current: { a: 2 } }),
    { a: 2, b: 1, c: 1 },
  );
});

Deno.test("spread: scaling down removes from the agent with the most, ties the last by name", () => {
  assert.deepEqual(
    spreadReplicas({ replicas: 3, agents: ["a", "b", "c"], current: { a: 2, b: 1, c: 1 } }),
    { a: 1, b: 1, c: 1 },
  );
  assert.deepEqual(
    spreadReplicas({ replicas: 2, agents: ["a", "b", "c"], current: { a: 1, b: 1, c: 1 } }),
    { a: 1, b: 1 },
  );
});

Deno.test("spread: hosts: limits the agents; one not listed keeps none", () => {
  assert.deepEqual(
    spreadReplicas({ replicas: 2, agents: ["a", "b", "c"], current: { c: 1 }, hosts: ["a", "b"] }),
    { a: 1, b: 1 },
  );
});

Deno.test("spread: max_per_host caps each agent; what does not fit stays unplaced", () => {
  assert.deepEqual(
    spreadReplicas({ replicas: 5, agents: ["a", "b"], current: {}, maxPerHost: 2 }),
    { a: 2, b: 2 },
  );
  assert.deepEqual(
    spreadReplicas({ replicas: 2, agents: ["a", "b"], current: { a: 2 }, maxPerHost: 1 }),
    { a: 1, b: 1 },
  );
});

Deno.test("spread: a lost agent's replicas go to the survivors", () => {
  // The caller counts only linked agents: b is gone, its replica is re-placed.
  assert.deepEqual(
    spreadReplicas({ replicas: 3, agents: ["a", "c"], current: { a: 1, c: 1 } }),
    { a: 2, c: 1 },
  );
});

Deno.test("rebalance: a returning agent takes one replica at a time from the fullest", () => {
  const step = (current: Record<string, number>) =>
    rebalanceStep({ replicas: 4, agents: ["a", "b", "c"], current });
  assert.deepEqual(step({ a: 3, b: 1 }), { from: "a", to: "c" });
  assert.deepEqual(step({ a: 2, b: 1, c: 1 }), undefined);
  assert.equal(
    rebalanceStep({ replicas: 3, agents: ["a", "b"], current: { a: 2, b: 1 } }),
    undefined,
  );
});
