// The supervisor's runner: it carries out the machine's effects through SupervisedInstance, on an
// injected clock and random source. Fake instances and a hand-moved clock: no real timer.
import assert from "node:assert/strict";
import type { ExitReason } from "../../protocol/envelope.ts";
import type { SupervisorGaveUpError } from "../../protocol/errors.ts";
import type { SupervisorEvent } from "../../supervisor/events.ts";
import type { SupervisedInstance } from "../../supervisor/instance.ts";
import { type Clock, type RunnerHost, SupervisorRunner } from "../../supervisor/runner.ts";
import type { ChildSpec } from "../../supervisor/spec.ts";
import { child, crash, type Flags, flags } from "./_sim.ts";

/** Lets promise callbacks run (no timer involved). */
async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

class FakeClock implements Clock {
  #now = 0;
  #next = 1;
  readonly timers = new Map<number, { at: number; fire: () => void }>();
  now(): number {
    return this.#now;
  }
  setTimer(fire: () => void, ms: number): number {
    const id = this.#next++;
    this.timers.set(id, { at: this.#now + ms, fire });
    return id;
  }
  clearTimer(timer: unknown): void {
    this.timers.delete(timer as number);
  }
  /** Moves time by `ms`, firing due timers in order, letting promise callbacks run after each. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    for (let fired = 0;; fired++) {
      const due = [...this.timers].filter(([, t]) =>
        t.at <= end
      ).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      if (fired === 10_000) throw new Error(`10,000 timers fired within ${ms} ms: a timer loop`);
      this.timers.delete(due[0]);
      this.#now = due[1].at;
      due[1].fire();
      await flush();
    }
    this.#now = end;
    await flush();
  }
}

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => (resolve = res, reject = rej));
  return { promise, resolve, reject };
}

class FakeInstance implements SupervisedInstance {
  onExit: (reason: ExitReason) => void = () => {};
  readonly started = deferred();
  readonly #gone = deferred();
  readonly gone = this.#gone.promise;
  readonly stops: { reason: ExitReason; gracefulOnly: boolean }[] = [];
  readonly kills: ExitReason[] = [];
  /** Ignores a graceful stop. */
  stubborn = false;
  silentFor = 0;
  releasing: Promise<void> = Promise.resolve();
  released = 0;
  #exited = false;
  constructor(readonly name: string, readonly id: string) {}
  start(): Promise<void> {
    return this.started.promise;
  }
  stop(reason: ExitReason, gracefulOnly = false): Promise<boolean> {
    this.stops.push({ reason, gracefulOnly });
    if (this.stubborn && gracefulOnly) return Promise.resolve(false);
    this.exit(reason);
    return Promise.resolve(true);
  }
  kill(reason: ExitReason): void {
    this.kills.push(reason);
    this.exit(reason);
  }
  heartbeat(): number {
    return this.silentFor;
  }
  release(): Promise<void> {
    this.released++;
    return this.releasing;
  }
  /** Ends (asked to or not): reported once, then gone. */
  exit(reason: ExitReason): void {
    if (this.#exited) return;
    this.#exited = true;
    this.onExit(reason);
    this.#gone.resolve();
  }
}

interface World {
  runner: SupervisorRunner<ChildSpec, FakeInstance>;
  clock: FakeClock;
  launched: FakeInstance[];
  events: SupervisorEvent[];
  logs: string[];
  gaveUp: SupervisorGaveUpError[];
  host: RunnerHost<ChildSpec, FakeInstance>;
  /** Instances start at once unless this says otherwise. */
  autostart: boolean;
}

function world(supervisor: Flags = {}, random = 0.5): World {
  const w = {
    clock: new FakeClock(),
    launched: [] as FakeInstance[],
    events: [] as SupervisorEvent[],
    logs: [] as string[],
    gaveUp: [] as SupervisorGaveUpError[],
    autostart: true,
  } as World;
  w.host = {
    launch: (spec, at) => {
      const instance = new FakeInstance(spec.name, at.instance);
      w.launched.push(instance);
      if (w.autostart) instance.started.resolve();
      return instance;
    },
    log: (level, message) => w.logs.push(`${level}: ${message}`),
    emit: (event) => w.events.push(event),
    changed: () => {},
    gaveUp: (error) => w.gaveUp.push(error),
  };
  w.runner = new SupervisorRunner("root", flags(supervisor), {
    launch: (spec, at) => w.host.launch(spec, at),
    log: (level, message) => w.host.log(level, message),
    emit: (event) => w.host.emit(event),
    changed: () => w.host.changed(),
    gaveUp: (error) => w.host.gaveUp(error),
  }, { clock: w.clock, random: () => random });
  return w;
}

const latest = (w: World, name: string) => w.launched.filter((i) => i.name === name).at(-1)!;

Deno.test("runner: a crash is restarted after the backoff on the injected clock, jittered by the injected random", async () => {
  const w = world({ backoff: { min: 100, max: 100, jitter: 0.2 } }, 0);
  await w.runner.add(child("a"));
  latest(w, "a").exit(crash);
  await flush();
  await w.clock.advance(79);
  assert.equal(w.launched.length, 1, "not before 80 ms (100 - 20%)");
  await w.clock.advance(1);
  assert.equal(w.launched.length, 2);
  assert.deepEqual(w.events.map((e) => e.type), ["start", "exit", "start", "restart"]);
  assert.deepEqual(w.events.at(-1), {
    type: "restart",
    container: "a",
    instance: "a#0.2",
    incarnation: 2,
    delay: 80,
  });
});

Deno.test("runner: the decision waits until what a failed instance held is released", async () => {
  const w = world();
  await w.runner.add(child("a"));
  const first = latest(w, "a");
  const release = deferred();
  first.releasing = release.promise;
  first.exit(crash);
  await w.clock.advance(1_000);
  assert.equal(w.launched.length, 1, "nothing decided yet");
  assert.equal(first.released, 1);
  release.resolve();
  await flush();
  await w.clock.advance(10);
  assert.equal(w.launched.length, 2);
});

Deno.test("runner: an abnormal end is made sure of (the instance is asked to stop); a normal one is not", async () => {
  const w = world();
  await w.runner.add(child("a"));
  await w.runner.add(child("b"));
  latest(w, "a").exit(crash);
  latest(w, "b").exit({ kind: "normal", message: "done" });
  await flush();
  assert.equal(w.launched[0].stops.length, 1);
  assert.equal(latest(w, "b").stops.length, 0);
});

Deno.test("runner: a call made by a listener while effects run waits its turn, and settles", async () => {
  const w = world();
  await w.runner.add(child("a"));
  let removed: Promise<void> | null = null;
  w.host.emit = (event) => {
    w.events.push(event);
    if (event.type === "exit") removed = w.runner.remove("a", "graceful-then-kill");
  };
  latest(w, "a").exit(crash);
  assert.ok(removed);
  await removed;
  await w.clock.advance(1_000);
  assert.deepEqual(w.runner.state.children, []);
  assert.equal(w.launched.length, 1, "removed before its restart was decided");
});

Deno.test("runner: a graceful-only stop that gives up rejects naming the instance; kill then waits until it is gone", async () => {
  const w = world();
  await w.runner.add(child("s"));
  const s = latest(w, "s");
  s.stubborn = true;
  await assert.rejects(
    w.runner.remove("s", "graceful"),
    /^Error: instance s#0\.1 did not stop gracefully in time; stop it with mode "kill"$/,
  );
  assert.deepEqual(s.stops.map((x) => x.gracefulOnly), [true]);
  await w.runner.remove("s", "kill");
  assert.deepEqual(s.kills.map((r) => r.message), ["stopped by request"]);
  assert.deepEqual(w.runner.state.children, []);
});

Deno.test("runner: giving up stops the children, then hands the host a SupervisorGaveUpError naming the child and its failure", async () => {
  const w = world({ intensity: 0 });
  await w.runner.add(child("a"));
  await w.runner.add(child("b"));
  w.host.gaveUp = (error) => {
    assert.equal(latest(w, "a").stops.length, 1, "a was stopped first");
    w.gaveUp.push(error);
  };
  latest(w, "b").exit({ kind: "error", message: "TypeError: boom" });
  await flush();
  assert.equal(w.gaveUp.length, 1);
  const [error] = w.gaveUp;
  assert.equal(error.name, "SupervisorGaveUpError");
  assert.deepEqual([error.supervisor, error.child, error.failure, error.why], [
    "root",
    "b",
    "TypeError: boom",
    "intensity",
  ]);
  assert.ok(w.logs.includes(`error: ${error.message}`));
  assert.equal(w.runner.state.status, "gave_up");
});

Deno.test("runner: an instance that cannot be created or started is a failed start", async () => {
  const w = world();
  w.host.launch = () => {
    throw new TypeError("no such mode");
  };
  await assert.rejects(w.runner.add(child("a")), TypeError);
  w.autostart = false;
  w.host.launch = (spec, at) => {
    const instance = new FakeInstance(spec.name, at.instance);
    instance.start = () => {
      throw new RangeError("sync throw");
    };
    return instance;
  };
  await assert.rejects(w.runner.add(child("a")), RangeError);
  assert.deepEqual(w.runner.state.children, []);
});

Deno.test("runner: update of an unknown child throws at once; setFlags and reorder apply at once", async () => {
  const w = world();
  await w.runner.add(child("a"));
  await w.runner.add(child("b"));
  assert.throws(() => w.runner.update(child("zz")), RangeError);
  w.runner.update(child("a", { restart: "temporary" }));
  assert.equal(w.runner.state.children[0].spec.restart, "temporary");
  w.runner.setFlags({ ...flags(), strategy: "rest_for_one" });
  assert.equal(w.runner.state.flags.strategy, "rest_for_one");
  w.runner.reorder(["b", "a"]);
  assert.deepEqual(w.runner.state.children.map((c) => c.spec.name), ["b", "a"]);
});

Deno.test("runner: heartbeats ping running instances on the injected clock; one silent too long is killed and restarted", async () => {
  const w = world();
  await w.runner.add(child("w", { mode: "worker", keepalive: 100 }));
  await w.clock.advance(200); // answering, and past its start grace
  latest(w, "w").silentFor = 150;
  await w.clock.advance(24);
  assert.deepEqual(latest(w, "w").kills, [], "not pinged yet");
  await w.clock.advance(1);
  assert.deepEqual(w.launched[0].kills.map((r) => r.message), ["no heartbeat for 150 ms"]);
  await w.clock.advance(10);
  assert.equal(w.launched.length, 2);
  assert.ok(w.events.some((e) => e.type === "unresponsive" && e.silentFor === 150));
});

Deno.test("runner: shutdown leaves no timer behind and forgets its instances", async () => {
  const w = world({ backoff: { min: 5_000, max: 5_000 } });
  await w.runner.add(child("a", { mode: "worker" }));
  await w.runner.add(child("b"));
  latest(w, "b").exit(crash);
  await flush();
  assert.ok(w.clock.timers.size >= 2, "heartbeat and backoff");
  const key = w.runner.state.children[0].slots[0].phase;
  await w.runner.shutdown("bye");
  assert.equal(w.clock.timers.size, 0);
  assert.equal(w.runner.state.status, "stopped");
  assert.equal("key" in key ? w.runner.instance(key.key) : "none", undefined);
});

Deno.test("runner: a host callback that throws is logged and the other effects still run", async () => {
  const w = world();
  await w.runner.add(child("a"));
  w.host.emit = (event) => {
    if (event.type === "exit") throw new Error("listener broke");
    w.events.push(event);
  };
  latest(w, "a").exit(crash);
  await flush();
  await w.clock.advance(10);
  assert.ok(w.logs.includes("error: supervisor root: emit failed: listener broke"));
  assert.equal(w.launched.length, 2, "restarted all the same");
  assert.equal(w.runner.state.children[0].slots[0].phase.state, "running");
});
