// The node's trust rules, on fake links (no isolates): what a child, a sibling or a peer sends is
// taken only as far as it speaks for itself.
import assert from "node:assert/strict";
import type { Envelope, RouteTable } from "../../protocol/envelope.ts";
import type { Link, LinkClosed } from "../../transports/link.ts";
import { Node } from "../../runtime/_node.ts";

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
  c: { balance: "round_robin", instances: [{ i: "c#0.1", n: "w2" }] },
  d: { balance: "round_robin", instances: [{ i: "d#0.1", n: "p3/w1" }] },
};

function hub() {
  const violations: string[] = [];
  const node = new Node("host", {
    onControl() {},
    onLog() {},
    onViolation: (from, what) => violations.push(`${from}: ${what}`),
  }, { hub: true });
  const links = { w1: new FakeLink(), w2: new FakeLink(), p3: new FakeLink() };
  for (const [id, link] of Object.entries(links)) node.attach(id, link);
  node.setRoutes(structuredClone(table));
  return { node, links, violations };
}

Deno.test("hub: a child's routing table and 'down' are dropped as violations; nothing changes", () => {
  const { node, links, violations } = hub();
  links.w1.onEnvelope({
    k: "routes",
    r: { b: { balance: "round_robin", instances: [{ i: "b#0.9", n: "w1" }] } },
  });
  links.w1.onEnvelope({ k: "down", n: "w2" });
  assert.deepEqual(node.routes.b.instances, [{ i: "b#0.1", n: "w2" }]);
  assert.equal(links.w2.closedByNode, false, "w2's link is still up");
  assert.deepEqual(node.linkedNodes.sort(), ["p3", "w1", "w2"]);
  assert.equal(violations.length, 2);
  assert.equal(node.violations.get("w1"), 2);
});

Deno.test("hub: a request is relayed only when its sender is the child it came from (or below it)", () => {
  const { links, violations } = hub();
  links.w1.onEnvelope({ k: "req", i: 7, s: "w2", to: "d#0.1", t: "x" });
  assert.equal(links.p3.sent.length, 0, "a request in w2's name is not relayed");
  assert.match(violations[0], /^w1: .*"w2"|w2/);
  links.w1.onEnvelope({ k: "req", i: 8, s: "w1", to: "d#0.1", t: "x" });
  links.p3.onEnvelope({ k: "req", i: 9, s: "p3/w1", to: "a#0.1", t: "x" });
  assert.equal(links.p3.sent.length, 1);
  assert.equal(links.w1.sent.length, 1, "a nested node's request through its parent is fine");
});

Deno.test("hub: a reply is relayed only from the node of the instance it answers for", () => {
  const { links, violations } = hub();
  // w1 answers on behalf of b#0.1, which lives in w2: dropped.
  links.w1.onEnvelope({ k: "res", i: 1, d: "p3", f: "b#0.1", b: "forged" });
  links.w1.onEnvelope({ k: "err", i: 1, d: "p3", f: "nobody#0.1", e: { name: "E", message: "m" } });
  assert.equal(links.p3.sent.length, 0);
  assert.equal(violations.length, 2);
  // The real one, and one from a nested instance through its parent, are relayed.
  links.w2.onEnvelope({ k: "res", i: 1, d: "p3", f: "b#0.1", b: "real" });
  links.p3.onEnvelope({ k: "res", i: 2, d: "w1", f: "d#0.1", b: "real" });
  assert.deepEqual(links.p3.sent.map((e) => e.k === "res" && e.b), ["real"]);
  assert.equal(links.w1.sent.length, 1);
});

