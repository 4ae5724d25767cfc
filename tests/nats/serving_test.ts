// Requests from other runtimes served here over NATS, with a fake hub and a clock moved by hand:
// handed to a live instance, held while their container restarts, and refused after a short grace
// when their instance leaves without replying. The live paths are two_runtimes_test.ts and
// retries_test.ts.
import assert from "node:assert/strict";
import { Timers } from "../../distribution/_clock.ts";
import { NatsServing } from "../../distribution/_nats_serving.ts";
import type { Envelope, RouteTable } from "../../protocol/envelope.ts";
import { FakeClock } from "../_fake_clock.ts";

function world(routes: RouteTable) {
  const clock = new FakeClock();
  const delivered: Envelope[] = [];
  const published: [string, unknown][] = [];
  const hub = {
    routes,
    attachPeer() {},
    detach() {},
    reportRefused() {},
    send() {},
  };
  const serving = new NatsServing({
    hub,
    runtime: "b",
    served: () => true,
    deliver: (env) => delivered.push(env),
    publish: (subject, body) => (published.push([subject, body]), null),
    ownRoutes: () => hub.routes,
    log() {},
  }, new Timers(clock));
  return { clock, hub, serving, delivered, published };
}

const live: RouteTable = {
  api: { balance: "round_robin", instances: [{ i: "api#0.1", n: "w1" }] },
};
const request = (i: number) => ({ o: "a1", s: "host", i, t: "get", b: null });

Deno.test("a request served here goes to a live instance as a req from @nats/<origin>:<node>, and its reply to the inbox", () => {
  const w = world(live);
  w.serving.incoming("api", request(1), "inbox.1");
  assert.deepEqual(w.delivered, [
    { k: "req", i: 1, s: "a1:host", to: "api#0.1", t: "get", b: null },
  ]);
  w.serving.replied({ k: "res", i: 1, d: "a1:host", f: "api#0.1", b: "ok" });
  assert.deepEqual(w.published, [["inbox.1", { b: "ok" }]]);
  assert.equal(w.serving.size, 0);
});

Deno.test("a request whose instance leaves without replying is refused after a 25 ms grace", async () => {
  const w = world(live);
  w.serving.incoming("api", request(1), "inbox.1");
  w.hub.routes = {};
  w.serving.ownChanged({});
  await w.clock.advance(24);
  assert.deepEqual(w.published, [], "a reply may still be on its way");
  await w.clock.advance(1);
  assert.deepEqual(w.published, [["inbox.1", {
    e: { name: "UnavailableError", message: "instance api#0.1 is gone", kind: "unavailable" },
  }]]);
});

Deno.test("a request whose instance is back within the grace is not refused", async () => {
  const w = world(live);
  w.serving.incoming("api", request(1), "inbox.1");
  w.serving.ownChanged({});
  await w.clock.advance(10);
  w.serving.replied({ k: "res", i: 1, d: "a1:host", f: "api#0.1", b: "late but fine" });
  await w.clock.advance(100);
  assert.deepEqual(w.published, [["inbox.1", { b: "late but fine" }]]);
});

Deno.test("a request for a restarting container is held up to its buffer, then handed over when it is back", () => {
  const w = world({ api: { balance: "round_robin", instances: [], w: 1, q: 1 } });
  w.serving.incoming("api", request(1), "inbox.1");
  w.serving.incoming("api", request(2), "inbox.2");
  assert.deepEqual(w.delivered, []);
  assert.match(
    JSON.stringify(w.published),
    /inbox.2.*is restarting and already holds 1 messages/,
    "the second is refused: the buffer holds one",
  );
  w.hub.routes = live;
  w.serving.ownChanged(live);
  assert.deepEqual(w.delivered.map((e) => (e as { i?: number }).i), [1]);
});

Deno.test("requests nobody answered are forgotten after ten minutes", async () => {
  const w = world(live);
  w.serving.incoming("api", request(1), "inbox.1");
  await w.clock.advance(10 * 60_000 - 1);
  w.serving.forget(w.clock.now());
  assert.equal(w.serving.size, 1);
  await w.clock.advance(1);
  w.serving.forget(w.clock.now());
  assert.equal(w.serving.size, 0);
});
