// W3C Trace Context at the edge: what is a traceparent/tracestate, and what a request keeps of one.
import assert from "node:assert/strict";
import {
  dropBadTraceContext,
  envelopeProblem,
  formatTraceParent,
  isTraceState,
  parseTraceParent,
} from "../../protocol/mod.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";
const GOOD = `00-${TRACE}-${SPAN}-01`;

Deno.test("a valid traceparent parses to its ids and flags and formats back the same", () => {
  const parsed = parseTraceParent(GOOD);
  assert.deepEqual(parsed, { traceId: TRACE, spanId: SPAN, flags: 1 });
  assert.equal(formatTraceParent(parsed!), GOOD);
  // A later version may append fields; its first four are still read.
  assert.equal(parseTraceParent(`01-${TRACE}-${SPAN}-00-extra`)?.flags, 0);
});

Deno.test("a malformed traceparent is not one: case, length, zero ids, version ff, trailing data on 00", () => {
  for (
    const bad of [
      undefined,
      42,
      "",
      GOOD.toUpperCase(),
      `00-${TRACE}-${SPAN}-1`,
      `00-${TRACE.slice(1)}-${SPAN}-01`,
      `00-${"0".repeat(32)}-${SPAN}-01`,
      `00-${TRACE}-${"0".repeat(16)}-01`,
      `ff-${TRACE}-${SPAN}-01`,
      `00-${TRACE}-${SPAN}-01-extra`,
      `00-${TRACE}-${SPAN}-01\n`,
      `${GOOD}${"x".repeat(600)}`,
    ]
  ) {
    assert.equal(parseTraceParent(bad), null, JSON.stringify(bad));
  }
});

Deno.test("a tracestate is at most 512 characters of at most 32 key=value members", () => {
  assert.ok(isTraceState("congo=t61rcWkgMzE, rojo=00f067aa0ba902b7,,tenant@sys=v"));
  assert.ok(!isTraceState("no-equals"));
  assert.ok(!isTraceState("Upper=case"));
  assert.ok(!isTraceState("k=a,b"));
  assert.ok(!isTraceState(`k=${"v".repeat(600)}`));
  assert.ok(!isTraceState(Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(",")));
  assert.ok(!isTraceState(7));
});

Deno.test("a request with a malformed trace context passes the edge without it", () => {
  const req: Record<string, unknown> = {
    k: "req",
    i: 1,
    s: "w1",
    to: "orders#0.1",
    t: "place",
    tc: `00-${TRACE}-${SPAN}-01-forged`,
    ts: "a=b",
  };
  assert.equal(envelopeProblem(req, "child", { from: "w1" }), null);
  assert.equal(req.tc, undefined, "the bad traceparent is removed");
  assert.equal(req.ts, undefined, "a tracestate without its traceparent goes too");

  const typed: Record<string, unknown> = { ...req, tc: { evil: true } };
  assert.equal(envelopeProblem(typed, "peer"), null);
  assert.equal(typed.tc, undefined);
});

Deno.test("a request with a valid trace context keeps it across the edge; a bad tracestate alone is dropped", () => {
  const req: Record<string, unknown> = {
    k: "req",
    i: 1,
    s: "host",
    to: "orders#0.1",
    t: "place",
    tc: GOOD,
    ts: "shop=1",
  };
  assert.equal(envelopeProblem(req, "peer"), null);
  assert.equal(req.tc, GOOD);
  assert.equal(req.ts, "shop=1");
  const state: Record<string, unknown> = { ...req, ts: "not a state" };
  assert.equal(
    dropBadTraceContext(state),
    'field "ts" is "not a state", expected a W3C tracestate after a traceparent',
  );
  assert.equal(state.tc, GOOD);
  assert.equal(state.ts, undefined);
});

Deno.test("a log line's trace id passes the edge only as 32 lowercase hex digits", () => {
  const good: Record<string, unknown> = { k: "log", l: "info", m: "hi", c: "w#0.1", x: TRACE };
  assert.equal(envelopeProblem(good, "child"), null);
  assert.equal(good.x, TRACE);
  const forged: Record<string, unknown> = { ...good, x: `${TRACE}"}\n{"level":"error"` };
  assert.equal(envelopeProblem(forged, "child"), null, "the line itself is kept");
  assert.equal(forged.x, undefined, "its forged trace id is not");
});
