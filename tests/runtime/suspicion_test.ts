// Suspicion of a peer link (runtime/_suspicion.ts) on a clock moved by hand, the route book's
// choice around suspect instances, and the early retry of a request waiting at one.
import assert from "node:assert/strict";
import { CHECK_EVERY, LinkSuspicion, MIN_WINDOW } from "../../runtime/_suspicion.ts";
import { RouteBook } from "../../runtime/_route_book.ts";
import { Failover, type WaitingRequest } from "../../runtime/_failover.ts";
import { PendingRequests } from "../../runtime/_pending.ts";
import type { RouteTable } from "../../protocol/envelope.ts";
import { envelopeProblem } from "../../protocol/envelope_check.ts";
import { sanitizeRoutes } from "../../protocol/routes.ts";

/** A suspicion on a hand-moved clock: `run(ms)` fires its check timer on time for `ms`. */
function watched() {
  let now = 0;
  let timer: (() => void) | undefined;
  let due = 0;
  const probes: string[] = [];
  let changes = 0;
  const suspicion = new LinkSuspicion<string>({
    now: () => now,
    probe: (key) => probes.push(key),
    changed: () => changes++,
    setTimer: (fn, ms) => {
      due = now + ms;
      timer = fn;
    },
    clearTimer: () => (timer = undefined),
  });
  const fire = () => {
    const fn = timer;
    timer = undefined;
    fn?.();
  };
  return {
    suspicion,
    probes,
    get changes() {
      return changes;
    },
    get armed() {
      return timer !== undefined;
    },
    set now(ms: number) {
      now = ms;
    },
    get now() {
      return now;
    },
    /** Moves the clock `ms` ahead, the check timer firing on time on the way. */
    run(ms: number) {
      const end = now + ms;
      while (timer !== undefined && due <= end) {
        now = Math.max(now, due);
        fire();
      }
      now = end;
    },
    /** The isolate was busy for `ms`: the timer fires once, late. */
    block(ms: number) {
      now += ms;
      fire();
    },
  };
}

Deno.test("a link with a request outstanding whose probe goes unanswered for the window becomes suspect, and is trusted again when it speaks", () => {
  const w = watched();
  const b = w.suspicion.watch("@b");
  w.suspicion.requested(b);
  w.run(CHECK_EVERY);
  assert.deepEqual(w.probes, ["@b"], "quiet with a request outstanding: probed");
  w.run(MIN_WINDOW - CHECK_EVERY);
  assert.deepEqual([...w.suspicion.suspects], [], "not before the window has passed");
  w.run(CHECK_EVERY);
  assert.deepEqual([...w.suspicion.suspects], ["@b"]);
  assert.equal(w.changes, 1);
  assert.equal(w.armed, false, "nothing more to check while the only busy link is suspect");
  w.suspicion.heard(b, false);
  assert.deepEqual([...w.suspicion.suspects], []);
  assert.equal(w.changes, 2);
});

Deno.test("a link that answers its probes while a slow request runs is never suspect, and is probed less and less often", () => {
  const w = watched();
  const b = w.suspicion.watch("@b");
  w.suspicion.requested(b);
  for (let t = 0; t < 3_000; t += CHECK_EVERY) {
    const before = w.probes.length;
    w.run(CHECK_EVERY);
    if (w.probes.length > before) w.suspicion.heard(b, true); // the pong comes back at once
  }
  assert.deepEqual([...w.suspicion.suspects], []);
  assert.ok(w.probes.length <= 8, `${w.probes.length} probes in 3 s (backing off to 1 s)`);
  w.suspicion.replied(b);
  assert.equal(b.out, 0);
  w.run(200);
  assert.equal(w.armed, false, "no check runs once nothing is outstanding");
});

Deno.test("a link whose every request takes 50 ms to answer is probed now and then, not once a request, and never suspect", () => {
  const w = watched();
  const b = w.suspicion.watch("@b");
  let requests = 0;
  for (let t = 0; t < 5_000; t += 60) {
    w.suspicion.requested(b);
    requests++;
    for (let step = 0; step < 50; step += CHECK_EVERY / 2) {
      const before = w.probes.length;
      w.run(CHECK_EVERY / 2);
      if (w.probes.length > before) w.suspicion.heard(b, true);
    }
    w.suspicion.replied(b);
    w.run(10);
  }
  assert.deepEqual([...w.suspicion.suspects], []);
  assert.ok(w.probes.length * 5 < requests, `${w.probes.length} probes for ${requests} requests`);
});

