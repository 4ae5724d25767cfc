// A world for the supervisor's state machine: plays the runner's part (instances that start, stop
// and exit on cue; timers on a clock moved by hand) so that tests drive the pure core alone, with
// no real timer, worker or process.
import type { ExitReason } from "../../protocol/envelope.ts";
import type { SupervisorEvent } from "../../supervisor/events.ts";
import { transition } from "../../supervisor/machine.ts";
import type { Effect, SupervisorCall, SupervisorInput } from "../../supervisor/messages.ts";
import type { ChildSpec, StopMode, SupervisorSpec } from "../../supervisor/spec.ts";
import {
  initialState,
  instanceKey,
  type SlotState,
  slotState,
  type SupervisorState,
} from "../../supervisor/state.ts";

/** A child spec with a topology's defaults, but inline (not pinged) unless told otherwise. */
export function child(name: string, extra: Partial<ChildSpec> = {}): ChildSpec {
  return { name, restart: "permanent", replicas: 1, keepalive: 5_000, mode: "inline", ...extra };
}

/** Flags as a test writes them: any of them, backoff fields included, may be left out. */
export type Flags = Partial<Omit<SupervisorSpec, "backoff">> & {
  backoff?: Partial<SupervisorSpec["backoff"]>;
};

/** Supervisor flags: roomy intensity, a fixed 10 ms backoff, unless told otherwise. */
export function flags(extra: Flags = {}): SupervisorSpec {
  return {
    strategy: "one_for_one",
    intensity: 100,
    period: 10_000,
    ...extra,
    backoff: { min: 10, max: 10, jitter: 0, ...extra.backoff },
  };
}

export const crash: ExitReason = { kind: "error", message: "boom" };

interface FakeInstance {
  key: number;
  name: string;
  id: string;
  status: "starting" | "running" | "stopping" | "exited";
  /** A stop the world has not answered yet (auto.stop off, or a graceful stop that hangs). */
  stop?: StopMode;
  silentFor: number;
}

type WithoutOp<C> = C extends { op: number } ? Omit<C, "op"> : never;
type Call = WithoutOp<SupervisorCall<ChildSpec>>;

export class Sim {
  state: SupervisorState<ChildSpec>;
  now = 0;
  random = 0.5;
  /** Every effect, in order. */
  readonly effects: Effect<ChildSpec>[] = [];
  readonly events: SupervisorEvent[] = [];
  readonly logs: { level: string; message: string }[] = [];
  readonly replies = new Map<number, { error: unknown } | null>();
  readonly instances = new Map<number, FakeInstance>();
  /** Timer id → when it fires. */
  readonly timers = new Map<number, number>();
  /** How the world answers effects on its own (turn off to answer by hand). */
  readonly auto = { start: true, stop: true, release: true };
  /** Container name → how many of its next starts fail. */
  readonly failing = new Map<string, number>();
  /** Names whose instances ignore a graceful stop (a graceful-only stop gives up). */
  readonly stubborn = new Set<string>();
  /** Give-up effects seen. */
  readonly gaveUp: Extract<Effect<ChildSpec>, { kind: "give_up" }>[] = [];
  #op = 1;
  readonly #queue: SupervisorInput<ChildSpec>[] = [];
  #busy = false;

  constructor(supervisor: Flags = {}, name = "root") {
    this.state = initialState(name, flags(supervisor));
  }

