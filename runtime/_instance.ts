/**
 * One running incarnation of a container, inside whatever node hosts it: runs the factory, is the
 * factory's {@linkcode Context}, dispatches messages to handlers, and fails or stops as a unit.
 *
 * @module
 */
import {
  type Envelope,
  type ExitReason,
  LOG_LEVEL_RANK,
  type LogLevel,
} from "../protocol/envelope.ts";
import {
  errorToWire,
  TopologyError,
  UnknownTopicError,
  type WireError,
} from "../protocol/errors.ts";
import { copyWireValue } from "../protocol/wire_value.ts";
import { type ErrorRule, verdictFor } from "../supervisor/error_rules.ts";
import {
  type ContainerDefinition,
  type ContainerRef,
  type Context,
  isContainerDefinition,
  type Logger,
  type MessageMeta,
  type RequestOptions,
  type SendOptions,
} from "./container.ts";
import type { HostedInstance, Node } from "./_node.ts";
import type { ContainerInput } from "../config/topology.ts";
import type { SpawnOptions, StopMode } from "./container.ts";
import { settlesWithin } from "./_timing.ts";
import { MetricsRecorder } from "./_metrics.ts";
import { TopicSampler } from "./_topic_metrics.ts";
import { OwnedTimers } from "./_timers.ts";
import { RetriedRequests } from "./_dedupe.ts";
import type { Throttle } from "../transports/_accept.ts";
import type { Listener } from "./_serve.ts";
import { CLOSE_GRACE_MS, RESERVED, type ServingEntry, servingEntry } from "./_serving_entry.ts";
import type { ServeSpec } from "../config/topology.ts";
import {
  activeTraceId,
  inServerSpan,
  type ServerSite,
  tracedFetch,
  tracingOn,
} from "./_tracing.ts";
import { isEntitiesDefinition } from "./entities.ts";
// Loaded by the instances that need them (serve:, entities()): the others start without that code.
import type { EntityHost, EntityOverrides } from "./_entity_host.ts";
import { ownerIndex } from "../protocol/entity_owner.ts";
import { SenderEntityRef } from "./_node_ref.ts";
import type { EntityRef } from "./container.ts";

/** Who this instance is. */
export interface InstanceSettings {
  /** Container name. */
  name: string;
  /** Instance id, `name#replica.incarnation`. */
  instance: string;
  /** The `config:` block. */
  config: Record<string, unknown>;
  /** Graceful stop timeout, ms. */
  shutdown: number;
  /** Lowest level logged. */
  logLevel: LogLevel | "silent";
  /** `on_error` rules (the built-in ones apply after them). */
  onError?: readonly ErrorRule[];
  /** Where it listens, when it serves (port 0 already resolved by the runtime). */
  serve?: ServeSpec;
  /** The topology's `entities:` block (for a container made by `entities()`). */
  entities?: EntityOverrides;
}

/** What `ctx.spawn` and `ctx.stop` act on: the supervisor of this instance's children. */
export interface ChildManager {
  /** Validates a hand-written spec (module, grant, unique name) and starts the child. */
  spawn(name: string, input: ContainerInput, options?: SpawnOptions): Promise<void>;
  /** Stops and removes a child. */
  stop(name: string, mode?: StopMode): Promise<void>;
}

/** What the instance tells its owner. */
export interface InstanceEvents {
  /** The instance ended (failed or was asked to stop); cleanup now runs. */
  exit(reason: ExitReason): void;
  /** Cleanup finished. */
  stopped(): void;
}

type Handler = (body: unknown, meta: MessageMeta) => unknown;
/** A topic's handler and the sampler that times it. */
type TopicHandler = { fn: Handler; time: TopicSampler };

/** Formats log arguments the way `console` would. */
export function formatLog(message: string, data: unknown[]): string {
  if (data.length === 0) return message;
  return [message, ...data.map((d) => typeof d === "string" ? d : Deno.inspect(d))].join(" ");
}

