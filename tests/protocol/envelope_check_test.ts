// The edge rule: what an envelope from outside an isolate must be before anything acts on it, and
// the one wire-value rule shared by senders (copyWireValue) and receivers (wireValueProblem).
import assert from "node:assert/strict";
import { SerializationError, type WireError } from "../../mod.ts";
import type { Envelope } from "../../protocol/envelope.ts";
import { type Edge, envelopeProblem, MAX_LIST_ITEMS } from "../../protocol/envelope_check.ts";
import { decodeLenient, decodeMsgpack, Malformed, MsgpackEncoder } from "../../protocol/msgpack.ts";
import { copyWireValue, MAX_WIRE_DEPTH, wireValueProblem } from "../../protocol/wire_value.ts";

const nest = (levels: number): unknown => levels === 0 ? 1 : [nest(levels - 1)];
const wire: WireError = {
  name: "RangeError",
  message: "no",
  kind: "remote",
  classes: ["RangeError"],
};
const routes = {
  echo: { balance: "round_robin", instances: [{ i: "echo#0.1", n: "w1" }], q: 10 },
  gone: { balance: "random", instances: [], w: 1, x: [{ i: "gone#0.1", n: "p2" }] },
};

/** One envelope of every kind the runtime sends, with the edges it may arrive over. */
const SENT: [Envelope, Edge[]][] = [
  [{ k: "req", i: 1, s: "w1", to: "a#0.1", t: "x", b: { deep: nest(60) }, r: 1 }, [
    "child",
    "sibling",
    "peer",
  ]],
  [{ k: "send", to: "a#0.1", t: "x", b: [new Date(5), new Uint8Array([1])] }, [
    "child",
    "sibling",
    "peer",
  ]],
  [{ k: "res", i: 1, d: "host", f: "a#0.1", b: undefined }, ["child", "sibling", "peer"]],
  [{ k: "err", i: 1, d: "@b/w2", f: "a#0.1", e: wire }, ["child", "sibling", "peer"]],
  [{ k: "pub", t: "news", b: "hi" }, ["child", "peer"]],
  [{ k: "sub", t: "news" }, ["child"]],
  [{ k: "unsub", t: "news" }, ["child"]],
  [{ k: "log", l: "warn", m: "careful", c: "a#0.1" }, ["child", "peer"]],
  [{ k: "ready", topics: ["x", "y"] }, ["child"]],
  [{ k: "exit", reason: { kind: "error", message: "E", error: wire, action: "stop" } }, ["child"]],
  [{ k: "stopped", m: { a: { requests: 1 } } }, ["child"]],
  [{ k: "pong", m: { a: { requests: 1 } } }, ["child", "peer"]],
  [{ k: "pong", u: [12_000_000, 250_000] }, ["child", "peer"]],
  [{ k: "exit", reason: { kind: "max_memory", message: "over", used: 9, limit: 8 } }, ["child"]],
  [{ k: "ping" }, ["peer"]],
  [{ k: "subroutes", r: routes } as Envelope, ["child"]],
  [{ k: "routes", r: routes } as Envelope, ["peer"]],
  [{ k: "subtree", t: [{ name: "a", children: [] }] }, ["child"]],
  [{ k: "event", e: { type: "exit", container: "a" } }, ["child", "peer"]],
  [{ k: "join", n: "b", c: ["a"], a: { permissions: {} }, p: [{ n: "a", e: 2 }] }, ["peer"]],
  [{ k: "place", n: "a", s: { module: "./a.ts" }, e: 3 }, ["peer"]],
  [{ k: "unplace", n: "a", e: 3 }, ["peer"]],
  [{ k: "placed", n: "a", e: 3, ok: false, x: wire }, ["peer"]],
  [{ k: "load", c: 2, m: 1e6 }, ["peer"]],
  [{ k: "load", c: 2, m: 1e6, u: [["x#0.1", 3e7, 1.5], ["x#1.1", null, null]] }, ["peer"]],
];

Deno.test("envelopeProblem() accepts every envelope the runtime sends, over the edges it may take", () => {
  for (const [env, edges] of SENT) {
    for (const edge of edges) {
      assert.equal(envelopeProblem(env, edge, { from: "w1" }), null, `${env.k}`);
    }
  }
});

