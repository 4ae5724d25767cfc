// Plain requests and replies travel as tuples between two ends running the same Kraken; every other
// envelope (or one of these with any other field, or without a body) stays an object, and a tuple
// from an untrusted sender is rebuilt into an envelope the edge check then judges.
import assert from "node:assert/strict";
import type { Envelope } from "../../protocol/envelope.ts";
import { envelopeProblem } from "../../protocol/envelope_check.ts";
import { packEnvelope, unpackBatch, unpackEnvelope } from "../../protocol/envelope_pack.ts";

const body = { id: 1, payload: "x".repeat(80), list: [1, "a", null] };

Deno.test("a plain request and a reply become tuples and come back equal", () => {
  const req: Envelope = { k: "req", i: 5, s: "host", to: "echo#0.1", t: "echo", b: body };
  const retried: Envelope = { ...req, r: 1 };
  const res: Envelope = { k: "res", i: 5, d: "host", f: "echo#0.1", b: body };
  assert.deepEqual(packEnvelope(req), [0, 5, "host", "echo#0.1", "echo", body]);
  assert.deepEqual(packEnvelope(retried), [0, 5, "host", "echo#0.1", "echo", body, 1]);
  assert.deepEqual(packEnvelope(res), [1, 5, "host", "echo#0.1", body]);
  for (const env of [req, retried, res]) assert.deepEqual(unpackEnvelope(packEnvelope(env)), env);
});

Deno.test("an envelope with any other field, or without a body, stays an object", () => {
  const base = { k: "req", i: 5, s: "host", to: "echo#0.1", t: "echo", b: 1 } as const;
  const kept: Envelope[] = [
    { ...base, tc: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
    { ...base, ts: "a=b" },
    { ...base, tk: "tick@2026-01-01T00:00:00.000Z" },
    { ...base, e: "user-1" },
    { ...base, dl: 100 },
    { ...base, b: undefined },
    { k: "res", i: 5, d: "host", f: "echo#0.1" },
    { k: "err", i: 5, d: "host", f: "echo#0.1", e: { name: "Error", message: "x" } },
    { k: "send", to: "echo#0.1", t: "echo", b: 1 },
    { k: "ping" },
  ];
  for (const env of kept) assert.equal(packEnvelope(env), env, JSON.stringify(env));
});

Deno.test("a received tuple is rebuilt as its envelope and the edge check still judges its fields", () => {
  const forged = unpackEnvelope([0, 1.5, "host", "echo#0.1", "echo", 1]);
  assert.deepEqual(forged, { k: "req", i: 1.5, s: "host", to: "echo#0.1", t: "echo", b: 1 });
  assert.match(envelopeProblem(forged, "child", { from: "w1" }) ?? "", /"i"/);
  const badRetry = unpackEnvelope([0, 1, "w1", "echo#0.1", "echo", 1, 2]);
  assert.match(envelopeProblem(badRetry, "child", { from: "w1" }) ?? "", /"r"/);
  const badBody = unpackEnvelope([1, 1, "host", "echo#0.1", () => 1]);
  assert.ok(envelopeProblem(badBody, "child", { from: "w1" }) !== null);
});

Deno.test("an array that is no tuple is left as it came (a link refuses it: no kind)", () => {
  for (const item of [[], [0, 1, "host"], [1, 1, "host", "f"], [2, 1, "a", "b", "c"], ["req"]]) {
    assert.equal(unpackEnvelope(item), item);
  }
  const items: unknown[] = [1, [7], { k: "stop" }, [1, 1, "host", "echo#0.1", 0]];
  unpackBatch(items, 1);
  assert.deepEqual(items, [1, [7], { k: "stop" }, {
    k: "res",
    i: 1,
    d: "host",
    f: "echo#0.1",
    b: 0,
  }]);
});