/** A running container incarnation. */
export class ContainerInstance implements Context, HostedInstance {
  readonly name: string;
  readonly instance: string;
  readonly config: Readonly<Record<string, unknown>>;
  readonly log: Logger;
  readonly #node: Node;
  readonly #settings: InstanceSettings;
  readonly #events: InstanceEvents;
  readonly #manager: ChildManager | null;
  readonly #abort = new AbortController();
  readonly #stopHooks: ((reason: ExitReason) => unknown)[] = [];
  readonly #unsubscribes = new Set<() => void>();
  readonly #timers = new OwnedTimers((callback) => this.#tick(callback));
  /** Timer callbacks that came due while the factory was still running. */
  #due: (() => unknown)[] = [];
  /** Whether a message sent after the end was already reported (once is enough). */
  #reportedLate = false;
  /** Retried requests seen, with their replies (bounded by count and bytes). */
  readonly #seen = new RetriedRequests();
  /** Handlers by topic, each with the sampler of its handler time. */
  #handlers = new Map<string, TopicHandler>();
  /** Timer callbacks are timed for the recent window, not counted under a topic. */
  readonly #timerTime = new TopicSampler();
  #state: "starting" | "running" | "stopping" | "stopped" = "starting";
  /** What it counts; its `inflight` is also what a graceful stop waits for. */
  readonly metrics: MetricsRecorder = new MetricsRecorder();
  /** Who waits for the handlers in flight to finish. */
  #drained: (() => void) | null = null;
  #ended: Promise<void> | null = null;
  /** Its listener, when it serves (`serve:`). */
  #listener: Listener | null = null;
  #serveErrors: Throttle<string> | null = null;
  /** Its entities, when its module was made by `entities()`. */
  #entities: EntityHost | null = null;
  /** The entity host's "not delivered" error class, once its module is loaded. */
  #undelivered: (new (...args: never[]) => Error) | null = null;

  /**
   * @param node The node hosting it.
   * @param settings Who it is.
   * @param events Where exits are reported.
   */
  constructor(
    node: Node,
    settings: InstanceSettings,
    events: InstanceEvents,
    manager: ChildManager | null = null,
  ) {
    this.#manager = manager;
    this.#node = node;
    this.#settings = settings;
    this.#events = events;
    this.name = settings.name;
    this.instance = settings.instance;
    this.config = Object.freeze({ ...settings.config });
    const min = LOG_LEVEL_RANK[settings.logLevel];
    const at = (level: LogLevel) => (message: string, ...data: unknown[]) => {
      if (LOG_LEVEL_RANK[level] >= min) {
        // The trace id of the span it was logged in (tracing on), so the line joins its trace.
        node.log(level, formatLog(String(message), data), this.instance, activeTraceId());
      }
    };
    this.log = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  }

