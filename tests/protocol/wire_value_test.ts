// What may cross a container boundary.
import assert from "node:assert/strict";
import { SerializationError } from "../../mod.ts";
import { copyWireValue } from "../../protocol/wire_value.ts";

Deno.test("copyWireValue() deep-copies allowed values with msgpack semantics", () => {
  const bytes = new Uint8Array([1]);
  const input = { a: [1, undefined], b: { c: "x" }, d: bytes, e: new Date(5), f: undefined };
  const out = copyWireValue(input, "body") as typeof input;
  assert.deepEqual(out, { a: [1, null], b: { c: "x" }, d: new Uint8Array([1]), e: new Date(5) });
  assert.notEqual(out.b, input.b);
  assert.notEqual(out.d, bytes);
});

Deno.test("copyWireValue() names the path of what cannot cross", () => {
  const cases: [unknown, string, RegExp][] = [
    [{ f() {} }, "body.f", /a function/],
    [[1, 2n], "body[1]", /a bigint/],
    [{ m: new Map() }, "body.m", /a Map instance/],
    [{ s: Symbol("x") }, "body.s", /a symbol/],
    [new (class Point {})(), "body", /a Point instance/],
    // msgpack timestamps carry a time: an invalid Date would break the link that encodes it.
    [{ when: new Date(NaN) }, "body.when", /an invalid Date/],
  ];
  for (const [value, path, what] of cases) {
    const error = (() => {
      try {
        copyWireValue(value, "body");
      } catch (e) {
        return e;
      }
    })() as SerializationError;
    assert.ok(error instanceof SerializationError, path);
    assert.equal(error.path, path);
    assert.match(error.message, what);
  }
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(() => copyWireValue(cyclic, "body"), /nested deeper than 64/);
});
