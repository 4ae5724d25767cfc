/**
 * Carries out a supervisor's effects: the state machine (`machine.ts`) decides, the runner starts
 * and stops instances through {@linkcode SupervisedInstance}, sets timers on an injected
 * {@linkcode Clock}, and feeds what happened back as inputs, one at a time and in order (a
 * mailbox: an input that arrives while effects run waits its turn). Calls (`add`, `remove`, …)
 * return promises that settle with the machine's `reply`.
 *
 * It holds no decision of its own and asks nothing about modes: what the host must do for an
 * instance (create it, connect it once running) goes through {@linkcode RunnerHost}.
 *
 * @module
 */
import type { LogLevel } from "../protocol/envelope.ts";
import { SupervisorGaveUpError } from "../protocol/errors.ts";
import type { SupervisorEvent } from "./events.ts";
import type { SupervisedInstance } from "./instance.ts";
import { transition } from "./machine.ts";
import type { Effect, Silence, SupervisorInput } from "./messages.ts";
import type { ChildSpec, StopMode, SupervisorSpec } from "./spec.ts";
import { initialState, instanceKey, type SupervisorState } from "./state.ts";

/** Time, as the runner sees it: injected so that tests drive it by hand. */
export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Calls `fire` once after `ms` milliseconds; returns something `clearTimer` takes. */
  setTimer(fire: () => void, ms: number): unknown;
  /** Cancels a timer that has not fired. */
  clearTimer(timer: unknown): void;
}

/** Which instance a start effect asks for. */
export interface Launching {
  /** The runner's key for it. */
  readonly key: number;
  /** `name#replica.incarnation`. */
  readonly instance: string;
  /** The child's id in the state. */
  readonly child: number;
  /** Replica index. */
  readonly replica: number;
  /** Incarnation. */
  readonly incarnation: number;
}

/** What the runner needs from where it runs. */
export interface RunnerHost<S extends ChildSpec, I extends SupervisedInstance> {
  /** Creates an instance of `spec` (the runner starts it). */
  launch(spec: S, launching: Launching): I;
  /** An instance started and takes messages. */
  running?(instance: I): void;
  /** Logs a line of the supervisor's. */
  log(level: LogLevel, message: string): void;
  /** Reports a supervision event. */
  emit(event: SupervisorEvent): void;
  /** Routes or the tree changed (called often: coalesce). */
  changed(): void;
  /** The supervisor gave up; its children are stopped by now. */
  gaveUp(error: SupervisorGaveUpError): void;
}

/** How a runner is made. */
export interface RunnerOptions {
  /** The clock and timers (the runtime passes `performance.now` and `setTimeout`). */
  clock: Clock;
  /** Random numbers in [0, 1), for backoff jitter (the runtime passes `Math.random`). */
  random: () => number;
}

/**
 * A supervisor at work.
 *
 * @example With a hand-driven clock and instances that start at once
 * ```ts
 * import assert from "node:assert/strict";
 * import { SupervisorRunner } from "./runner.ts";
 * import type { SupervisedInstance } from "./instance.ts";
 * const instance = (): SupervisedInstance => {
 *   let markGone = () => {};
 *   return {
 *     onExit: () => {}, start: () => Promise.resolve(), heartbeat: () => 0,
 *     stop: () => (markGone(), Promise.resolve(true)), kill: () => markGone(),
 *     gone: new Promise<void>((resolve) => (markGone = resolve)),
 *   };
 * };
 * const runner = new SupervisorRunner("root", {
 *   strategy: "one_for_one", intensity: 5, period: 10_000, backoff: { min: 20, max: 5_000, jitter: 0 },
 * }, {
 *   launch: () => instance(), log: () => {}, emit: () => {}, changed: () => {}, gaveUp: () => {},
 * }, {
 *   clock: { now: () => 0, setTimer: () => 0, clearTimer: () => {} },
 *   random: () => 0.5,
 * });
 * await runner.add({ name: "api", restart: "permanent", replicas: 2, keepalive: 5_000, mode: "inline" });
 * assert.ok(runner.state.children[0].slots.every((s) => s.phase.state === "running"));
 * await runner.shutdown("bye");
 * assert.equal(runner.state.status, "stopped");
 * ```
 */
export class SupervisorRunner<S extends ChildSpec, I extends SupervisedInstance> {
  #state: SupervisorState<S>;
  readonly #host: RunnerHost<S, I>;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #instances = new Map<number, I>();
  /** Stops a shutdown went on from once they were quiet: their teardowns, awaited at its end. */
  readonly #teardowns = new Set<Promise<unknown>>();
  readonly #timers = new Map<number, unknown>();
  readonly #replies = new Map<number, { resolve: () => void; reject: (error: unknown) => void }>();
  readonly #mailbox: SupervisorInput<S>[] = [];
  #busy = false;
  #nextOp = 1;