  /** `starting`, `running`, `stopping` or `stopped`. */
  get state(): string {
    return this.#state;
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /**
   * Runs the factory of `definition` and starts taking messages.
   * @returns The topics it handles.
   * @throws {TypeError} When `definition` was not made by `container()` or returns no handler map.
   */
  async start(definition: unknown, moduleName: string): Promise<string[]> {
    if (!isContainerDefinition(definition)) {
      throw new TopologyError(
        `module ${moduleName} has no container() default export (its default export is ${
          definition === undefined ? "missing" : typeof definition
        })`,
        { key: `containers.${this.name}.module` },
      );
    }
    if (isEntitiesDefinition(definition)) {
      const { EntityHost, Undelivered } = await import("./_entity_host.ts");
      this.#undelivered = Undelivered;
      const metrics = this.metrics;
      const host = new EntityHost(
        this,
        definition.entities,
        this.#settings.entities,
        {
          version: () => this.#node.routes,
          owns: (id) => this.#ownerOf(id) === this.instance,
        },
        Date.now,
        {
          of: (topic) => metrics.topics.of("h", topic),
          record: (ms) => metrics.record(ms),
        },
      );
      this.#entities = host;
      this.metrics.activeEntities = () => host.count;
      if (this.#state !== "starting") return [];
      this.#state = "running";
      this.#node.host(this.instance, this);
      return [];
    }
    const handlers = await (definition as ContainerDefinition).factory(this);
    if (typeof handlers !== "object" || handlers === null) {
      throw new TypeError(
        `the factory of container "${this.name}" returned ${
          handlers === null ? "null" : typeof handlers
        }, not a handler map`,
      );
    }
    const entry = servingEntry(handlers);
    if (entry.fetch && tracingOn()) entry.fetch = tracedFetch(this.#traceSite(), entry.fetch);
    if (entry.topics) {
      for (const [topic, fn] of Object.entries(handlers)) {
        if (typeof fn === "function" && !RESERVED.has(topic)) {
          this.#handlers.set(topic, {
            fn: fn as Handler,
            time: this.metrics.topics.of("h", topic),
          });
        }
      }
    }
    if (this.#state !== "starting") return [];
    if (this.#settings.serve) await this.#listen(this.#settings.serve, entry);
    if (this.#state !== "starting") {
      await this.#listener?.close();
      this.#serveErrors?.close();
      return [];
    }
    this.#state = "running";
    this.#node.host(this.instance, this);
    if (this.#due.length > 0) this.#timers.setTimeout(() => this.#runDue(), 0);
    return [...this.#handlers.keys()];
  }

  /** Listens where `serve:` says; a request's error is answered and logged, never a crash. */
  async #listen(spec: ServeSpec, entry: ServingEntry): Promise<void> {
    // Loaded with the listener: an instance that does not serve never loads either.
    const [{ Listener }, { Throttle }] = await Promise.all([
      import("./_serve.ts"),
      import("../transports/_accept.ts"),
    ]);
    // Clients choose how often a handler throws: at most one line a second, with a count.
    const errors = new Throttle<string>((line, more) =>
      this.log.warn(more > 0 ? `${line} (and ${more} more handler errors)` : line)
    );
    this.#serveErrors = errors;
    this.#listener = await Listener.open(spec, entry, {
      error: (what, error) => {
        this.metrics.errors++;
        errors.note(
          `${what} threw: ${error instanceof Error ? `${error.name}: ${error.message}` : error}`,
        );
      },
      answered: () => this.metrics.requests++,
    }, this.name);
  }

  /** Where it listens, once it does (port 0 resolved). */
  get listening(): { hostname: string; port: number } | null {
    return this.#listener?.addr ?? null;
  }

  // ---- Context -------------------------------------------------------------------------------

  ref<D extends ContainerDefinition = ContainerDefinition>(name: string): ContainerRef<D> {
    return new CountingRef(this.#node, name, this) as unknown as ContainerRef<D>;
  }

  publish(topic: string, body?: unknown): void {
    if (this.late(`ctx.publish("${topic}")`)) return;
    this.#node.publish(topic, body);
    this.metrics.messagesOut++;
  }

  /**
   * Whether this incarnation has stopped, so `what` (a publication or send, e.g. from a global
   * timer it left behind in the host) must be dropped; says so once.
   */
  late(what: string): boolean {
    if (this.#state !== "stopped") return false;
    if (!this.#reportedLate) {
      this.#reportedLate = true;
      this.#node.log(
        "warn",
        `${what} after ${this.instance} stopped was dropped (and any such message from it from now on): a timer or callback outlived its incarnation; use ctx.setInterval / ctx.setTimeout, which end with it`,
        this.instance,
      );
    }
    return true;
  }

  setInterval(callback: () => unknown, ms: number): () => void {
    return this.#timers.setInterval(callback, ms);
  }

  setTimeout(callback: () => unknown, ms: number): () => void {
    return this.#timers.setTimeout(callback, ms);
  }

  /** Timers this incarnation still owns. */
  get timers(): number {
    return this.#timers.size;
  }

  /** A timer came due: its callback runs like a handler, while the instance runs. */
  #tick(callback: () => unknown): void {
    if (this.#state === "running") return this.#run(callback, null, this.#timerTime);
    if (this.#state === "starting" && !this.#due.includes(callback)) this.#due.push(callback);
  }

  #runDue(): void {
    const due = this.#due;
    this.#due = [];
    for (const callback of due) this.#tick(callback);
  }

  subscribe(topic: string, listener: (body: unknown, meta: MessageMeta) => unknown): () => void {
    const time = this.metrics.topics.of("s", topic);
    const guarded = (body: unknown, meta: MessageMeta) => {
      if (this.#state !== "running") return;
      this.metrics.messagesIn++;
      this.#run(() => listener(body, meta), null, time);
    };
    const unsubscribe = this.#node.subscribe(topic, guarded);
    this.#unsubscribes.add(unsubscribe);
    return () => {
      this.#unsubscribes.delete(unsubscribe);
      unsubscribe();
    };
  }

  onStop(hook: (reason: ExitReason) => unknown): void {
    this.#stopHooks.push(hook);
  }

  async spawn(name: string, spec: ContainerInput, options?: SpawnOptions): Promise<void> {
    if (!this.#manager) throw new Error(`container "${this.name}" cannot spawn children here`);
    if (this.#state !== "running" && this.#state !== "starting") {
      throw new Error(`instance ${this.instance} is ${this.#state}: it cannot spawn children`);
    }
    await this.#manager.spawn(name, spec, options);
  }

  async stop(name: string, options: { mode?: StopMode } = {}): Promise<void> {
    if (!this.#manager) throw new Error(`container "${this.name}" has no children here`);
    await this.#manager.stop(name, options.mode);
  }

  // ---- messages ------------------------------------------------------------------------------

  receive(env: Extract<Envelope, { k: "req" | "send" }>): void {
    this.metrics.messagesIn++;
    if (this.#state !== "running") {
      if (env.k === "req") {
        this.#node.replyError(env, {
          name: "UnavailableError",
          message: `instance ${this.instance} is ${this.#state}`,
          kind: "unavailable",
          undelivered: true,
        });
      }
      return;
    }
    if (this.#entities) return this.#receiveEntity(this.#entities, env);
    if (env.e !== undefined) {
      // Meant for an entity, and this container hosts none: its handlers must not take it as
      // their own (a schedule's `entity:` or a ref's `.entity(id)` naming the wrong container).
      if (env.k === "req") {
        const error = new TypeError(
          `container "${this.name}" hosts no entities (it is not made by entities()): a message for entity ${
            JSON.stringify(env.e)
          } cannot be delivered; address the container itself with ref("${this.name}")`,
        );
        this.#node.replyError(env, errorToWire(error, this.name));
      }
      return;
    }
    const handler = this.#handlers.get(env.t);
    if (!handler) {
      if (env.k === "req") {
        this.#node.replyError(
          env,
          errorToWire(
            new UnknownTopicError(this.name, env.t, [...this.#handlers.keys()]),
            this.name,
          ),
        );
      }
      return;
    }
    if (env.k === "send") {
      if (tracingOn()) return this.#runTraced(handler, env);
      this.#run(() => handler.fn(env.b, { topic: env.t, kind: "send" }), null, handler.time);
      return;
    }
    if (env.r && this.#answeredBefore(env)) return;
    // Apart, so the untraced path allocates what it did before tracing existed (measured: a
    // shared closure context here made every inline round trip ~1.5x slower).
    if (tracingOn()) return this.#runTraced(handler, env);
    if (env.tk !== undefined) return this.#runTick(handler, env);
    this.#run(() => handler.fn(env.b, { topic: env.t, kind: "request" }), env, handler.time);
  }

  /**
   * A retried request seen before: its stored reply (if it has one yet) is sent again, and the
   * handler is not run twice. Sent like any reply, toward the requester's node (through the hub
   * and over any peer link or NATS): the first one may have been lost on that very way.
   */
  #answeredBefore(env: Extract<Envelope, { k: "req" }>): boolean {
    if (this.#seen.first(env.s, env.i)) return false;
    const stored = this.#seen.reply(env.s, env.i);
    if (stored?.k === "res") this.#node.reply(env, stored.b);
    else if (stored?.k === "err") this.#node.replyError(env, stored.e);
    return true;
  }

  /** A request's (or a send's) handler run inside its server (consumer) span (tracing on). */
  #runTraced(handler: TopicHandler, env: Extract<Envelope, { k: "req" | "send" }>): void {
    const kind: "request" | "send" = env.k === "req" ? "request" : "send";
    const tick = env.k === "req" ? tickOf(env) : undefined;
    const meta = tick === undefined ? { topic: env.t, kind } : { topic: env.t, kind, tick };
    const call = () => handler.fn(env.b, meta);
    this.#run(
      () => inServerSpan(this.#traceSite(), env, call),
      env.k === "req" ? env : null,
      handler.time,
    );
  }

  /** A schedule's tick: the handler sees its id as `meta.tick` (see {@linkcode tickOf}). */
  #runTick(handler: TopicHandler, env: Extract<Envelope, { k: "req" }>): void {
    const tick = tickOf(env);
    const meta = tick === undefined
      ? { topic: env.t, kind: "request" as const }
      : { topic: env.t, kind: "request" as const, tick };
    this.#run(() => handler.fn(env.b, meta), env, handler.time);
  }

  #traceSite(): ServerSite {
    return { container: this.name, instance: this.instance, node: this.#node.id };
  }

  /** Entities active in this instance (0 for a plain container). */
  get entities(): number {
    return this.#entities?.count ?? 0;
  }

  /**
   * A message for an entity: checked to be this replica's (the sender's table may be a moment
   * old), deduplicated when retried, then queued in the entity's mailbox. Its outcome is answered
   * here; an entity's failure does not fail the instance (`_entity_host.ts` says why).
   */
  #receiveEntity(host: EntityHost, env: Extract<Envelope, { k: "req" | "send" }>): void {
    const id = env.e;
    if (id === undefined) {
      if (env.k === "req") {
        const error = new TypeError(
          `container "${this.name}" hosts entities: address one with ref("${this.name}").entity(id)`,
        );
        this.#node.replyError(env, errorToWire(error, this.name));
      }
      return;
    }
    const owner = this.#ownerOf(id);
    if (owner !== this.instance) {
      if (env.k === "send") {
        // Passed on to the owner this node sees (the sender's table was older or newer); a
        // send that cannot go anywhere now is dropped, as any send to a container gone.
        try {
          this.#node.send(this.name, env.t, env.b, {}, id);
        } catch (error) {
          this.log.debug(`a send to entity "${id}" dropped: ${(error as Error).message}`);
        }
        return;
      }
      return this.#node.replyError(env, {
        name: "UnavailableError",
        message: `entity "${id}" of "${this.name}" is owned by ${owner}, not ${this.instance}`,
        kind: "unavailable",
        undelivered: true,
      });
    }
    if (env.k === "req" && env.r && this.#answeredBefore(env)) return;
    // Handler time is taken by the host, around the handler's own run (not its mailbox wait).
    const metrics = this.metrics;
    metrics.inflight++;
    const request = env.k === "req" ? env : null;
    host.deliver(id, env.t, env.b, env.k === "req" ? "request" : "send", (ok, value) => {
      this.#entityDone(request, ok, value);
      if (--metrics.inflight === 0) this.#drained?.();
    }, request === null ? undefined : tickOf(request));
  }

  /**
   * The owner of entity `id` by this node's table, or this instance when the table does not list
   * it yet (just started: the sender's newer table chose it).
   */
  #ownerOf(id: string): string {
    const instances = this.#node.routes[this.name]?.instances;
    // One replica (or none listed) leaves nothing to check: this one is the owner.
    if (!instances || instances.length <= 1) return this.instance;
    let listed = false;
    for (const inst of instances) if (inst.i === this.instance) listed = true;
    return listed ? instances[ownerIndex(id, instances)].i : this.instance;
  }

  #entityDone(request: Extract<Envelope, { k: "req" }> | null, ok: boolean, value: unknown): void {
    let wire: WireError | null = null;
    let body: unknown;
    if (ok) {
      try {
        body = copyWireValue(value, "reply");
      } catch (error) {
        wire = errorToWire(error, this.name);
      }
    } else if (this.#undelivered && value instanceof this.#undelivered) {
      wire = { name: "UnavailableError", message: value.message, kind: "unavailable" };
      wire.undelivered = true;
      if (request) this.#node.replyError(request, wire);
      return;
    } else wire = errorToWire(value, this.name);
    if (wire) this.metrics.errors++;
    if (!request) return;
    this.metrics.requests++;
    if (request.r) {
      this.#remember(
        request,
        wire
          ? { k: "err", i: request.i, d: request.s, f: request.to, e: wire }
          : { k: "res", i: request.i, d: request.s, f: request.to, b: body },
      );
    }
    if (wire) this.#node.replyError(request, wire);
    else this.#node.reply(request, body);
  }

