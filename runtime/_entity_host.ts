/**
 * The entities of one container instance: activation on first message, one mailbox per entity
 * (one message at a time, in order; different entities run concurrently), passivation after
 * `idle` (one sweep timer for all of them, comparing each entity's last message with the clock),
 * entity-owned timers, and the store.
 *
 * A handler (or timer callback) that throws answers its caller with the error. By default
 * (`onError: "keep"`) the entity stays active with its state as the handler left it, as an Orleans
 * grain whose call threw does: throwing is how a container answers a bad request, and a shopping
 * cart must not vanish because one `add` lacked a sku. With `onError: "deactivate"` it is dropped
 * without saving, and its next message activates it again from the store. Either way the instance
 * and its other entities go on — one entity's bug is not a reason to drop thousands of others'
 * state. An activation that fails (the store's load, the factory, `onActivate`) fails the messages
 * waiting for it, and the next message tries again.
 *
 * @module
 */
import { UnavailableError, UnknownTopicError } from "../protocol/errors.ts";
import { parseDuration } from "../config/duration.ts";
import type { ContainerDefinition, ContainerRef, Context, Logger } from "./container.ts";
import type {
  EntityContext,
  EntityOnError,
  EntityOptions,
  EntitySpec,
  EntityStore,
} from "./entities.ts";
import { storeFor } from "./_entity_store.ts";
import type { TopicSampler } from "./_topic_metrics.ts";

/** How a message's outcome is reported: `ok` and the reply, or not `ok` and the error. */
export type Done = (ok: boolean, value: unknown) => void;

/** A message refused before any handler ran (the instance is stopping): safe to send elsewhere. */
export class Undelivered extends UnavailableError {}

/** A message for an entity, or one of its timers come due. */
type Job =
  | { topic: string; body: unknown; kind: "request" | "send"; done: Done; tick?: string }
  | { timer: () => unknown };

/** Idle entities compared to find the least recently used one at `max`. */
const EVICTION_WINDOW = 64;

/** Default idle time before passivation. */
export const DEFAULT_IDLE_MS = 5 * 60_000;

/** What the topology may say of a container's entities (overrides the module's options). */
export interface EntityOverrides {
  /** Idle time before passivation, ms. */
  idle?: number;
  /** A built-in store. */
  store?: "none" | "memory" | "file";
  /** The file store's folder. */
  dir?: string;
  /** The most entities active at once in one instance. */
  max?: number;
  /** What a handler that throws does to its entity. */
  onError?: EntityOnError;
}

/**
 * Where handler time goes (the instance's metrics): a sampler per topic, whose timed runs count in
 * `kraken_handler_duration_seconds` and `kraken_handler_seconds_sum`/`_count`, and the recent
 * window of the quantiles. Timed is the handler's own run, not the wait in the mailbox.
 */
export interface HandlerTiming {
  /** The sampler of handler topic `topic`. */
  of(topic: string): TopicSampler;
  /** A timed run took `ms` (the recent window). */
  record(ms: number): void;
}

/**
 * Who owns which id, as this instance's node sees it: `version` changes whenever the routing
 * table does (the table object itself will do), `owns` says whether an id is this instance's.
 */
export interface Ownership {
  /** Changes with the routing table. */
  version(): unknown;
  /** Whether this instance owns entity `id` by the table in force. */
  owns(id: string): boolean;
}

/** An entity's life in this instance. */
type Phase = "loading" | "active" | "busy" | "passivating" | "gone";

type Handler = (
  body: unknown,
  meta: { topic: string; kind: string; entity: string; tick?: string },
) => unknown;

/** One activation of one entity: its context, its mailbox and its timers. */
class Activation implements EntityContext {
  readonly id: string;
  state: unknown = undefined;
  readonly #host: EntityHost;
  handlers: Record<string, unknown> = {};
  readonly queue: Job[] = [];
  phase: Phase = "loading";
  lastUsed: number;
  readonly timers = new Set<() => void>();
  wantsPassivation = false;
  /** The last save under way: saves of one entity reach the store one after another, in order. */
  saving: Promise<void> = Promise.resolve();
  /** `e.forget()` was called (and no `e.save()` since): its passivation deletes, never saves. */
  forgotten = false;
  /** Resolves once it has left the host (passivated, deactivated or failed to activate). */
  readonly ended: Promise<void>;
  end!: () => void;

