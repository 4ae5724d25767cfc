// The entity id at the edge: an envelope from a child, a sibling or a peer whose `e` is not a
// bounded, non-empty string is refused before anything handles it, naming the field.
import assert from "node:assert/strict";
import { envelopeProblem } from "../../protocol/envelope_check.ts";

const req = { k: "req", i: 1, s: "w1", to: "rooms#0.1", t: "join", b: null };

Deno.test("envelopeProblem() takes a request or send with a good entity id over every edge", () => {
  for (const edge of ["child", "sibling", "peer"] as const) {
    assert.equal(envelopeProblem({ ...req, e: "room-42" }, edge), null);
    assert.equal(envelopeProblem({ k: "send", to: "rooms#0.1", t: "join", e: "r" }, edge), null);
  }
});

Deno.test("envelopeProblem() refuses an entity id that is not a string, empty or too long, naming field e", () => {
  for (const e of [42, null, { id: "x" }, "", "x".repeat(257)]) {
    const problem = envelopeProblem({ ...req, e }, "child");
    assert.match(problem ?? "", /field "e": entity id must be/, `e = ${JSON.stringify(e)}`);
    assert.match(
      envelopeProblem({ k: "send", to: "rooms#0.1", t: "join", e }, "peer") ?? "",
      /field "e"/,
    );
  }
});