Deno.test("envelopeProblem() refuses a kind that may not come over an edge, naming both", () => {
  for (const [env, edges] of SENT) {
    for (const edge of (["child", "sibling", "peer"] as const).filter((e) => !edges.includes(e))) {
      assert.match(
        envelopeProblem(env, edge, { from: "w1" }) ?? "",
        /^kind "[a-z]+" may not come from /,
      );
    }
  }
  // What only a parent may send: a child taking over the routing table, or cutting links.
  assert.equal(
    envelopeProblem({ k: "routes", r: routes }, "child"),
    'kind "routes" may not come from a child node',
  );
  assert.equal(
    envelopeProblem({ k: "down", n: "w2" }, "sibling"),
    'kind "down" may not come from a sibling worker',
  );
  assert.equal(
    envelopeProblem({ k: "init", s: {} }, "peer"),
    'kind "init" may not come from a peer runtime',
  );
  assert.equal(
    envelopeProblem({ k: "hello" }, "peer"),
    'kind "hello" may not come from a peer runtime',
  );
});

Deno.test("envelopeProblem() names the field, the bad value and what was expected", () => {
  const cases: [unknown, string][] = [
    [null, "an envelope must be an object, got null"],
    [[1], "an envelope must be an object, got an array"],
    [{ i: 1 }, 'field "k" is undefined, expected a string (the envelope\'s kind)'],
    [{ k: "req", i: "x", s: "h", to: "a", t: "t" }, 'field "i" is "x", expected a whole number'],
    [{ k: "req", i: 1.5, s: "h", to: "a", t: "t" }, 'field "i" is 1.5, expected a whole number'],
    [{ k: "req", i: 1, s: "h", to: 5, t: "t" }, 'field "to" is 5, expected a string'],
    [{ k: "req", i: 1, s: "h", to: "a", t: "t", r: true }, 'field "r" is true, expected 1'],
    [
      { k: "err", i: 1, d: "h", f: "a#0.1", e: null },
      'field "e" is null, expected an error ({name, message})',
    ],
    [
      { k: "err", i: 1, d: "h", f: "a#0.1", e: { name: "E", message: 5 } },
      'field "e.message" is 5, expected a string',
    ],
    [
      { k: "err", i: 1, d: "h", f: "a#0.1", e: { ...wire, classes: ["A", 2] } },
      'field "e.classes[1]" is 2, expected a string',
    ],
    [{ k: "log", l: "info", m: "x", c: 5 }, 'field "c" is 5, expected a string'],
    [
      { k: "log", l: "loud", m: "x", c: "a" },
      'field "l" is "loud", expected one of debug, info, warn, error',
    ],
    [
      { k: "routes", r: { x: { balance: "round_robin", instances: 5 } } },
      'field "r.x.instances" is 5, expected an array of {i, n}',
    ],
    [
      { k: "routes", r: { x: { balance: "round_robin", instances: [{ i: "x#0.1" }] } } },
      'field "r.x.instances[0]" is an object, expected an instance {i: string, n: string}',
    ],
    [{ k: "routes", r: [] }, 'field "r" is an array, expected a routing table (an object)'],
    [{ k: "placed", n: "a", e: 1, ok: "yes" }, 'field "ok" is "yes", expected a boolean'],
    [{ k: "join", n: "b", c: "a" }, 'field "c" is "a", expected an array of strings'],
    [
      { k: "req", i: 1, s: "h", to: "a", t: "t", b: { deep: nest(70) } },
      `b.deep${"[0]".repeat(MAX_WIRE_DEPTH - 1)} is nested deeper than 64 levels`,
    ],
    [{ k: "pub", t: "x", b: { n: 1n } }, "b.n is a bigint"],
    [
      { k: "load", c: 1, m: 1, u: [["x#0.1", -1, 0]] },
      'field "u[0]" is an array, expected [instance id (a string), memory bytes, CPU %] (numbers >= 0 or null)',
    ],
    [
      { k: "load", c: 1, m: 1, u: { "x#0.1": 1 } },
      'field "u" is an object, expected an array of [id, memory, cpu]',
    ],
    [
      { k: "pong", u: [1, -5] },
      'field "u" is an array, expected [memory bytes, cpu µs] (two numbers >= 0)',
    ],
    [
      { k: "pong", u: "lots" },
      'field "u" is "lots", expected [memory bytes, cpu µs] (two numbers >= 0)',
    ],
  ];
  for (const [env, problem] of cases) {
    assert.equal(
      envelopeProblem(env, "peer"),
      problem,
      JSON.stringify(env, (_, v) => typeof v === "bigint" ? "1n" : v),
    );
  }
  const exit = { k: "exit", reason: { kind: "exploded", message: "?" } };
  assert.equal(
    envelopeProblem(exit, "child", { from: "w1" }),
    'field "reason.kind" is "exploded", expected one of normal, stopped, error, crashed, killed, unresponsive, max_memory',
  );
});