  /** Feeds one input (and whatever the world answers at once). */
  send(input: SupervisorInput<ChildSpec>): void {
    this.#queue.push(input);
    if (this.#busy) return;
    this.#busy = true;
    try {
      while (this.#queue.length > 0) {
        const next = this.#queue.shift()!;
        const { state, effects } = transition(this.state, next, {
          now: this.now,
          random: this.random,
        });
        this.state = state;
        for (const effect of effects) this.#answer(effect);
      }
    } finally {
      this.#busy = false;
    }
  }

  /** Makes a call; returns its op (see `reply`). */
  call(call: Call): number {
    const op = this.#op++;
    this.send({ ...call, op } as SupervisorInput<ChildSpec>);
    return op;
  }

  /** The reply to call `op`: `undefined` while under way, `null` for success, else the error. */
  reply(op: number): unknown {
    if (!this.replies.has(op)) return undefined;
    return this.replies.get(op)?.error ?? null;
  }

  add(...specs: ChildSpec[]): void {
    for (const spec of specs) this.call({ type: "add", spec });
  }

  /** The slot states of child `name`. */
  states(name: string): SlotState[] {
    return this.#child(name).slots.map((s) => slotState(s.phase));
  }

  /** The incarnations of child `name`. */
  incarnations(name: string): number[] {
    return this.#child(name).slots.map((s) => s.incarnation);
  }

  /** Whether every replica of every child in `names` runs. */
  running(...names: string[]): boolean {
    return names.every((n) => this.states(n).every((s) => s === "running"));
  }

  /** The key of the instance replica `replica` of `name` holds now. */
  key(name: string, replica = 0): number {
    const key = instanceKey(this.#child(name).slots[replica].phase);
    if (key === null) throw new Error(`${name}#${replica} has no instance`);
    return key;
  }

  /** Instance of `name` (replica `replica`) ends on its own. */
  exit(name: string, reason: ExitReason = crash, replica = 0): void {
    const key = this.key(name, replica);
    this.instances.get(key)!.status = "exited";
    this.send({ type: "exited", key, reason });
  }

  /** The events of one type, as `container` or `instance` strings. */
  seen(type: SupervisorEvent["type"], field: "container" | "instance" = "instance"): string[] {
    return this.events.filter((e) => e.type === type).map((e) =>
      String((e as Record<string, unknown>)[field])
    );
  }

  /** Effects of one kind, in order. */
  of<K extends Effect<ChildSpec>["kind"]>(kind: K): Extract<Effect<ChildSpec>, { kind: K }>[] {
    return this.effects.filter((e) => e.kind === kind) as Extract<Effect<ChildSpec>, { kind: K }>[];
  }

  /**
   * Moves the clock by `ms`, firing the timers due on the way, in order. A machine that keeps
   * arming timers due within the window (a zero-delay loop) fails after 10,000 firings.
   */
  advance(ms: number): void {
    const end = this.now + ms;
    for (let fired = 0;; fired++) {
      const due = [...this.timers].filter(([, at]) => at <= end).sort((a, b) => a[1] - b[1])[0];
      if (!due) break;
      if (fired === 10_000) throw new Error(`10,000 timers fired within ${ms} ms: a timer loop`);
      this.timers.delete(due[0]);
      this.now = Math.max(this.now, due[1]);
      this.send({ type: "timer", id: due[0] });
    }
    this.now = end;
  }

  /** Fires every pending timer (but the heartbeat), for at most `rounds` rounds. */
  settle(rounds = 100): void {
    for (let i = 0; i < rounds; i++) {
      const beat = this.state.heartbeat?.timer;
      const due = [...this.timers].filter(([id]) => id !== beat).sort((a, b) => a[1] - b[1])[0];
      if (!due) return;
      this.advance(Math.max(0, due[1] - this.now));
    }
    throw new Error(`timers still pending after ${rounds} rounds`);
  }

  /** Answers a start by hand. */
  started(key: number): void {
    this.instances.get(key)!.status = "running";
    this.send({ type: "started", key });
  }

  /** Fails a start by hand. */
  startFails(key: number, error: unknown = new Error("no start")): void {
    this.instances.get(key)!.status = "exited";
    this.send({ type: "start_failed", key, error });
  }

  /** Ends a stop by hand: the instance exits (as asked) and is gone. */
  stopped(key: number): void {
    const instance = this.instances.get(key)!;
    if (instance.status !== "exited") {
      instance.status = "exited";
      this.send({ type: "exited", key, reason: { kind: "stopped", message: "stop requested" } });
    }
    instance.stop = undefined;
    this.send({ type: "stopped", key, done: true });
  }

  /** Keys of instances asked to stop and not yet gone. */
  stopping(): number[] {
    return [...this.instances.values()].filter((i) => i.stop).map((i) => i.key);
  }

  /** Keys of instances started and not yet answered. */
  starting(): number[] {
    return [...this.instances.values()].filter((i) => i.status === "starting").map((i) => i.key);
  }

  #child(name: string) {
    const found = this.state.children.find((c) => c.spec.name === name);
    if (!found) throw new Error(`no child ${name}`);
    return found;
  }

  #answer(effect: Effect<ChildSpec>): void {
    this.effects.push(effect);
    switch (effect.kind) {
      case "start": {
        const instance: FakeInstance = {
          key: effect.key,
          name: effect.spec.name,
          id: effect.instance,
          status: "starting",
          silentFor: 0,
        };
        this.instances.set(effect.key, instance);
        if (!this.auto.start) return;
        const failures = this.failing.get(effect.spec.name) ?? 0;
        if (failures > 0) {
          this.failing.set(effect.spec.name, failures - 1);
          instance.status = "exited";
          this.#queue.push({
            type: "start_failed",
            key: effect.key,
            error: new Error(`${effect.instance} cannot start`),
          });
        } else {
          instance.status = "running";
          this.#queue.push({ type: "started", key: effect.key });
        }
        return;
      }
      case "stop": {
        const instance = this.instances.get(effect.key)!;
        instance.stop = effect.mode;
        if (effect.mode === "kill") return this.#kill(instance, effect.reason);
        if (this.stubborn.has(instance.name)) {
          if (effect.mode === "graceful") {
            instance.stop = undefined;
            this.#queue.push({ type: "stopped", key: effect.key, done: false });
          } else if (this.auto.stop) this.#kill(instance, { kind: "killed", message: "killed" });
          return;
        }
        if (this.auto.stop) this.#gone(instance, effect.reason);
        return;
      }
      case "kill":
        return this.#kill(this.instances.get(effect.key)!, effect.reason);
      case "release":
        if (this.auto.release) this.#queue.push({ type: "released", key: effect.key });
        return;
      case "ping": {
        const readings = effect.keys.map((key) => ({
          key,
          silentFor: this.instances.get(key)?.silentFor ?? 0,
        }));
        this.#queue.push({ type: "silence", readings });
        return;
      }
      case "set_timer":
        this.timers.set(effect.id, this.now + effect.delay);
        return;
      case "clear_timer":
        this.timers.delete(effect.id);
        return;
      case "emit":
        this.events.push(effect.event);
        return;
      case "log":
        this.logs.push({ level: effect.level, message: effect.message });
        return;
      case "give_up":
        this.gaveUp.push(effect);
        return;
      case "reply":
        this.replies.set(effect.op, effect.failure);
        return;
      case "running":
      case "changed":
        return;
    }
  }

  /** The instance ends now: its exit is reported, and a stop waiting for it ends. */
  #kill(instance: FakeInstance, reason: ExitReason): void {
    if (instance.status !== "exited") {
      instance.status = "exited";
      this.#queue.push({ type: "exited", key: instance.key, reason });
    }
    if (instance.stop) {
      instance.stop = undefined;
      this.#queue.push({ type: "stopped", key: instance.key, done: true });
    }
  }

  /** A graceful stop that went well: it exits as asked, then is gone. */
  #gone(instance: FakeInstance, reason: ExitReason): void {
    if (instance.status !== "exited") {
      instance.status = "exited";
      this.#queue.push({ type: "exited", key: instance.key, reason });
    }
    instance.stop = undefined;
    this.#queue.push({ type: "stopped", key: instance.key, done: true });
  }
}