  /**
   * Creates a supervisor with no children yet.
   *
   * @param name `root`, or the container whose children these are.
   * @param flags The supervisor's flags.
   * @param host Where it runs.
   * @param options Clock, timers and randomness.
   */
  constructor(
    name: string,
    flags: SupervisorSpec,
    host: RunnerHost<S, I>,
    options: RunnerOptions,
  ) {
    this.#state = initialState(name, flags);
    this.#host = host;
    this.#clock = options.clock;
    this.#random = options.random;
  }

  /** The supervisor's state now. */
  get state(): SupervisorState<S> {
    return this.#state;
  }

  /** The instance with key `key`, while the state names it. */
  instance(key: number | null): I | undefined {
    return key === null ? undefined : this.#instances.get(key);
  }

  /** Adds a child and starts its replicas; rejects with the first that could not start. */
  add(spec: S): Promise<void> {
    return this.#call((op) => ({ type: "add", op, spec }));
  }

  /** Stops every replica of child `name` and removes it. */
  remove(name: string, mode: StopMode): Promise<void> {
    return this.#call((op) => ({ type: "remove", op, name, mode }));
  }

  /** Stops then starts every replica of child `name` again. */
  restart(name: string, mode: StopMode): Promise<void> {
    return this.#call((op) => ({ type: "restart", op, name, mode }));
  }

  /** Changes how many replicas child `name` runs. */
  scale(name: string, replicas: number): Promise<void> {
    return this.#call((op) => ({ type: "scale", op, name, replicas }));
  }

  /**
   * Replaces child `spec.name` without a gap in service, one replica at a time; rejects with the
   * start error of new replica 0 (nothing changed) or a `RolloutError` (it stopped midway).
   * `mode`: how old replicas stop; `restart`: a rolling restart, counted on each replica.
   */
  replace(spec: S, options: { mode?: StopMode; restart?: boolean } = {}): Promise<void> {
    return this.#call((op) => ({ type: "replace", op, spec, ...options }));
  }

  /**
   * Takes a new spec for child `spec.name` (nothing restarts).
   *
   * @throws {RangeError} When there is no such child.
   */
  update(spec: S): void {
    let failure: { error: unknown } | null = null;
    const op = this.#nextOp++;
    this.#replies.set(op, { resolve: () => {}, reject: (error) => (failure = { error }) });
    this.#now({ type: "update", op, spec });
    if (failure) throw (failure as { error: unknown }).error;
  }

  /** New flags from now on. */
  setFlags(flags: SupervisorSpec): void {
    this.#now({ type: "set_flags", flags });
  }

  /** Puts the children in the order of `names`. */
  reorder(names: readonly string[]): void {
    this.#now({ type: "reorder", names });
  }