Deno.test("a request whose reply never comes does not keep its link checked for ever: once the probes, answered, have backed off to 1 s, the link is idle again", () => {
  const w = watched();
  const b = w.suspicion.watch("@b");
  w.suspicion.requested(b); // its instance crashes: no reply, ever
  for (let t = 0; t < 5_000 && w.armed; t += CHECK_EVERY) {
    const before = w.probes.length;
    w.run(CHECK_EVERY);
    if (w.probes.length > before) w.suspicion.heard(b, true);
  }
  assert.equal(w.armed, false, "no check left running");
  assert.equal(b.out, 0);
  assert.deepEqual([...w.suspicion.suspects], []);
  w.suspicion.requested(b);
  assert.equal(w.armed, true, "the next request is watched again");
});

Deno.test("a link with nothing outstanding is neither probed nor suspected however quiet, and arms no timer", () => {
  const w = watched();
  w.suspicion.watch("@b");
  w.run(10_000);
  assert.deepEqual(w.probes, []);
  assert.equal(w.armed, false);
  assert.deepEqual([...w.suspicion.suspects], []);
});

Deno.test("a 400 ms stall of this isolate suspects no link: the late check only probes, and what was read meanwhile clears it before the next one judges", () => {
  const w = watched();
  const links = ["@b", "@c", "@d"].map((key) => w.suspicion.watch(key));
  for (const link of links) w.suspicion.requested(link);
  w.run(CHECK_EVERY); // probes sent
  assert.equal(w.probes.length, 3);
  w.block(400); // the pongs arrive meanwhile, unread
  assert.deepEqual([...w.suspicion.suspects], [], "the late check judged nobody");
  for (const link of links) w.suspicion.heard(link, true); // read once the isolate is free
  w.run(300);
  assert.deepEqual([...w.suspicion.suspects], []);
});

Deno.test("a link silent through a stall is still suspected, on the check after the late one", () => {
  const w = watched();
  const b = w.suspicion.watch("@b");
  w.suspicion.requested(b);
  w.run(CHECK_EVERY);
  w.block(400);
  assert.deepEqual([...w.suspicion.suspects], []);
  w.run(CHECK_EVERY);
  assert.deepEqual([...w.suspicion.suspects], ["@b"]);
});

Deno.test("the suspicion window is a few measured round trips when they are longer than 100 ms", () => {
  const w = watched();
  const b = w.suspicion.watch("@b");
  assert.equal(w.suspicion.window(b), MIN_WINDOW);
  w.suspicion.requested(b);
  w.run(CHECK_EVERY);
  w.run(60);
  w.suspicion.heard(b, true); // a probe answered after 60 ms
  assert.equal(w.suspicion.window(b), 240);
});

Deno.test("a closed link is no longer suspect", () => {
  const w = watched();
  const b = w.suspicion.watch("@b");
  w.suspicion.requested(b);
  w.run(200);
  assert.deepEqual([...w.suspicion.suspects], ["@b"]);
  w.suspicion.unwatch(b);
  assert.deepEqual([...w.suspicion.suspects], []);
});

const spread: RouteTable = {
  api: {
    balance: "round_robin",
    instances: [
      { i: "api#0.1@b", n: "@b/p1" },
      { i: "api#1.1@b", n: "@b/p2" },
      { i: "api#0.1@c", n: "@c/p1" },
      { i: "api#1.1@c", n: "@c/p2" },
    ],
  },
};

Deno.test("the route book chooses only instances behind trusted links while some are, and marks the suspect ones in the table it hands down", () => {
  const book = new RouteBook(() => 0);
  book.setGlobal(spread);
  book.setSuspects(new Set(["@b"]));
  const chosen = new Set(Array.from({ length: 8 }, () => book.choose("api", undefined, false)));
  assert.deepEqual([...chosen].sort(), ["api#0.1@c", "api#1.1@c"]);
  assert.equal(book.choose("api", undefined, false, "api#0.1@b")?.toString().endsWith("@c"), true);
  assert.equal(book.isSuspect("api#0.1@b"), true);
  assert.equal(book.isSuspect("api#0.1@c"), false);
  assert.deepEqual(book.routes.api.instances.map((i) => i.s), [1, 1, undefined, undefined]);
  assert.equal(envelopeProblem({ k: "routes", r: book.routes }, "peer"), null);
  assert.equal(spread.api.instances[0].s, undefined, "the table given is not changed");

  // A node below honours the marks of the table it is handed.
  const below = new RouteBook(() => 0);
  below.setGlobal(book.routes);
  const there = new Set(Array.from({ length: 8 }, () => below.choose("api", undefined, false)));
  assert.deepEqual([...there].sort(), ["api#0.1@c", "api#1.1@c"]);

  book.setSuspects(new Set());
  assert.deepEqual(book.routes.api.instances.map((i) => i.s), [
    undefined,
    undefined,
    undefined,
    undefined,
  ]);
  const all = new Set(Array.from({ length: 8 }, () => book.choose("api", undefined, false)));
  assert.equal(all.size, 4, "trusted again: every instance is chosen");
});