Deno.test("envelopeProblem() refuses a request from a child or sibling that names another node as its sender", () => {
  const req = (s: string) => ({ k: "req", i: 1, s, to: "a#0.1", t: "x" });
  assert.equal(envelopeProblem(req("p1"), "child", { from: "p1" }), null);
  assert.equal(envelopeProblem(req("p1/w3"), "child", { from: "p1" }), null, "a node below it");
  assert.equal(envelopeProblem(req("w2"), "sibling", { from: "w2" }), null);
  for (const spoofed of ["host", "w2", "p10", "p1x/w3"]) {
    assert.equal(
      envelopeProblem(req(spoofed), "child", { from: "p1" }),
      `field "s" is "${spoofed}": a request from node "p1" names it or a node below it`,
    );
  }
  // A peer's senders live in its own namespace (the hub prefixes them with "@peer/").
  assert.equal(envelopeProblem(req("host"), "peer"), null);
});

Deno.test("envelopeProblem() refuses a peer's lists beyond 10,000 items: names in a join, routing entries, instances, a placed grant's items", () => {
  const names = (n: number) => Array.from({ length: n }, (_, k) => `svc-${k}`);
  const table = (n: number) =>
    Object.fromEntries(names(n).map((name) => [name, { balance: "round_robin", instances: [] }]));
  const instances = (n: number) =>
    Array.from({ length: n }, (_, k) => ({ i: `api#${k}.1`, n: "w1" }));
  const place = (n: number) => ({
    k: "place",
    n: "x",
    e: 1,
    s: { module: "./x.ts", permissions: { read: names(n) } },
  });
  assert.equal(MAX_LIST_ITEMS, 10_000);
  assert.equal(envelopeProblem({ k: "join", n: "b", c: names(10_000) }, "peer"), null);
  assert.equal(
    envelopeProblem({ k: "join", n: "b", c: names(10_001) }, "peer"),
    'field "c" holds 10001 items, expected at most 10000',
  );
  assert.equal(
    envelopeProblem(
      { k: "join", n: "b", c: [], p: names(10_001).map((n) => ({ n, e: 1 })) },
      "peer",
    ),
    'field "p" holds 10001 items, expected at most 10000',
  );
  assert.equal(envelopeProblem({ k: "routes", r: table(10_000) }, "peer"), null);
  assert.equal(
    envelopeProblem({ k: "routes", r: table(10_001) }, "peer"),
    'field "r" holds more than 10000 entries, expected at most 10000',
  );
  const entry = (list: unknown[]) => ({ api: { balance: "random", instances: [], x: list } });
  assert.equal(envelopeProblem({ k: "routes", r: entry(instances(10_000)) }, "peer"), null);
  assert.equal(
    envelopeProblem({ k: "routes", r: entry(instances(10_001)) }, "peer"),
    'field "r.api.x" holds 10001 items, expected at most 10000',
  );
  assert.equal(envelopeProblem(place(10_000), "peer"), null);
  assert.equal(
    envelopeProblem(place(10_001), "peer"),
    'field "s.permissions.read" holds 10001 items, expected at most 10000',
  );
});

Deno.test("envelopeProblem() quotes a routing table's keys escaped and cut short", () => {
  const key = `api\nERROR forged line${"x".repeat(100)}`;
  const problem = envelopeProblem({ k: "routes", r: { [key]: { balance: "?" } } }, "peer")!;
  assert.ok(!problem.includes("\n"), problem);
  assert.match(problem, /^field "r\.api\\nERROR forged linex+…\.balance" is "\?"/);
});

