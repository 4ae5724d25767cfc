// The entity host on an injected clock and hand-driven timers (no isolate, no real time):
// passivation exactly when `idle` has passed, what counts as activity, saving on stop.
import assert from "node:assert/strict";
import type { Context } from "../../mod.ts";
import { entities, type EntityContext, type EntityStore } from "../../mod.ts";
import { EntityHost } from "../../runtime/_entity_host.ts";
import { MemoryStore } from "../../runtime/_entity_store.ts";

/** A context whose timers fire only when the test says, and whose clock the test moves. */
function fakeContext() {
  const timers: { cb: () => unknown; repeat: boolean; live: boolean }[] = [];
  const stops: (() => unknown)[] = [];
  const add = (cb: () => unknown, repeat: boolean) => {
    const timer = { cb, repeat, live: true };
    timers.push(timer);
    return () => void (timer.live = false);
  };
  const noop = () => {};
  const ctx = {
    name: "rooms",
    instance: "rooms#0.1",
    log: { debug: noop, info: noop, warn: noop, error: noop },
    publish: noop,
    setInterval: (cb: () => unknown) => add(cb, true),
    setTimeout: (cb: () => unknown) => add(cb, false),
    onStop: (hook: () => unknown) => void stops.push(hook),
  } as unknown as Context;
  return {
    ctx,
    /** Fires every live timer once (the sweep first: it was set first). */
    fire() {
      for (const t of [...timers]) {
        if (!t.live) continue;
        if (!t.repeat) t.live = false;
        t.cb();
      }
    },
    live: () => timers.filter((t) => t.live).length,
    stop: () => Promise.all(stops.map((hook) => hook())),
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

function ask(host: EntityHost, id: string, topic: string, body?: unknown): Promise<unknown> {
  return new Promise((resolve, reject) =>
    host.deliver(id, topic, body, "request", (ok, value) => ok ? resolve(value) : reject(value))
  );
}

function makeHost(store = new MemoryStore()) {
  let now = 0;
  const events: string[] = [];
  const room = entities((e: EntityContext<{ n: number }>) => ({
    add: () => ++e.state.n,
    tick: () => {
      e.setInterval(() => events.push(`tick ${e.id}`), 10);
      return true;
    },
  }), {
    initial: () => ({ n: 0 }),
    idle: 1000,
    store: store as EntityStore<{ n: number }>,
    onPassivate: (e) => void events.push(`passivate ${e.id} at ${now}`),
  });
  const fake = fakeContext();
  const host = new EntityHost(fake.ctx, room.entities, {}, null, () => now);
  return { host, fake, events, store, at: (ms: number) => (now = ms) };
}

Deno.test("an entity is passivated once idle has passed since its last message, not a moment before", async () => {
  const { host, fake, events, at } = makeHost();
  assert.equal(await ask(host, "a", "add"), 1);
  at(600);
  assert.equal(await ask(host, "a", "add"), 2); // its idle time starts again here
  at(1599);
  fake.fire();
  await settle();
  assert.equal(host.count, 1);
  at(1600);
  fake.fire();
  await settle();
  assert.equal(host.count, 0);
  assert.deepEqual(events, ["passivate a at 1600"]);
});

Deno.test("a timer tick is not activity: an entity with only a ticking timer is passivated, and its timer cleared", async () => {
  const { host, fake, events, at } = makeHost();
  await ask(host, "t", "tick");
  const withTimer = fake.live();
  at(500);
  fake.fire(); // the sweep (nothing idle yet) and the entity's tick
  await settle();
  assert.deepEqual(events, ["tick t"]);
  at(1000);
  fake.fire();
  await settle();
  assert.equal(host.count, 0);
  assert.ok(events.includes("passivate t at 1000"));
  assert.equal(fake.live(), withTimer - 1, "the entity's interval was cleared");
});

Deno.test("the state saved at passivation is what the next activation loads", async () => {
  const { host, fake, at } = makeHost();
  await ask(host, "s", "add");
  await ask(host, "s", "add");
  at(1000);
  fake.fire();
  await settle();
  assert.equal(host.count, 0);
  assert.equal(await ask(host, "s", "add"), 3);
});

Deno.test("a stopping instance passivates and saves every entity before it is done", async () => {
  const store = new MemoryStore();
  const { host, fake } = makeHost(store);
  await Promise.all(["x", "y", "z"].map((id) => ask(host, id, "add")));
  assert.equal(host.count, 3);
  await fake.stop();
  assert.equal(host.count, 0);
  for (const id of ["x", "y", "z"]) assert.deepEqual(await store.load("rooms", id), { n: 1 });
  // Once stopping, a new message is refused undelivered (safe to send elsewhere).
  await assert.rejects(ask(host, "w", "add"), { name: "UnavailableError" });
});

Deno.test("at max active entities, a new activation passivates the least recently used idle one first", async () => {
  const store = new MemoryStore();
  const room = entities((e: EntityContext<{ n: number }>) => ({ add: () => ++e.state.n }), {
    initial: () => ({ n: 0 }),
    store: store as EntityStore<{ n: number }>,
    max: 2,
  });
  const fake = fakeContext();
  let now = 0;
  const host = new EntityHost(fake.ctx, room.entities, {}, null, () => now);
  await ask(host, "a", "add");
  now = 1;
  await ask(host, "b", "add");
  now = 2;
  await ask(host, "a", "add"); // a is now the most recently used: b goes first
  now = 3;
  await ask(host, "c", "add");
  await settle();
  assert.equal(host.count, 2);
  assert.ok(host.has("a") && host.has("c") && !host.has("b"));
  assert.deepEqual(await store.load("rooms", "b"), { n: 1 }, "saved as it was passivated");
  assert.equal(await ask(host, "b", "add"), 2);
});

Deno.test("a message soon after the last still counts: the sweep measures idle from the latest one", async () => {
  const { host, fake, events, at } = makeHost();
  await ask(host, "q", "add");
  await ask(host, "r", "add");
  at(100);
  await ask(host, "q", "add");
  at(1000);
  fake.fire();
  await settle();
  assert.ok(host.has("q"), "q was used 900 ms ago");
  assert.ok(!host.has("r"), "r was idle for 1000 ms");
  at(1099);
  fake.fire();
  await settle();
  assert.ok(host.has("q"));
  at(1100);
  fake.fire();
  await settle();
  assert.ok(!host.has("q"));
  assert.deepEqual(events, ["passivate r at 1000", "passivate q at 1100"]);
});

function failingHost(onError?: "keep" | "deactivate", overrides = {}) {
  const store = new MemoryStore();
  const warnings: string[] = [];
  const cart = entities((e: EntityContext<{ lines: string[] }>) => ({
    add: (sku: string) => {
      e.state.lines.push(sku);
      if (sku === "") throw new TypeError("sku required");
      return e.state.lines.length;
    },
    tickBad: () => {
      e.setTimer(() => {
        throw new Error("tick failed");
      }, 10);
      return true;
    },
    lines: () => e.state.lines,
  }), {
    initial: () => ({ lines: [] }),
    store: store as EntityStore<{ lines: string[] }>,
    ...(onError ? { onError } : {}),
  });
  const fake = fakeContext();
  (fake.ctx.log as { warn: (line: string) => void }).warn = (line) => void warnings.push(line);
  const host = new EntityHost(fake.ctx, cart.entities, overrides, null, () => 0);
  return { host, fake, store, warnings };
}

Deno.test("by default a handler that throws leaves its entity active, its change kept, and the next messages run", async () => {
  const { host } = failingHost();
  await ask(host, "c", "add", "a");
  await assert.rejects(ask(host, "c", "add", ""), /sku required/);
  assert.ok(host.has("c"));
  assert.deepEqual(await ask(host, "c", "lines"), ["a", ""]);
});

Deno.test("a mailbox of 20,000 requests that all throw is answered in one pass, without growing the stack", async () => {
  const { host } = failingHost();
  const answers = await Promise.allSettled(
    Array.from({ length: 20_000 }, () => ask(host, "c", "add", "")),
  );
  assert.ok(answers.every((a) => a.status === "rejected" && /sku required/.test(String(a.reason))));
  assert.equal((await ask(host, "c", "lines") as string[]).length, 20_000);
});

Deno.test("with onError deactivate a handler that throws drops its entity unsaved; the next message reloads the last save", async () => {
  const { host, store } = failingHost("deactivate");
  await store.save("rooms", "c", { lines: ["saved"] });
  await ask(host, "c", "add", "a");
  await assert.rejects(ask(host, "c", "add", ""), /sku required/);
  assert.ok(!host.has("c"));
  assert.deepEqual(await ask(host, "c", "lines"), ["saved"]);
});

Deno.test("the topology's onError overrides the module's", async () => {
  const { host } = failingHost("keep", { onError: "deactivate" });
  await assert.rejects(ask(host, "c", "add", ""), /sku required/);
  assert.ok(!host.has("c"));
});

Deno.test("by default a timer callback that throws is logged and its entity stays active", async () => {
  const { host, fake, warnings } = failingHost();
  await ask(host, "c", "tickBad");
  fake.fire();
  await settle();
  assert.ok(host.has("c"));
  assert.match(warnings.join("\n"), /entity "c": a timer callback threw Error: tick failed/);
});

Deno.test("an onError other than keep or deactivate is a TypeError naming the option and the value", () => {
  const spec = entities(() => ({}), { onError: "restart" as "keep" });
  assert.throws(
    () => new EntityHost(fakeContext().ctx, spec.entities),
    (error: Error) =>
      error instanceof TypeError && /onError must be "keep" or "deactivate", got "restart"/.test(
        error.message,
      ),
  );
});