Deno.test("when every instance of a container is suspect, the route book chooses as before", () => {
  const book = new RouteBook(() => 0);
  book.setGlobal(spread);
  book.setSuspects(new Set(["@b", "@c"]));
  const all = new Set(Array.from({ length: 8 }, () => book.choose("api", undefined, false)));
  assert.equal(all.size, 4);
  assert.equal(book.choose("api", undefined, false, "api#1.1@b"), "api#1.1@b");
});

Deno.test("a peer runtime cannot mark instances suspect: its routes keep only id and node", () => {
  const { routes } = sanitizeRoutes({
    api: { balance: "round_robin", instances: [{ i: "api#0.1", n: "w1", s: 1 }] },
  }, { node: null, may: () => true });
  assert.deepEqual(routes.api.instances, [{ i: "api#0.1", n: "w1" }]);
});

Deno.test("a suspect mark other than 1 in a routing table is refused at the edge, naming the field", () => {
  const bad = { api: { balance: "round_robin", instances: [{ i: "api#0.1", n: "w1", s: 2 }] } };
  assert.match(envelopeProblem({ k: "routes", r: bad }, "peer") ?? "", /r\.api\.instances\[0\]\.s/);
});

/** A failover over a route book, recording what it sends. */
function failoverOver(book: RouteBook) {
  const sent: string[] = [];
  const pending = new PendingRequests<WaitingRequest>({
    onExpire: (w) => failover.expired(w),
    now: () => 0,
    setTimer: () => 0,
    clearTimer() {},
  });
  const failover = new Failover(pending, {
    choose: (name, key, mayWait, prefer, entity) => book.choose(name, key, mayWait, prefer, entity),
    hold() {},
    send: (waiting) => sent.push(waiting.target),
    routed: () => true,
    suspect: (id) => book.isSuspect(id),
  });
  const request = (id: number, retries: number, target: string): WaitingRequest => {
    const waiting: WaitingRequest = {
      id,
      deadline: 1_000,
      name: "api",
      topic: "t",
      body: null,
      timeout: 1_000,
      retriesLeft: retries,
      until: Infinity,
      start: 0,
      retriable: retries > 0,
      held: false,
      hold: true,
      orphaned: false,
      target,
      resolve() {},
      reject() {},
    };
    pending.add(waiting);
    return waiting;
  };
  return { sent, failover, request };
}

Deno.test("a retriable request waiting at an instance that becomes suspect is sent at once to a trusted one, spending one retry; its first instance may still answer", () => {
  const book = new RouteBook(() => 0);
  book.setGlobal(spread);
  const { sent, failover, request } = failoverOver(book);
  const retried = request(1, 3, "api#0.1@b");
  const once = request(2, 0, "api#1.1@b");
  const elsewhere = request(3, 3, "api#0.1@c");
  book.setSuspects(new Set(["@b"]));
  failover.watch();
  assert.equal(sent.length, 1, "only the retriable request waiting on the suspect link moves");
  assert.ok(sent[0].endsWith("@c"));
  assert.equal(retried.retriesLeft, 2);
  assert.deepEqual(retried.tried, ["api#0.1@b"]);
  assert.equal(once.target, "api#1.1@b", "no retry: it waits for its instance");
  assert.equal(elsewhere.target, "api#0.1@c");
  failover.watch();
  assert.equal(sent.length, 1, "moved once: its new instance is trusted");
});

Deno.test("a request waiting at a suspect instance stays when every instance is suspect", () => {
  const book = new RouteBook(() => 0);
  book.setGlobal(spread);
  const { sent, failover, request } = failoverOver(book);
  const waiting = request(1, 3, "api#0.1@b");
  book.setSuspects(new Set(["@b", "@c"]));
  failover.watch();
  assert.deepEqual(sent, []);
  assert.equal(waiting.retriesLeft, 3);
});