Deno.test("one wire-value rule: the receiver refuses exactly what copyWireValue refuses", () => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  class Point {
    x = 1;
  }
  const values: unknown[] = [
    null,
    undefined,
    0,
    -0,
    NaN,
    "héllo",
    true,
    new Uint8Array([1, 2]),
    new Date(0),
    new Date(NaN),
    { a: [1, undefined, { b: null }], c: undefined },
    Object.assign(Object.create(null), { bare: 1 }),
    nest(MAX_WIRE_DEPTH - 1),
    nest(MAX_WIRE_DEPTH),
    nest(MAX_WIRE_DEPTH + 1),
    { at64: nest(MAX_WIRE_DEPTH - 1) },
    [new Map()],
    { n: 10n },
    { f: () => 1 },
    new Point(),
    cyclic,
    [Symbol("s")],
  ];
  for (const value of values) {
    let copy: unknown;
    let refused = false;
    try {
      copy = copyWireValue(value, "b");
    } catch (error) {
      assert.ok(error instanceof SerializationError);
      refused = true;
    }
    const problem = wireValueProblem(value, "b");
    assert.equal(problem !== null, refused, `${String(problem)} vs sender ${refused}`);
    // The cheaper check for values decoded from bytes (trees) draws the same line.
    assert.equal(wireValueProblem(value, "b", { tree: true }), problem);
    if (refused) continue;
    // What a sender sends (its copy), any receiver takes: as it is, and after msgpack.
    assert.equal(wireValueProblem(copy, "b"), null);
    const encoded = new MsgpackEncoder().encode([1, {
      k: "res",
      i: 1,
      d: "host",
      f: "a#0.1",
      b: copy,
    }]);
    const [, env] = decodeMsgpack(encoded, { lenient: true }) as [number, Envelope];
    assert.equal(envelopeProblem(env, "peer", { values: "tree" }), null);
    // A link decoding at the wire depth finds nothing to mark: it may skip the walk.
    assert.equal(decodeLenient(encoded, 2 + MAX_WIRE_DEPTH).marked, 0);
  }
});

Deno.test("wireValueProblem() refuses what structured clone carries but a copy never has: shared and cyclic references", () => {
  const shared = { x: 1 };
  assert.equal(
    wireValueProblem([shared, shared], "b"),
    "b[1] refers again to a value met before (not a tree)",
  );
  // A value doubling at each level: a tree walk would take 2^60 steps, the check a few dozen.
  let bomb: Record<string, unknown> = {};
  for (let i = 0; i < 60; i++) bomb = { a: bomb, b: bomb };
  const began = performance.now();
  assert.match(wireValueProblem(bomb, "b") ?? "", /^b(\.a){59}\.b refers again to a value met/);
  assert.ok(performance.now() - began < 100);
  assert.equal(wireValueProblem([shared, { ...shared }], "b"), null);
});