  /**
   * Stops every child in reverse start order; resolves when all are gone. The next child is
   * stopped once the one before it is quiet (its hooks done, serving no more), not once its
   * isolate is torn down: those teardowns overlap, and are all awaited here.
   */
  async shutdown(message: string): Promise<void> {
    await this.#call((op) => ({ type: "shutdown", op, message }));
    while (this.#teardowns.size > 0) await Promise.all(this.#teardowns);
  }

  #call(input: (op: number) => SupervisorInput<S>): Promise<void> {
    const op = this.#nextOp++;
    const done = new Promise<void>((resolve, reject) => this.#replies.set(op, { resolve, reject }));
    this.#dispatch(input(op));
    return done;
  }

  /** Queues an input; handles the queue unless it is already being handled. */
  #dispatch(input: SupervisorInput<S>): void {
    this.#mailbox.push(input);
    if (this.#busy) return;
    this.#busy = true;
    try {
      while (this.#mailbox.length > 0) this.#step(this.#mailbox.shift()!);
    } finally {
      this.#busy = false;
    }
  }

  /**
   * Handles an input at once, even from inside an effect (a synchronous call made by a listener):
   * only for inputs whose effects need no order with the ones under way.
   */
  #now(input: SupervisorInput<S>): void {
    if (this.#busy) return this.#step(input);
    this.#dispatch(input);
  }

  #step(input: SupervisorInput<S>): void {
    const moment = { now: this.#clock.now(), random: this.#random() };
    const { state, effects } = transition(this.#state, input, moment);
    this.#state = state;
    for (const effect of effects) {
      try {
        this.#run(effect);
      } catch (error) {
        // The state already counts on every effect: one that throws must not stop the others.
        this.#report(effect, error);
      }
    }
    if (input.type === "stopped" || input.type === "released" || input.type === "start_failed") {
      this.#forget(input.key);
    }
  }

  #report(effect: Effect<S>, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    try {
      this.#host.log("error", `supervisor ${this.#state.name}: ${effect.kind} failed: ${message}`);
    } catch {
      // nowhere left to say it
    }
  }

  /** Drops an instance the state no longer names and that is gone. */
  #forget(key: number): void {
    for (const child of [...this.#state.children, ...this.#state.aside]) {
      for (const slot of [...child.slots, ...child.leaving ?? []]) {
        const phase = slot.phase;
        if (instanceKey(phase) === key || (phase.state === "failed" && phase.key === key)) return;
      }
    }
    this.#instances.delete(key);
  }

  #run(effect: Effect<S>): void {
    switch (effect.kind) {
      case "start":
        return this.#start(effect);
      case "stop": {
        const { key, mode, reason } = effect;
        const instance = this.#instances.get(key);
        if (!instance) return this.#dispatch({ type: "stopped", key, done: true });
        let told = false;
        const tell = (done: boolean) => {
          if (told) return;
          told = true;
          this.#dispatch({ type: "stopped", key, done });
        };
        // Shutting down, the next child waits only until this one is quiet (see `shutdown`);
        // a restart still waits until it is gone.
        const quiet = this.#state.status === "stopping" && mode === "graceful-then-kill"
          ? () => tell(true)
          : undefined;
        const stopping = mode === "kill"
          ? (instance.kill(reason), instance.gone.then(() => true))
          : instance.stop(reason, mode === "graceful", quiet);
        if (quiet) {
          const teardown = stopping.catch(() => {});
          this.#teardowns.add(teardown);
          teardown.then(() => this.#teardowns.delete(teardown));
        }
        stopping.then(tell, () => tell(true));
        return;
      }
      case "kill":
        return this.#instances.get(effect.key)?.kill(effect.reason);
      case "release": {
        const { key, reason, ensureGone } = effect;
        const instance = this.#instances.get(key);
        if (ensureGone) instance?.stop(reason).catch(() => {});
        const releasing = instance?.release?.() ?? Promise.resolve();
        releasing.catch(() => {}).then(() => this.#dispatch({ type: "released", key }));
        return;
      }
      case "running": {
        const instance = this.#instances.get(effect.key);
        if (instance) this.#host.running?.(instance);
        return;
      }
      case "ping": {
        const now = this.#clock.now();
        const readings: Silence[] = [];
        for (const key of effect.keys) {
          const instance = this.#instances.get(key);
          if (instance) readings.push({ key, silentFor: instance.heartbeat(now) });
        }
        return this.#dispatch({ type: "silence", readings });
      }
      case "set_timer": {
        const { id, delay } = effect;
        const timer = this.#clock.setTimer(() => {
          this.#timers.delete(id);
          this.#dispatch({ type: "timer", id });
        }, delay);
        this.#timers.set(id, timer);
        return;
      }
      case "clear_timer":
        if (this.#timers.has(effect.id)) this.#clock.clearTimer(this.#timers.get(effect.id));
        this.#timers.delete(effect.id);
        return;
      case "emit":
        return this.#host.emit(effect.event);
      case "log":
        return this.#host.log(effect.level, effect.message);
      case "changed":
        return this.#host.changed();
      case "give_up": {
        const { giveUp, intensity, period } = effect;
        const error = new SupervisorGaveUpError(this.#state.name, intensity, period, giveUp);
        if (effect.done) this.#host.gaveUp(error);
        else this.#host.log("error", error.message);
        return;
      }
      case "reply": {
        const waiter = this.#replies.get(effect.op);
        this.#replies.delete(effect.op);
        if (effect.failure) waiter?.reject(effect.failure.error);
        else waiter?.resolve();
        return;
      }
      default: {
        const never: never = effect;
        throw new TypeError(`unknown supervisor effect ${JSON.stringify(never)}`);
      }
    }
  }

  #start(effect: Extract<Effect<S>, { kind: "start" }>): void {
    const { key } = effect;
    let instance: I;
    let starting: Promise<void>;
    try {
      instance = this.#host.launch(effect.spec, {
        key,
        instance: effect.instance,
        child: effect.child,
        replica: effect.replica,
        incarnation: effect.incarnation,
      });
    } catch (error) {
      return this.#dispatch({ type: "start_failed", key, error });
    }
    this.#instances.set(key, instance);
    instance.onExit = (reason) => this.#dispatch({ type: "exited", key, reason });
    try {
      starting = instance.start();
    } catch (error) {
      starting = Promise.reject(error);
    }
    starting.then(
      () => this.#dispatch({ type: "started", key }),
      (error: unknown) => this.#dispatch({ type: "start_failed", key, error }),
    );
  }
}
