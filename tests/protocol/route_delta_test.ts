// Routing-table deltas: what the hub hands down after a change, and a node's book patched by it.
import assert from "node:assert/strict";
import { applyRouteDelta, routeDelta } from "../../protocol/route_delta.ts";
import type { RouteTable } from "../../protocol/envelope.ts";
import { RouteBook } from "../../runtime/_route_book.ts";

const entry = (...instances: [string, string][]) => ({
  balance: "round_robin" as const,
  instances: instances.map(([i, n]) => ({ i, n })),
});

Deno.test("a delta holds the entries that changed and the names that are gone, and rebuilds the table", () => {
  const prev: RouteTable = { a: entry(["a#0.1", "w1"]), b: entry(["b#0.1", "w2"]), c: entry() };
  const next: RouteTable = {
    a: entry(["a#0.1", "w1"]), // equal, another object: not sent
    b: { ...entry(), w: 1 }, // restarting
    d: entry(["d#0.1", "w4"]),
  };
  const delta = routeDelta(prev, next);
  assert.deepEqual(Object.keys(delta.r).sort(), ["b", "d"]);
  assert.deepEqual(delta.g, ["c"]);
  const table = structuredClone(prev);
  applyRouteDelta(table, delta);
  assert.deepEqual(table, next);
});

Deno.test("a book patched by deltas routes as one given the whole table, and remembers who left", () => {
  const patched = new RouteBook(() => 0);
  const whole = new RouteBook(() => 0);
  let table: RouteTable = { a: entry(["a#0.1", "w1"]), b: entry(["b#0.1", "w2"]) };
  patched.setGlobal(structuredClone(table));
  const steps: RouteTable[] = [
    { ...table, c: entry(["c#0.1", "w3"]) },
    {
      a: entry(["a#0.1", "w1"]),
      b: { ...entry(["b#1.1", "w5"]), x: [{ i: "b#0.1", n: "w2" }] },
      c: entry(["c#0.1", "w3"]),
    },
    { a: entry(["a#0.1", "w1"]), b: entry(["b#1.1", "w5"]) },
  ];
  for (const next of steps) {
    patched.patchGlobal(structuredClone(routeDelta(table, next)));
    whole.setGlobal(structuredClone(next));
    table = next;
    assert.deepEqual(patched.routes, whole.routes);
    assert.deepEqual(
      [...patched.instanceNode].sort(),
      [...whole.instanceNode].sort(),
    );
  }
  // Gone from the table a moment ago: their node is still known (a late reply is checked by it).
  assert.equal(patched.nodeOf("c#0.1"), "w3");
  assert.equal(patched.nodeOf("b#0.1"), "w2");
  assert.equal(patched.choose("b", undefined, false), "b#1.1");
  assert.throws(() => patched.choose("c", undefined, false), { name: "UnavailableError" });
});

Deno.test("a routing-table delta comes only from the hub: refused from a child, a sibling and a peer", async () => {
  const { envelopeProblem } = await import("../../protocol/envelope_check.ts");
  const delta = { k: "routes_delta", r: {}, g: ["a"] };
  for (const edge of ["child", "sibling", "peer"] as const) {
    assert.match(envelopeProblem(delta, edge, { from: "w1" }) ?? "", /routes_delta/, edge);
  }
});