Deno.test("lenient msgpack: an undecodable part is marked, and the envelope holding it refused with the reason", () => {
  const encoder = new MsgpackEncoder();
  // A request whose body is replaced by raw bytes (the placeholder string's bytes are swapped).
  const withBody = (raw: number[]) => {
    const bytes = encoder.encode([1, { k: "req", i: 7, s: "host", to: "a#0.1", t: "x", b: "@@" }]);
    const at = bytes.findIndex((_, n) => bytes[n] === 0xa2 && bytes[n + 1] === 0x40);
    return new Uint8Array([...bytes.slice(0, at), ...raw, ...bytes.slice(at + 3)]);
  };
  const cases: [number[], RegExp][] = [
    [[0xd4, 0x05, 0x00], /b is not valid msgpack \(msgpack extension type 5 is not supported\)/],
    [
      [0xa2, 0xff, 0xfe],
      /b is not valid msgpack \(msgpack string at offset \d+ is not valid UTF-8\)/,
    ],
    [
      [0x81, 0x01, 0x02],
      /b is not valid msgpack \(msgpack map key at offset \d+ is not a string\)/,
    ],
    [[0xd6, 0xff, 0, 0, 0, 1], /^$/], // a valid timestamp: accepted
    [[...Array(150).fill(0x91), 0x01], /b(\[0\]){64} is nested deeper than 64 levels/],
  ];
  for (const [raw, problem] of cases) {
    const batch = decodeMsgpack(withBody(raw), { lenient: true }) as unknown[];
    const env = batch[1] as Envelope;
    assert.equal(env.k, "req", "the rest of the envelope is intact");
    assert.match(envelopeProblem(env, "peer") ?? "", problem);
    // Strict decoding (handshakes) still refuses the whole value.
    if (problem.source !== "^$") assert.throws(() => decodeMsgpack(withBody(raw)));
  }
  // A value nested past the decoder's own limit is skipped without recursion and marked.
  const deep = new Uint8Array([...Array(100_000).fill(0x91), 0x01]);
  const marked = decodeMsgpack(new Uint8Array([0x92, 0x01, ...deep]), { lenient: true });
  let inner = (marked as unknown[])[1];
  let levels = 0;
  while (Array.isArray(inner)) [inner, levels] = [inner[0], levels + 1];
  assert.ok(inner instanceof Malformed && /nested deeper than 100 levels/.test(inner.reason));
  assert.equal(levels, 100);
  // What cannot be skipped (a byte no value starts with, a truncation) still fails the frame.
  assert.throws(() => decodeMsgpack(new Uint8Array([0x92, 0x01, 0xc1]), { lenient: true }));
  assert.throws(() => decodeMsgpack(new Uint8Array([0x92, 0x01, 0xa5, 0x41]), { lenient: true }));
});

Deno.test("a link's decoder enforces the wire depth itself: what it marks is refused as the walk would say it, what it does not mark needs no walk", () => {
  const encoder = new MsgpackEncoder();
  for (const levels of [MAX_WIRE_DEPTH - 1, MAX_WIRE_DEPTH, 90]) {
    const body = { x: nest(levels) };
    const frame = encoder.encode([1, { k: "req", i: 1, s: "h", to: "a#0.1", t: "t", b: body }]);
    const { value, marked } = decodeLenient(frame, 2 + MAX_WIRE_DEPTH);
    const env = (value as unknown[])[1];
    const sent = { k: "req", i: 1, s: "h", to: "a#0.1", t: "t", b: body };
    const expected = envelopeProblem(sent, "peer");
    assert.equal(marked === 0, expected === null, `${levels} levels`);
    assert.equal(envelopeProblem(env, "peer", { values: "tree" }), expected);
    if (marked === 0) assert.equal(envelopeProblem(env, "peer", { values: "checked" }), null);
  }
});

Deno.test("a timestamp outside a Date's range is marked, never decoded to an invalid Date", () => {
  // timestamp 96: ext8, 12 bytes, type -1, nanoseconds 0, seconds 2^62
  const bytes = new Uint8Array([0xc7, 12, 0xff, 0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0]);
  const { value, marked } = decodeLenient(bytes);
  assert.equal(marked, 1);
  assert.ok(value instanceof Malformed && /timestamp .* is out of range/.test(value.reason));
  assert.throws(() => decodeMsgpack(bytes), /out of range/);
});

Deno.test("a tick id (tk) is kept only from a peer runtime's own hub, removed from any other sender", () => {
  const tick = {
    k: "req",
    i: 1,
    to: "job#0.1",
    t: "run",
    b: null,
    tk: "nightly@2026-12-05T00:00:00.000Z",
  };
  const fromPeerHub = { ...tick, s: "host" };
  assert.equal(envelopeProblem(fromPeerHub, "peer"), null);
  assert.equal(fromPeerHub.tk, tick.tk, "a peer's hub sends ticks");
  for (const s of ["w3", "w3/host", "@other/host"]) {
    const fromPeerNode: Record<string, unknown> = { ...tick, s };
    assert.equal(envelopeProblem(fromPeerNode, "peer"), null);
    assert.equal(fromPeerNode.tk, undefined, `a peer's node ${s} sends no ticks`);
  }
  for (const edge of ["child", "sibling"] as const) {
    for (const s of ["w2", "w2/host"]) {
      const forged: Record<string, unknown> = { ...tick, s };
      assert.equal(envelopeProblem(forged, edge, { from: "w2" }), null, "the request is kept");
      assert.equal(forged.tk, undefined, `a ${edge} never sends a tick (sender ${s})`);
    }
  }
});