  constructor(host: EntityHost, id: string, now: number) {
    this.#host = host;
    this.id = id;
    this.lastUsed = now;
    this.ended = new Promise<void>((resolve) => (this.end = resolve));
  }

  get container(): string {
    return this.#host.ctx.name;
  }
  get instance(): string {
    return this.#host.ctx.instance;
  }
  get log(): Logger {
    return this.#host.ctx.log;
  }
  get config(): Readonly<Record<string, unknown>> {
    return this.#host.ctx.config;
  }
  ref<D extends ContainerDefinition = ContainerDefinition>(name: string): ContainerRef<D> {
    return this.#host.ctx.ref<D>(name);
  }
  publish(topic: string, body?: unknown): void {
    this.#host.ctx.publish(topic, body);
  }
  setTimer(callback: () => unknown, ms: number): () => void {
    return this.#timer(callback, ms, false);
  }
  setInterval(callback: () => unknown, ms: number): () => void {
    return this.#timer(callback, ms, true);
  }
  passivate(): void {
    this.wantsPassivation = true;
  }
  save(): Promise<void> {
    return this.#host.save(this);
  }
  forget(): Promise<void> {
    return this.#host.forget(this);
  }

  #timer(callback: () => unknown, ms: number, repeat: boolean): () => void {
    if (typeof callback !== "function") {
      throw new TypeError(`e.${repeat ? "setInterval" : "setTimer"} takes a callback function`);
    }
    if (this.phase === "gone" || this.phase === "passivating") return () => {};
    const due = () => {
      if (!repeat) this.timers.delete(cancel);
      this.#host.enqueue(this, { timer: callback });
    };
    const stop = repeat ? this.#host.ctx.setInterval(due, ms) : this.#host.ctx.setTimeout(due, ms);
    const cancel = () => {
      this.timers.delete(cancel);
      stop();
    };
    this.timers.add(cancel);
    return cancel;
  }
}

/** The entities of one instance. */
export class EntityHost {
  readonly ctx: Context;
  readonly #spec: EntitySpec;
  readonly #options: EntityOptions<unknown>;
  readonly #idle: number;
  readonly #max: number;
  readonly #onError: EntityOnError;
  /** Entities being passivated (still in `#active` until saved). */
  #passivating = 0;
  readonly #store: EntityStore | null;
  readonly #now: () => number;
  /** Active entities, in the order they were activated. */
  readonly #active = new Map<string, Activation>();
  #closing = false;
  readonly #ownership: Ownership | null;
  readonly #timing: HandlerTiming | null;
  #seenVersion: unknown = undefined;

