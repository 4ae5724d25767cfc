// What a root relays to each agent (`distribution/_relay.ts`), and how an agent orders its own
// group of a container before the groups relayed from other agents.
import assert from "node:assert/strict";
import type { RouteTable } from "../../protocol/envelope.ts";
import { preferOwn, relayedFor } from "../../distribution/_relay.ts";
import { cutAnnounced } from "../../distribution/_peer_routes.ts";

const entry = (...ids: [string, string][]): RouteTable[string] => ({
  balance: "round_robin",
  instances: ids.map(([i, n]) => ({ i, n })),
});

Deno.test("a root relays to an agent the other agents' instances, never the agent's own", () => {
  const relayed: RouteTable = {
    x: entry(["x#0.1@node-b", "@node-b/p1"], ["x#0.1@node-c", "@node-c/p1"]),
    y: entry(["y#0.1", "@node-b/p2"]),
  };
  const table = relayedFor("node-c", relayed, (name) => name === "x");
  assert.deepEqual(table, { x: entry(["x#0.1@node-b", "@node-b/p1"]), y: relayed.y });
});

Deno.test("a container only the receiving agent runs is not relayed back to it, not even empty", () => {
  const relayed: RouteTable = { solo: entry(["solo#0.1", "@node-c/p1"]) };
  assert.deepEqual(relayedFor("node-c", relayed, (name) => name === "solo"), {});
});

Deno.test("a container being re-placed is relayed as a placeholder, so senders on other agents hold for it", () => {
  const relayed: RouteTable = { x: { balance: "round_robin", instances: [], w: 1, q: 10 } };
  assert.deepEqual(relayedFor("node-d", relayed, () => false), relayed);
});

Deno.test("draining instances on the receiving agent are cut from what is relayed to it", () => {
  const relayed: RouteTable = {
    x: { ...entry(["x#0.2@node-b", "@node-b/p3"]), x: [{ i: "x#0.1@node-c", n: "@node-c/p1" }] },
  };
  assert.deepEqual(relayedFor("node-c", relayed, () => true), {
    x: entry(["x#0.2@node-b", "@node-b/p3"]),
  });
});

Deno.test("an agent's own live instances serve; the other agents' wait in x for replies already owed", () => {
  const own = entry(["x#0.1", "p1"], ["x#1.1", "p2"]);
  const there = entry(["x#0.1@node-b", "@root/@node-b/p1"]);
  const merged = preferOwn(own, there);
  assert.deepEqual(merged.instances, own.instances);
  assert.deepEqual(merged.x, there.instances);
});

Deno.test("while none of an agent's own instances is live, the other agents' groups serve and nothing is held", () => {
  const restarting: RouteTable[string] = { balance: "round_robin", instances: [], w: 1, q: 5 };
  const there = entry(["x#0.1@node-b", "@root/@node-b/p1"]);
  const merged = preferOwn(restarting, there);
  assert.deepEqual(merged, { balance: "round_robin", instances: there.instances, q: 5 });
});

Deno.test("with no live instance anywhere, the agent holds for its own restarting group", () => {
  const restarting: RouteTable[string] = { balance: "round_robin", instances: [], w: 1 };
  const away: RouteTable[string] = { balance: "round_robin", instances: [], w: 1 };
  assert.deepEqual(preferOwn(restarting, away), restarting);
});

Deno.test("an instance id of the agent's own, listed by a relaying root under another node, is never taken", () => {
  const own = entry(["x#0.1", "p1"]);
  const forged = entry(["x#0.1", "@root/elsewhere"], ["x#0.1@node-b", "@root/@node-b/p1"]);
  const merged = preferOwn(own, forged);
  assert.deepEqual(merged.instances, [{ i: "x#0.1", n: "p1" }]);
  assert.deepEqual(merged.x, [{ i: "x#0.1@node-b", n: "@root/@node-b/p1" }]);
  const down = preferOwn(
    { balance: "round_robin", instances: [], x: [{ i: "x#0.1", n: "p1" }] },
    forged,
  );
  assert.deepEqual(down.instances, [{ i: "x#0.1@node-b", n: "@root/@node-b/p1" }]);
  assert.deepEqual(down.x, [{ i: "x#0.1", n: "p1" }]);
});

Deno.test("an agent takes routes for a container it runs only from the root that placed it there", () => {
  const reported = {
    x: { balance: "round_robin", instances: [{ i: "x#0.1@node-b", n: "@node-b/p1" }] },
  };
  const judge = { own: new Set(["x"]), claimant: () => undefined };
  const other = cutAnnounced("root-2", reported, { ...judge, relays: () => false });
  assert.deepEqual(other.table, {});
  assert.deepEqual(other.dropped, ['routes for container "x", which is not below it']);
  const placer = cutAnnounced("root", reported, { ...judge, relays: (name) => name === "x" });
  assert.deepEqual(placer.table, {
    x: { balance: "round_robin", instances: [{ i: "x#0.1@node-b", n: "@root/@node-b/p1" }] },
  });
});

Deno.test("routes dropped because another peer claims the name are flagged, to be judged again once that peer is gone", () => {
  const reported = { x: { balance: "round_robin", instances: [{ i: "x#0.1", n: "@node-b/p1" }] } };
  const cut = cutAnnounced("root-b", reported, { own: new Set(), claimant: () => "root-a" });
  assert.deepEqual(cut.table, {});
  assert.equal(cut.later, true);
  assert.deepEqual(cut.dropped, ['routes for container "x", which runtime "root-a" runs']);
});

Deno.test("routes a root declines (not placed on that agent from here yet) are flagged, to be judged again once it places them", () => {
  const reported = { x: { balance: "round_robin", instances: [{ i: "x#0.1", n: "p1" }] } };
  const judge = { own: new Set<string>(), claimant: () => undefined };
  const before = cutAnnounced("node-b", reported, { ...judge, accepts: () => false });
  assert.deepEqual(before, { table: {}, dropped: [], later: true });
  const after = cutAnnounced("node-b", reported, { ...judge, accepts: () => true });
  assert.equal(after.later, false);
  assert.deepEqual(after.table.x.instances, [{ i: "x#0.1", n: "@node-b/p1" }]);
});
