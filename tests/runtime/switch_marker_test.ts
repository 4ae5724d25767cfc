// The switch marker on fake links (no isolates): a worker holds what arrives over a new direct
// port until the sender's marker comes through the hub, and only the hub's word on it counts.
import assert from "node:assert/strict";
import type { Envelope, RouteTable } from "../../protocol/envelope.ts";
import type { Link, LinkClosed } from "../../transports/link.ts";
import { envelopeProblem } from "../../protocol/envelope_check.ts";
import { Node } from "../../runtime/_node.ts";
import { PeerPorts } from "../../runtime/_peer_ports.ts";
import { SWITCH_HOLD_LIMIT } from "../../runtime/_switch.ts";
import type { InstanceHandle } from "../../runtime/_handle.ts";

class FakeLink implements Link {
  readonly sent: Envelope[] = [];
  onEnvelope: (envelope: Envelope) => void = () => {};
  readonly closed: Promise<LinkClosed> = new Promise(() => {});
  closedByNode = false;
  send(envelope: Envelope): void {
    this.sent.push(envelope);
  }
  close(): void {
    this.closedByNode = true;
  }
}

const table: RouteTable = {
  a: { balance: "round_robin", instances: [{ i: "a#0.1", n: "w1" }] },
  b: { balance: "round_robin", instances: [{ i: "b#0.1", n: "w2" }] },
};

const numbered = (n: number): Envelope => ({ k: "send", to: "a#0.1", t: "n", b: n });

/** Worker node w1 hosting a#0.1, with its upstream and a direct port from w2 just handed over. */
function worker() {
  const violations: string[] = [];
  const node = new Node("w1", {
    onControl() {},
    onLog() {},
    onViolation: (from, what) => violations.push(`${from}: ${what}`),
  });
  const up = new FakeLink();
  const port = new FakeLink();
  node.setUpstream(up);
  up.onEnvelope({ k: "routes", r: structuredClone(table) });
  const got: unknown[] = [];
  node.host("a#0.1", { receive: (env) => got.push(env.b) });
  node.attachDirect("w2", port);
  return { node, up, port, got, violations };
}

Deno.test("a worker that takes a direct port sends a switch marker upstream, behind what it sent there before", () => {
  const violations: string[] = [];
  const node = new Node("w1", {
    onControl() {},
    onLog() {},
    onViolation: (from, what) => violations.push(`${from}: ${what}`),
  });
  const up = new FakeLink();
  node.setUpstream(up);
  up.onEnvelope({ k: "routes", r: structuredClone(table) });
  node.send("b", "n", 1);
  const port = new FakeLink();
  node.attachDirect("w2", port);
  node.send("b", "n", 2);
  assert.deepEqual(up.sent.map((e) => e.k), ["send", "switch"]);
  assert.deepEqual(up.sent[1], { k: "switch", n: "w2" });
  assert.deepEqual(port.sent.map((e) => e.k === "send" && e.b), [2]);
  assert.deepEqual(violations, []);
});

Deno.test("a worker holds what a sibling sends over its new direct port until the hub passes on that sibling's switch marker", () => {
  const { port, up, got, violations } = worker();
  port.onEnvelope(numbered(3));
  port.onEnvelope(numbered(4));
  assert.deepEqual(got, [], "the direct ones wait");
  up.onEnvelope(numbered(2)); // still on its way through the hub when 3 came
  assert.deepEqual(got, [2]);
  up.onEnvelope({ k: "switch", n: "w2" });
  assert.deepEqual(got, [2, 3, 4]);
  port.onEnvelope(numbered(5));
  assert.deepEqual(got, [2, 3, 4, 5], "after the marker the port is taken as it comes");
  up.onEnvelope({ k: "switch", n: "w2" });
  assert.deepEqual(got, [2, 3, 4, 5], "a second marker changes nothing");
  assert.deepEqual(violations, []);
});

Deno.test("what a sibling sent over its direct port before its marker is dropped with it when the hub says it is down", () => {
  const { node, port, up, got } = worker();
  port.onEnvelope(numbered(3));
  up.onEnvelope({ k: "down", n: "w2" });
  assert.equal(port.closedByNode, true);
  up.onEnvelope({ k: "switch", n: "w2" });
  assert.deepEqual(got, []);
  assert.ok(!node.linkedNodes.includes("w2"));
});