  /**
   * @param ctx The hosting instance.
   * @param spec What `entities()` recorded.
   * @param overrides What the topology says (wins over the module's options).
   * @param ownership Who owns which id (none: this instance owns every id it is sent).
   * @param now The clock (ms).
   * @param timing Where handler time goes (none: not timed).
   * @throws {RangeError} A bad `idle` · {@linkcode TypeError} a bad `store` or `onError` ·
   * `TopologyError` the file store's folder is not granted.
   */
  constructor(
    ctx: Context,
    spec: EntitySpec,
    overrides: EntityOverrides = {},
    ownership: Ownership | null = null,
    now: () => number = Date.now,
    timing: HandlerTiming | null = null,
  ) {
    this.#ownership = ownership;
    this.#timing = timing;
    this.ctx = ctx;
    this.#spec = spec;
    this.#options = spec.options;
    this.#now = now;
    const idle = overrides.idle ?? parseDuration(spec.options.idle ?? DEFAULT_IDLE_MS);
    if (idle === undefined || idle <= 0) {
      throw new RangeError(
        `entities() option idle must be a positive number of ms or a duration like "30s", got ${
          JSON.stringify(spec.options.idle)
        }`,
      );
    }
    this.#idle = idle;
    const max = overrides.max ?? spec.options.max ?? Infinity;
    if (!(max >= 1)) {
      throw new RangeError(
        `entities() option max must be a whole number >= 1, got ${
          JSON.stringify(spec.options.max)
        }`,
      );
    }
    this.#max = max;
    const onError = overrides.onError ?? spec.options.onError ?? "keep";
    if (onError !== "keep" && onError !== "deactivate") {
      throw new TypeError(
        `entities() option onError must be "keep" or "deactivate", got ${
          JSON.stringify(spec.options.onError)
        }`,
      );
    }
    this.#onError = onError;
    this.#store = storeFor(ctx.name, overrides, spec.options);
    // Checked often enough that an entity is passivated within a quarter of `idle` past it.
    ctx.setInterval(() => this.#sweep(), Math.min(1000, Math.max(5, idle / 4)));
    ctx.onStop(() => this.close());
  }

  /** Entities active here now. */
  get count(): number {
    return this.#active.size;
  }

  /** Whether entity `id` is active here. */
  has(id: string): boolean {
    return this.#active.has(id);
  }

  /**
   * Delivers a message to entity `id`, activating it first when it is not active. `tick` is the
   * id of the schedule's tick it carries (checked by the caller to come from a runtime): its
   * handler sees it as `meta.tick`.
   */
  deliver(
    id: string,
    topic: string,
    body: unknown,
    kind: "request" | "send",
    done: Done,
    tick?: string,
  ): void {
    if (this.#closing) {
      return done(false, new Undelivered(`instance ${this.ctx.instance} is stopping`));
    }
    const job: Job = tick === undefined
      ? { topic, body, kind, done }
      : { topic, body, kind, done, tick };
    let a = this.#active.get(id);
    if (a === undefined) {
      if (this.#active.size - this.#passivating >= this.#max) this.#evict();
      a = new Activation(this, id, this.#now());
      this.#active.set(id, a);
      a.queue.push(job);
      this.#activate(a);
      return;
    }
    this.enqueue(a, job);
  }

  /** Queues a job in an activation's mailbox; runs it at once when the entity is idle. */
  enqueue(a: Activation, job: Job): void {
    if (a.phase === "gone") {
      // A timer that fired just as its entity left: nothing to run it on.
      if ("timer" in job) return;
      return this.deliver(a.id, job.topic, job.body, job.kind, job.done, job.tick);
    }
    a.queue.push(job);
    if (a.phase === "active") this.#pump(a);
  }

  /**
   * Saves an activation's state now (`e.save()`), as it is at the call: a copy is taken at once, so
   * the entity may go on changing it while the store writes. Saves of one entity are written one
   * after another, so an older state never lands after a newer one; an entity that has left saves
   * nothing (its next activation, maybe elsewhere, owns the state now).
   */
  save(a: Activation): Promise<void> {
    const store = this.#store;
    if (store === null || a.phase === "gone") return Promise.resolve();
    a.forgotten = false;
    const state = structuredClone(a.state);
    const saved = a.saving.catch(() => {}).then(() => store.save(this.ctx.name, a.id, state));
    a.saving = saved;
    return saved;
  }

  /**
   * Deletes an activation's saved state (`e.forget()`), in order with its saves, and marks it so
   * that its passivation saves nothing. An entity that has left deletes nothing (its next
   * activation owns the state now).
   */
  forget(a: Activation): Promise<void> {
    const store = this.#store;
    if (store === null || a.phase === "gone") return Promise.resolve();
    const remove = store.delete?.bind(store);
    if (remove === undefined) {
      return Promise.reject(
        new TypeError(
          `e.forget(): the entity store of container "${this.ctx.name}" has no delete(); give the store a delete(container, id) method`,
        ),
      );
    }
    a.forgotten = true;
    const deleted = a.saving.catch(() => {}).then(() => remove(this.ctx.name, a.id));
    a.saving = deleted;
    return deleted;
  }

  /** Passivates every entity (the instance is stopping): resolves once all have saved. */
  async close(): Promise<void> {
    this.#closing = true;
    const all = [...this.#active.values()];
    for (const a of all) {
      if (a.phase === "active") this.#passivate(a);
      else a.wantsPassivation = true;
    }
    await Promise.all(all.map((a) => a.ended));
  }

  async #activate(a: Activation): Promise<void> {
    try {
      const saved = this.#store ? await this.#store.load(this.ctx.name, a.id) : undefined;
      a.state = saved !== undefined ? saved : this.#options.initial?.(a.id);
      const handlers = await this.#spec.factory(a);
      if (typeof handlers !== "object" || handlers === null) {
        throw new TypeError(
          `the entity factory of container "${this.ctx.name}" returned ${
            handlers === null ? "null" : typeof handlers
          }, not a handler map`,
        );
      }
      a.handlers = handlers;
      await this.#options.onActivate?.(a);
    } catch (error) {
      return this.#drop(a, error);
    }
    a.phase = "active";
    this.#pump(a);
  }

  /** Runs queued jobs, one at a time, until the mailbox is empty or a job is async. */
  #pump(a: Activation): void {
    while (a.phase === "active" && a.queue.length > 0) {
      if (a.wantsPassivation) return this.#passivate(a);
      const job = a.queue.shift()!;
      // A message keeps its entity active; a timer does not (as in Orleans): an entity left with
      // only a ticking timer is passivated once idle, and its timers end with it.
      if (!("timer" in job)) a.lastUsed = this.#now();
      // Is this run timed? Then `runs` is how many runs it stands for (as a container's handler).
      const time = this.#samplerOf(a, job);
      const runs = time === null || --time.skip > 0 ? 0 : time.take();
      const t0 = runs > 0 ? performance.now() : 0;
      let result: unknown;
      try {
        result = this.#run(a, job);
      } catch (error) {
        if (runs > 0) this.#timed(time!, t0, runs);
        // Kept: on to the next job in this loop (not by recursion: a mailbox of thousands of
        // bad requests must not grow the stack).
        if (this.#crash(a, job, error)) continue;
        return;
      }
      if (result instanceof Promise) {
        a.phase = "busy";
        result.then((value) => {
          if (runs > 0) this.#timed(time!, t0, runs);
          a.phase = "active";
          if (!("timer" in job)) job.done(true, value);
          this.#after(a);
        }, (error) => {
          if (runs > 0) this.#timed(time!, t0, runs);
          if (!this.#crash(a, job, error)) return;
          a.phase = "active";
          this.#after(a);
        });
        return;
      }
      if (runs > 0) this.#timed(time!, t0, runs);
      if (!("timer" in job)) job.done(true, result);
    }
    this.#after(a);
  }

  /** The sampler of a message's handler; none for a timer or a topic the entity lacks. */
  #samplerOf(a: Activation, job: Job): TopicSampler | null {
    if (this.#timing === null || "timer" in job) return null;
    return typeof a.handlers[job.topic] === "function" ? this.#timing.of(job.topic) : null;
  }

  #timed(time: TopicSampler, t0: number, runs: number): void {
    const ms = performance.now() - t0;
    time.record(ms, runs);
    this.#timing!.record(ms);
  }

  #after(a: Activation): void {
    if (a.phase !== "active") return;
    if (a.wantsPassivation) return this.#passivate(a);
    if (a.queue.length > 0) this.#pump(a);
  }

  #run(a: Activation, job: Job): unknown {
    if ("timer" in job) return job.timer();
    const handler = a.handlers[job.topic];
    if (typeof handler !== "function") {
      throw new UnknownTopicError(
        this.ctx.name,
        job.topic,
        Object.keys(a.handlers).filter((k) => typeof a.handlers[k] === "function"),
      );
    }
    const meta = job.tick === undefined
      ? { topic: job.topic, kind: job.kind, entity: a.id }
      : { topic: job.topic, kind: job.kind, entity: a.id, tick: job.tick };
    return (handler as Handler)(job.body, meta);
  }

  /**
   * A job threw: its caller gets the error; the entity stays active as the handler left it, or
   * (`onError: "deactivate"`) is deactivated without saving.
   * @returns Whether the entity was kept (the caller goes on with its mailbox).
   */
  #crash(a: Activation, job: Job, error: unknown): boolean {
    if (!("timer" in job)) job.done(false, error);
    // An unknown topic is the caller's mistake, not the entity's: it stays as it is, whatever
    // onError says.
    if (this.#onError === "keep" || error instanceof UnknownTopicError) {
      // A handler's error is its caller's answer (a bad request): logging each would let any
      // sender flood the log. A timer's has no caller to tell, so it is logged.
      if ("timer" in job) {
        this.ctx.log.warn(`entity "${a.id}": a timer callback threw ${describeError(error)}`);
      }
      return true;
    }
    this.ctx.log.warn(
      `entity "${a.id}" deactivated without saving: ${
        "timer" in job ? "a timer callback" : `handler "${job.topic}"`
      } threw ${describeError(error)}`,
    );
    this.#leave(a);
    this.#redeliver(a);
    return false;
  }

