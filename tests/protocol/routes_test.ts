// Routing tables from the other side of an edge (a child isolate's subroutes, a peer runtime's
// routes) are cut to what the sender may announce, whatever their shape.
import assert from "node:assert/strict";
import { mergeRoutes, sanitizeRoutes } from "../../protocol/routes.ts";
import { RouteBook } from "../../runtime/_route_book.ts";

const child = { node: "w1", may: (name: string) => name === "api" };

Deno.test("sanitizeRoutes refuses, and never throws on, instances with no JSON form (undefined, a symbol)", () => {
  const { routes, refused } = sanitizeRoutes({
    api: { balance: "round_robin", instances: [undefined, Symbol("x"), { i: "api#0.1", n: "w1" }] },
  }, child);
  assert.deepEqual(routes.api.instances, [{ i: "api#0.1", n: "w1" }]);
  assert.deepEqual(refused, [
    'an instance of "api" outside its node: undefined',
    'an instance of "api" outside its node: Symbol(x)',
  ]);
});

Deno.test("sanitizeRoutes keeps a peer's instances on any node id of its own, and caps its buffer", () => {
  const { routes } = sanitizeRoutes({
    api: { balance: "nonsense", instances: [{ i: "api#0.1", n: "p3/w2" }], q: 1e12 },
  }, { node: null, may: () => true });
  assert.deepEqual(routes.api, {
    balance: "round_robin",
    instances: [{ i: "api#0.1", n: "p3/w2" }],
    q: 1_000_000,
  });
});

Deno.test("mergeRoutes keeps live and draining instances of two entries for one name", () => {
  const table = {
    api: { balance: "round_robin" as const, instances: [{ i: "api#0.2", n: "w2" }] },
  };
  mergeRoutes(table, {
    api: {
      balance: "random",
      instances: [{ i: "api#0.1", n: "@b/w1" }],
      x: [{ i: "api#0.0", n: "@b/w1" }],
    },
  });
  assert.deepEqual(table.api, {
    balance: "round_robin",
    instances: [{ i: "api#0.2", n: "w2" }, { i: "api#0.1", n: "@b/w1" }],
    x: [{ i: "api#0.0", n: "@b/w1" }],
  });
});

Deno.test("mergeRoutes: an instance id listed live by one source cannot be re-pointed by another, not even as draining", () => {
  const table = {
    back: { balance: "round_robin" as const, instances: [{ i: "back#0.1", n: "@b/w1" }] },
  };
  mergeRoutes(table, {
    back: {
      balance: "round_robin",
      instances: [{ i: "back#0.1", n: "@evil/x" }],
      x: [{ i: "back#0.1", n: "@evil/x" }, { i: "back#0.0", n: "@evil/x" }],
    },
  });
  assert.deepEqual(table.back, {
    balance: "round_robin",
    instances: [{ i: "back#0.1", n: "@b/w1" }],
    x: [{ i: "back#0.0", n: "@evil/x" }],
  });
});

Deno.test("a route book maps an instance id to the first node it is listed with: live before draining, earlier before later", () => {
  const book = new RouteBook(() => 0);
  book.setGlobal({
    back: {
      balance: "round_robin",
      instances: [{ i: "back#0.1", n: "@b/w1" }],
      x: [{ i: "back#0.1", n: "@evil/x" }],
    },
  });
  assert.equal(book.nodeOf("back#0.1"), "@b/w1");
  book.setGlobal({
    back: {
      balance: "round_robin",
      instances: [{ i: "back#0.1", n: "@b/w1" }, { i: "back#0.1", n: "@evil/x" }],
    },
  });
  assert.equal(book.nodeOf("back#0.1"), "@b/w1");
});
