// What a node does with input refused at its edges: the answer it owes, and a count logged at
// most once a second.
import assert from "node:assert/strict";
import { refusalAnswer, RefusalCounter } from "../../runtime/_edge.ts";

Deno.test("a refused request is answered with a FrameError to its sender, over the link it came on", () => {
  const answer = refusalAnswer(
    { k: "req", i: 4, s: "p1/w2", to: "adder#0.1", t: "add" },
    "p1",
    "child",
    "why",
  );
  assert.deepEqual(answer, {
    via: "back",
    env: {
      k: "err",
      i: 4,
      d: "p1/w2",
      f: "adder#0.1",
      e: { name: "FrameError", message: 'request "add" refused: why', kind: "frame" },
    },
  });
  // From a peer, the sender is in the peer's own namespace.
  assert.equal(refusalAnswer({ k: "req", i: 4, s: "host" }, "@b", "peer", "why")?.env.d, "host");
});

Deno.test("a refused request that names a sender not behind its link, or has no usable id, gets no answer", () => {
  assert.equal(refusalAnswer({ k: "req", i: 4, s: "host", t: "x" }, "w1", "child", "?"), null);
  assert.equal(refusalAnswer({ k: "req", i: 4, s: "w2", t: "x" }, "w1", "sibling", "?"), null);
  assert.equal(refusalAnswer({ k: "req", i: "x", s: "w1" }, "w1", "child", "?"), null);
  assert.equal(refusalAnswer({ k: "req", i: 4, s: 5 }, "@b", "peer", "?"), null);
  assert.equal(refusalAnswer({ k: "pub", t: "x" }, "@b", "peer", "?"), null);
  assert.equal(refusalAnswer(null, "@b", "peer", "?"), null);
});

Deno.test("a refused reply becomes a FrameError for the request it answers, routed to its requester", () => {
  const answer = refusalAnswer(
    { k: "res", i: 9, d: "w3", f: "x#0.1", b: "…" },
    "@b",
    "peer",
    "b is deep",
  );
  assert.deepEqual(answer, {
    via: "route",
    env: {
      k: "err",
      i: 9,
      d: "w3",
      f: "x#0.1",
      e: { name: "FrameError", message: "reply refused: b is deep", kind: "frame" },
    },
  });
  assert.equal(
    refusalAnswer({ k: "err", i: 9, d: "w3", e: null }, "w1", "child", "?")?.via,
    "route",
  );
});

Deno.test("refusals are all counted but logged at most once a second, with the count since", () => {
  let now = 0;
  const counter = new RefusalCounter(() => now);
  assert.equal(counter.note("@b", "first"), "refused input from @b: first");
  now = 500;
  assert.equal(counter.note("@b", "second"), null);
  assert.equal(counter.note("w1", "third"), null);
  now = 1_000;
  assert.equal(
    counter.note("w1", "fourth"),
    "refused input from w1: fourth (and 2 more refused since the last report)",
  );
  assert.equal(counter.count, 4);
});