  /** Activation failed: the messages waiting for it fail with the error. */
  #drop(a: Activation, error: unknown): void {
    this.ctx.log.warn(
      `entity "${a.id}" could not be activated: ${describeError(error)}`,
    );
    this.#leave(a);
    for (const job of a.queue.splice(0)) if (!("timer" in job)) job.done(false, error);
  }

  #passivate(a: Activation): void {
    a.phase = "passivating";
    this.#passivating++;
    for (const cancel of [...a.timers]) cancel();
    (async () => {
      try {
        await this.#options.onPassivate?.(a);
        if (a.forgotten) {
          await a.saving; // its delete: a failure is logged below, nothing is saved instead
        } else {
          await a.saving.catch(() => {}); // a checkpoint still being written must not land after
          await this.#store?.save(this.ctx.name, a.id, a.state);
        }
      } catch (error) {
        this.ctx.log.error(
          `entity "${a.id}" passivated, but its state was not saved: ${describeError(error)}`,
        );
      }
      this.#passivating--;
      this.#leave(a);
      this.#redeliver(a);
    })();
  }

  /** Leaves the host: timers cleared, no longer active. */
  #leave(a: Activation): void {
    a.phase = "gone";
    for (const cancel of [...a.timers]) cancel();
    if (this.#active.get(a.id) === a) this.#active.delete(a.id);
    a.end();
  }

  /** Messages that queued behind an entity that left go to its next activation. */
  #redeliver(a: Activation): void {
    for (const job of a.queue.splice(0)) {
      if ("timer" in job) continue;
      this.deliver(a.id, job.topic, job.body, job.kind, job.done, job.tick);
    }
  }

  /**
   * At `max`: the least recently used of the 64 idle entities activated longest ago is passivated
   * to make room. With none idle (all busy), the new one is activated all the same: `max` bounds
   * what sits idle in memory, never a message's progress.
   */
  #evict(): void {
    // Among the idle ones activated longest ago, the least recently used: the order is that of
    // activation (keeping it by use would cost a Map delete and set per message).
    let oldest: Activation | null = null;
    let seen = 0;
    for (const a of this.#active.values()) {
      if (a.phase !== "active" || a.queue.length > 0) continue;
      if (oldest === null || a.lastUsed < oldest.lastUsed) oldest = a;
      if (++seen >= EVICTION_WINDOW) break;
    }
    if (oldest) this.#passivate(oldest);
  }

  #sweep(): void {
    this.#handOff();
    const now = this.#now();
    // Every active entity, each sweep: a comparison each (100,000 take about a millisecond), so a
    // message costs no bookkeeping of the order of use.
    for (const a of this.#active.values()) {
      if (now - a.lastUsed >= this.#idle && a.phase === "active" && a.queue.length === 0) {
        this.#passivate(a);
      }
    }
  }
  /**
   * The routing table changed since the last sweep: entities this instance no longer owns (a
   * replica was added, or this one's table caught up) are passivated now, so their state is saved
   * for the new owner rather than when they would have gone idle. Idle ones only: one with
   * messages queued passivates when they are done (it takes no new ones: the instance refuses
   * what is not its own).
   */
  #handOff(): void {
    const ownership = this.#ownership;
    if (!ownership) return;
    const version = ownership.version();
    if (version === this.#seenVersion) return;
    this.#seenVersion = version;
    for (const a of [...this.#active.values()]) {
      if (ownership.owns(a.id)) continue;
      if (a.phase === "active" && a.queue.length === 0) this.#passivate(a);
      else a.wantsPassivation = true;
    }
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