Deno.test("hub: a request's reply is taken only from the instance it was sent to", async () => {
  const { node, links, violations } = hub();
  const reply = node.request("b", "t", null, { timeout: 1000 });
  const sent = links.w2.sent[0] as Extract<Envelope, { k: "req" }>;
  // c#0.1 lives in w2 too: right node, wrong instance.
  links.w2.onEnvelope({ k: "res", i: sent.i, d: "host", f: "c#0.1", b: "forged" });
  assert.match(violations[0], /from instance c#0\.1, which it was not sent to/);
  links.w2.onEnvelope({ k: "res", i: sent.i, d: "host", f: "b#0.1", b: "real" });
  assert.equal(await reply, "real");
  node.close();
});

Deno.test("hub: a reply from an instance that just left the table is still its request's answer", async () => {
  const { node, links, violations } = hub();
  const reply = node.request("b", "t", null, { timeout: 1000 });
  const sent = links.w2.sent[0] as Extract<Envelope, { k: "req" }>;
  // b#0.1 answered, then crashed: its node reported the exit before the reply was read.
  node.setRoutes({ ...table, b: { balance: "round_robin", instances: [] } });
  links.w2.onEnvelope({ k: "res", i: sent.i, d: "host", f: "b#0.1", b: "late but real" });
  assert.equal(await reply, "late but real");
  assert.deepEqual(violations, []);
  node.close();
});

Deno.test("a worker node takes a routing table and 'down' only from the hub, not a sibling", () => {
  const violations: string[] = [];
  const node = new Node("w1", {
    onControl() {},
    onLog() {},
    onViolation: (from, what) => violations.push(`${from}: ${what}`),
  });
  const up = new FakeLink();
  const sibling = new FakeLink();
  node.setUpstream(up);
  node.attach("w2", sibling);
  up.onEnvelope({ k: "routes", r: structuredClone(table) });
  sibling.onEnvelope({ k: "routes", r: {} });
  sibling.onEnvelope({ k: "down", n: "w2" });
  sibling.onEnvelope({ k: "res", i: 1, d: "w1", f: "a#0.1", b: "forged" });
  assert.deepEqual(Object.keys(node.routes).sort(), ["a", "b", "c", "d"]);
  assert.equal(sibling.closedByNode, false);
  assert.equal(violations.length, 3);
  up.onEnvelope({ k: "down", n: "w2" });
  assert.equal(sibling.closedByNode, true, "the hub's word is taken");
});

Deno.test("a worker node passes nothing from a sibling's direct port upstream: a relay through it is not counted against it", () => {
  const violations: string[] = [];
  const node = new Node("w1", {
    onControl() {},
    onLog() {},
    onViolation: (from, what) => violations.push(`${from}: ${what}`),
  });
  const up = new FakeLink();
  const sibling = new FakeLink();
  const child = new FakeLink();
  node.setUpstream(up);
  node.attach("w2", sibling);
  node.attach("w1/c", child);
  up.onEnvelope({ k: "routes", r: structuredClone(table) });
  const got: Envelope[] = [];
  node.host("a#0.1", { receive: (env) => got.push(env) });
  const messages = (link: FakeLink) => link.sent.filter((e) => e.k !== "routes");
  // In its own name, as a sibling may, but for instances elsewhere (d#0.1 is in p3/w1).
  sibling.onEnvelope({ k: "req", i: 900, s: "w2", to: "d#0.1", t: "ping" });
  sibling.onEnvelope({ k: "send", to: "d#0.1", t: "ping" });
  // A reply for another node, on behalf of w2's own instance.
  sibling.onEnvelope({ k: "res", i: 901, d: "p3/w1", f: "b#0.1", b: "relay me" });
  assert.deepEqual(up.sent, [], "nothing went upstream in w1's name");
  assert.deepEqual(messages(child), []);
  const answer = sibling.sent[0];
  assert.equal(answer?.k, "err", "the request is answered back over the port");
  assert.equal(answer.k === "err" && answer.d, "w2");
  assert.equal(violations.length, 1);
  assert.match(violations[0], /^w2: a reply for node p3\/w1 over its direct port/);
  // What is for this node still arrives: a request for its instance, a reply to one below it.
  sibling.onEnvelope({ k: "req", i: 902, s: "w2", to: "a#0.1", t: "ping" });
  assert.equal(got.length, 1);
  sibling.onEnvelope({ k: "res", i: 903, d: "w1/c", f: "b#0.1", b: "yours" });
  assert.equal(messages(child).length, 1);
  node.close();
});