  #run(
    call: () => unknown,
    request: Extract<Envelope, { k: "req" }> | null,
    time: TopicSampler,
  ): void {
    // Is this run timed? Then `runs` is how many runs it stands for (0: not timed).
    const runs = --time.skip > 0 ? 0 : time.take();
    const t0 = runs > 0 ? performance.now() : 0;
    let result: unknown;
    try {
      result = call();
    } catch (error) {
      if (runs > 0) this.#timed(time, t0, runs);
      return this.#failed(error, request);
    }
    if (result instanceof Promise) return this.#settle(result, request, time, t0, runs);
    if (runs > 0) this.#timed(time, t0, runs);
    this.#succeeded(result, request);
  }

  /** A timed run ended: its topic's histogram and the container's recent window take it. */
  #timed(time: TopicSampler, t0: number, runs: number): void {
    const ms = performance.now() - t0;
    time.record(ms, runs);
    this.metrics.record(ms);
  }

  /** An async handler's outcome (its closures live here: #run, the sync path, allocates none). */
  #settle(
    result: Promise<unknown>,
    request: Extract<Envelope, { k: "req" }> | null,
    time: TopicSampler,
    t0: number,
    runs: number,
  ): void {
    const metrics = this.metrics;
    metrics.inflight++;
    result.then(
      (value) => {
        if (runs > 0) this.#timed(time, t0, runs);
        this.#succeeded(value, request);
      },
      (error) => {
        if (runs > 0) this.#timed(time, t0, runs);
        this.#failed(error, request);
      },
    ).finally(() => {
      if (--metrics.inflight === 0) this.#drained?.();
    });
  }

  #succeeded(value: unknown, request: Extract<Envelope, { k: "req" }> | null): void {
    if (!request) return;
    let body: unknown;
    try {
      body = copyWireValue(value, "reply");
    } catch (error) {
      return this.#failed(error, request);
    }
    this.metrics.requests++;
    if (request.r) {
      this.#remember(request, {
        k: "res",
        i: request.i,
        d: request.s,
        f: request.to,
        b: body,
      });
    }
    this.#node.reply(request, body);
  }

  #failed(error: unknown, request: Extract<Envelope, { k: "req" }> | null): void {
    // Counted before the reply and the failure go out: the exit report carries these figures.
    this.metrics.errors++;
    if (request) {
      this.metrics.requests++;
      const wire: WireError = errorToWire(error, this.name);
      if (request.r) {
        this.#remember(request, {
          k: "err",
          i: request.i,
          d: request.s,
          f: request.to,
          e: wire,
        });
      }
      this.#node.replyError(request, wire);
    }
    this.fail(error);
  }

  #remember(
    request: { s: string; i: number },
    reply: Extract<Envelope, { k: "res" | "err" }>,
  ): void {
    this.#seen.answered(request.s, request.i, reply);
  }

  // ---- ending --------------------------------------------------------------------------------

  /**
   * Fails the instance, as its `on_error` rules say: `resume` keeps it running (the failed
   * message is already answered), anything else ends it with reason `error` and the verdict, for
   * its supervisor to act on.
   */
  fail(error: unknown): void {
    if (this.#state === "stopping" || this.#state === "stopped") return;
    const wire = errorToWire(error, this.name);
    const verdict = verdictFor(this.#settings.onError ?? [], wire.classes ?? []);
    if (verdict.log) {
      this.#node.log(
        "error",
        `on_error ${verdict.action}: ${wire.name}: ${wire.message}${
          wire.stack ? `\n${wire.stack.split("\n").slice(1).join("\n")}` : ""
        }`,
        this.instance,
      );
    }
    if (verdict.action === "resume" && this.#state === "running") return;
    const reason: ExitReason = {
      kind: "error",
      message: `${wire.name}: ${wire.message}`,
      error: wire,
    };
    if (verdict.action === "stop" || verdict.action === "escalate") reason.action = verdict.action;
    this.end(reason);
  }

  /** Fails the instance because the supervisor of its children gave up (no rule applies). */
  escalated(error: Error): void {
    if (this.#state === "stopping" || this.#state === "stopped") return;
    const wire = errorToWire(error, this.name);
    this.end({ kind: "error", message: `${wire.name}: ${wire.message}`, error: wire });
  }

  /**
   * Ends the instance for `reason`: stops taking messages, aborts `signal`, runs `onStop` hooks
   * within the shutdown timeout.
   * @returns Resolves when cleanup is over (the same promise on every call).
   */
  end(reason: ExitReason): Promise<void> {
    if (this.#ended) return this.#ended;
    this.#state = "stopping";
    this.#node.unhost(this.instance);
    // Its timers end with it, before anything else can tick.
    this.#timers.end();
    this.#due = [];
    // Set before the exit is reported: whoever reacts to it by calling end() again gets this
    // same cleanup, not a second one.
    let begin!: () => void;
    this.#ended = new Promise<void>((resolve) => (begin = resolve)).then(() =>
      this.#cleanup(reason)
    );
    this.#events.exit(reason);
    begin();
    return this.#ended;
  }

  async #cleanup(reason: ExitReason): Promise<void> {
    for (const unsubscribe of this.#unsubscribes) unsubscribe();
    this.#unsubscribes.clear();
    // Stop accepting first (new connections go to the other replicas), then abort the signal so
    // WebSocket and TCP handlers close theirs; in-flight HTTP requests finish within `shutdown:`.
    const listener = this.#listener;
    // What is still open near the end of `shutdown:` is closed (a WebSocket with 1001) while the
    // isolate still runs, so the close frames go out before its parent may end it.
    const shutdown = this.#settings.shutdown;
    const served = listener
      ? settlesWithin(listener.drain(), Math.max(shutdown - CLOSE_GRACE_MS, shutdown / 2))
        .then(() => listener.close())
      : Promise.resolve();
    this.#abort.abort(reason.message);
    const hooks = (async () => {
      for (const hook of this.#stopHooks.toReversed()) {
        try {
          await hook(reason);
        } catch (error) {
          this.log.warn(
            `onStop hook threw: ${error instanceof Error ? error.message : String(error)}`,
          );
        }
      }
    })();
    // Graceful means in-flight handlers finish and answer too, all within `shutdown:`.
    const drained = this.metrics.inflight === 0
      ? Promise.resolve()
      : new Promise<void>((resolve) => (this.#drained = resolve));
    await settlesWithin(Promise.all([hooks, drained, served]), this.#settings.shutdown);
    await listener?.close();
    this.#serveErrors?.close();
    this.#state = "stopped";
    this.#events.stopped();
  }
}

/**
 * `ctx.ref()`: a reference that sends from this instance's node and counts what it sends as the
 * instance's messages out (what `rt.ref()` sends is nobody's).
 */
class CountingRef implements ContainerRef {
  readonly name: string;
  readonly #node: Node;
  readonly #owner: ContainerInstance;
  constructor(node: Node, name: string, owner: ContainerInstance) {
    this.#node = node;
    this.name = name;
    this.#owner = owner;
  }
  request(topic: string, body?: unknown, options?: RequestOptions): Promise<unknown> {
    let reply: Promise<unknown>;
    try {
      reply = this.#node.request(this.name, topic, body, options);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#owner.metrics.messagesOut++;
    return reply;
  }
  send(topic: string, body?: unknown, options?: SendOptions): void {
    if (this.#owner.late(`a send "${topic}" to "${this.name}"`)) return;
    this.#node.send(this.name, topic, body, options);
    this.#owner.metrics.messagesOut++;
  }
  entity(id: string): EntityRef {
    const node = this.#node;
    const owner = this.#owner;
    return new SenderEntityRef(
      {
        request(name, topic, body, options, entity) {
          const reply = node.request(name, topic, body, options, entity);
          owner.metrics.messagesOut++;
          return reply;
        },
        send(name, topic, body, options, entity) {
          if (owner.late(`a send "${topic}" to entity "${entity}" of "${name}"`)) return;
          node.send(name, topic, body, options, entity);
          owner.metrics.messagesOut++;
        },
      },
      this.name,
      id,
    );
  }
}

/**
 * A request's tick id, believed only from a runtime's hub: this one (`host`) or a peer's
 * (`@peer/host`). The edge already removed `tk` from what a child, a sibling or a peer's non-hub
 * node sent; a sender such as `w2/host` (a name node `w2` may use below itself) is refused here too.
 */
function tickOf(env: Extract<Envelope, { k: "req" }>): string | undefined {
  return env.tk !== undefined && HUB_SENDER.test(env.s) ? env.tk : undefined;
}

/** The sender of a request from a runtime's hub: `host`, or a peer's hub as `@name/host`. */
const HUB_SENDER = /^(?:@[^/]+\/)?host$/;