Deno.test("a switch marker over a sibling's direct port is refused and releases nothing", () => {
  const { port, got, violations } = worker();
  port.onEnvelope(numbered(3));
  port.onEnvelope({ k: "switch", n: "w2" });
  assert.deepEqual(got, []);
  assert.equal(violations.length, 1);
  assert.match(violations[0], /^w2: kind "switch" may not come from a sibling worker/);
});

Deno.test("past the hold limit a sibling's direct messages are dropped and reported, and the rest still go on in order", () => {
  const { port, up, got, violations } = worker();
  for (let n = 0; n <= SWITCH_HOLD_LIMIT; n++) port.onEnvelope(numbered(n + 1));
  assert.equal(violations.length, 1);
  assert.match(violations[0], /past the 65536 held until its switch marker/);
  up.onEnvelope(numbered(0));
  up.onEnvelope({ k: "switch", n: "w2" });
  assert.equal(got.length, SWITCH_HOLD_LIMIT + 1);
  assert.ok(got.every((n, i) => n === i), "in the order sent");
});

/** The hub with children w1, w2 (workers) and p3, and the pairs it introduced. */
function hub() {
  const violations: string[] = [];
  const handles = new Map<string, InstanceHandle>();
  const peers = new PeerPorts(handles);
  const node = new Node("host", {
    onControl() {},
    onLog() {},
    onViolation: (from, what) => violations.push(`${from}: ${what}`),
    onSwitch: (from, to) => peers.switched(from, to),
  }, { hub: true });
  const links = { w1: new FakeLink(), w2: new FakeLink(), p3: new FakeLink() };
  for (const [id, link] of Object.entries(links)) {
    node.attach(id, link);
    handles.set(
      id,
      {
        node: id,
        ready: true,
        gone: new Promise<void>(() => {}),
        portLink: { flush: () => {}, handOver: (_: string, port: MessagePort) => port.close() },
      } as unknown as InstanceHandle,
    );
  }
  node.setRoutes(structuredClone(table));
  return { node, links, peers, violations };
}

Deno.test("the hub passes a child's switch marker on only toward a worker it paired it with, once, behind what it relayed", () => {
  const { links, peers, violations } = hub();
  links.w1.onEnvelope({ k: "switch", n: "w2" });
  assert.deepEqual(links.w2.sent, [], "no pair yet: refused");
  peers.introduce("w1", "w2");
  links.w1.onEnvelope({ k: "send", to: "b#0.1", t: "n", b: 1 });
  links.w1.onEnvelope({ k: "switch", n: "w2" });
  assert.deepEqual(links.w2.sent, [{ k: "send", to: "b#0.1", t: "n", b: 1 }, {
    k: "switch",
    n: "w1",
  }]);
  links.w1.onEnvelope({ k: "switch", n: "w2" }); // said before
  links.w1.onEnvelope({ k: "switch", n: "p3" }); // never paired
  links.p3.onEnvelope({ k: "switch", n: "w2" }); // a node paired with nobody
  assert.equal(links.w2.sent.length, 2);
  assert.equal(links.p3.sent.length, 0);
  assert.equal(violations.length, 4);
  assert.ok(violations.every((v) => /a switch marker toward node/.test(v)));
});

Deno.test("a switch marker that arrives after the hub forgot the pair (one of them ended) is dropped quietly", () => {
  const { links, peers, violations } = hub();
  peers.introduce("w1", "w2");
  assert.deepEqual(peers.forget("w2"), ["w1"]);
  links.w1.onEnvelope({ k: "switch", n: "w2" });
  assert.deepEqual(links.w2.sent, []);
  assert.deepEqual(violations, [], "late, not forged");
});

Deno.test("a switch marker crosses only a child's edge, and names a node", () => {
  assert.equal(envelopeProblem({ k: "switch", n: "w2" }, "child", { from: "w1" }), null);
  assert.equal(
    envelopeProblem({ k: "switch", n: 2 }, "child", { from: "w1" }),
    'field "n" is 2, expected a string',
  );
  assert.match(envelopeProblem({ k: "switch", n: "w2" }, "sibling")!, /may not come from/);
  assert.match(envelopeProblem({ k: "switch", n: "w2" }, "peer")!, /may not come from/);
});
