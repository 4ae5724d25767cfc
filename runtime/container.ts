/**
 * `container()`: how business logic is written, whatever mode it runs in.
 *
 * A container module's default export is made by {@linkcode container}. Its factory receives a
 * {@linkcode Context} and returns the handler map; the map's type is the container's protocol,
 * so a {@linkcode ContainerRef} typed with the module's default export checks topics, bodies and
 * replies at compile time.
 *
 * @module
 */
import type { ContainerInput } from "../config/topology.ts";
import type { ExitReason } from "../protocol/envelope.ts";

/** What a handler learns about the message besides its body. */
export interface MessageMeta {
  /** The topic the message was sent on. */
  readonly topic: string;
  /** Whether a reply is expected (a request) or not (a send or publication). */
  readonly kind: "request" | "send" | "publish";
  /**
   * On a request a schedule sent: its tick id, the schedule's name and the tick's scheduled time
   * (`cleanup@2026-12-05T00:00:10.000Z`), the same on every retry of that tick. A handler that
   * must never act twice for one tick (its instance may be killed mid-tick and the tick delivered
   * again to the next one) records it with what it does. Only a runtime sets it.
   */
  readonly tick?: string;
  /** The entity the message is for, in a container made by `entities()`. */
  readonly entity?: string;
}

/**
 * A handler map: topic → function of `(body, meta)` returning the reply (or its promise).
 * Parameters are typed `never` here so any concrete body type fits.
 */
export type Handlers = { [topic: string]: (body: never, meta: never) => unknown };

/** Leveled logger tagged with the container's name and instance. */
export interface Logger {
  /** Detail for debugging. */
  debug(message: string, ...data: unknown[]): void;
  /** Normal operation. */
  info(message: string, ...data: unknown[]): void;
  /** Something odd, still working. */
  warn(message: string, ...data: unknown[]): void;
  /** Something failed. */
  error(message: string, ...data: unknown[]): void;
}

/** Options of a request. */
export interface RequestOptions {
  /** Milliseconds to wait for each attempt's reply (default 5000). */
  timeout?: number;
  /**
   * Attempts after the first, on timeout or when the instance went away (default 0). Retries
   * reuse the request id and the receiving instance drops duplicates, so the handler runs once.
   */
  retries?: number;
  /**
   * Milliseconds all attempts together may take, waits for a restarting container included:
   * once passed, the request fails with `TimeoutError` and is sent no more (default: no bound
   * but `timeout` per attempt).
   *
   * @example
   * ```ts ignore
   * await ref.request("slow", {}, { timeout: 1000, retries: 100, totalTimeout: 3000 }); // ≤ 3 s
   * ```
   */
  totalTimeout?: number;
  /** Routing key for `balance: key_hash` (requests with equal keys reach the same replica). */
  key?: string;
  /**
   * While the container is restarting or its runtime is away: `true` (default) waits in the
   * bounded buffer for it to come back; `false` fails at once with `UnavailableError`.
   */
  hold?: boolean;
}

/** Options of a send. */
export interface SendOptions {
  /** Routing key for `balance: key_hash`. */
  key?: string;
  /** As for requests: `false` fails at once instead of waiting for a restarting container. */
  hold?: boolean;
}

/** A container as its module exports it: the factory, typed by its handler map. */
export interface ContainerDefinition<H extends Handlers = Handlers> {
  /** Marks the object as made by `container()`. */
  readonly kind: "kraken.container";
  /** Builds a fresh incarnation's handlers (called again on every restart). */
  readonly factory: (ctx: Context) => H | Promise<H>;
}

/** The handler map of a container definition (its protocol). */
export type ProtocolOf<D> = D extends ContainerDefinition<infer H> ? H : Handlers;
/** `true` for a handler map without known topics (an untyped ref). */
export type IsUntyped<H> = string extends keyof H ? true : false;

/** The topics a container handles. */
export type TopicOf<D extends ContainerDefinition> = keyof ProtocolOf<D> & string;

/** The arguments after the topic: the body (optional when the handler takes none), then options. */
export type BodyArgs<D extends ContainerDefinition, T extends TopicOf<D>, O> = IsUntyped<
  ProtocolOf<D>
> extends true ? [body?: unknown, options?: O]
  : ProtocolOf<D>[T] extends (...args: infer P) => unknown
    ? P extends [] ? [body?: undefined, options?: O]
    : [] extends P ? [body?: P[0], options?: O]
    : [body: P[0], options?: O]
  : never;

/** The reply type of a topic: the handler's return value, awaited. */
export type ReplyOf<D extends ContainerDefinition, T extends TopicOf<D>> = IsUntyped<
  ProtocolOf<D>
> extends true ? unknown
  : ProtocolOf<D>[T] extends (...args: never[]) => infer R ? Awaited<R>
  : never;

/**
 * A handle to a container, by name, wherever it runs. Typed with the container module's default
 * export, it checks topics, bodies and replies.
 *
 * @example Typed request: topics, bodies and replies checked at compile time
 * ```ts
 * import { container, type ContainerRef } from "jsr:@kraken/kraken/container";
 *
 * // In containers/greeter.ts; elsewhere `import type greeter from "./containers/greeter.ts"`.
 * const greeter = container(() => ({
 *   greet: (body: { who: string }) => ({ text: `hello ${body.who}` }),
 * }));
 *
 * async function greetAda(ref: ContainerRef<typeof greeter>): Promise<string> {
 *   const { text } = await ref.request("greet", { who: "ada" }, { timeout: 1000, retries: 2 });
 *   // @ts-expect-error no topic "gret"
 *   await ref.request("gret", { who: "ada" });
 *   const misnamed = { name: "ada" };
 *   // @ts-expect-error the body is { who: string }
 *   await ref.request("greet", misnamed);
 *   return text;
 * }
 * ```
 */
export interface ContainerRef<D extends ContainerDefinition = ContainerDefinition> {
  /** The container's name. */
  readonly name: string;
  /**
   * Sends a request and waits for the reply.
   * @throws {TimeoutError} No reply in time · {@linkcode UnavailableError} no live instance ·
   * `RemoteError` the handler threw · `UnknownTopicError` · `SerializationError` bad body.
   */
  request<T extends TopicOf<D>>(
    topic: T,
    ...args: BodyArgs<D, T, RequestOptions>
  ): Promise<ReplyOf<D, T>>;
  /**
   * Sends a message without waiting for anything.
   * @throws {UnavailableError} No live instance · `SerializationError` bad body.
   */
  send<T extends TopicOf<D>>(topic: T, ...args: BodyArgs<D, T, SendOptions>): void;
  /**
   * A handle to entity `id` of this container (one made by `entities()`): its messages go to
   * the replica that owns the id, which activates the entity on its first message.
   * @throws {TypeError} `id` is not a string · {@linkcode RangeError} it is empty or longer than
   * 256 characters.
   */
  entity(id: string): EntityRef<D>;
}

/** Options of a request to an entity (the entity id is the routing key). */
export type EntityRequestOptions = Omit<RequestOptions, "key">;
/** Options of a send to an entity. */
export type EntitySendOptions = Omit<SendOptions, "key">;

/**
 * A handle to one entity (a virtual actor) of a container made by `entities()`: `(container, id)`
 * from anywhere. Typed with the module's default export, like a {@linkcode ContainerRef}.
 *
 * @example Join a room, typed end to end
 * ```ts
 * import { entities, type EntityContext, type EntityRef } from "jsr:@kraken/kraken/container";
 *
 * const room = entities((e: EntityContext<{ players: string[] }>) => ({
 *   join: (body: { player: string }) => e.state.players.push(body.player),
 * }), { initial: () => ({ players: [] }) });
 *
 * async function join(r: EntityRef<typeof room>): Promise<number> {
 *   const misnamed = { who: "ada" };
 *   // @ts-expect-error the body is { player: string }
 *   await r.request("join", misnamed);
 *   return await r.request("join", { player: "ada" }, { timeout: 1000, retries: 2 });
 * }
 * ```
 */
export interface EntityRef<D extends ContainerDefinition = ContainerDefinition> {
  /** The container hosting the entity. */
  readonly container: string;
  /** The entity id. */
  readonly id: string;
  /**
   * Sends a request to the entity and waits for the reply. With `retries`, a request whose owner
   * was lost is sent again to the new owner (which activates the entity there).
   * @throws {TimeoutError} No reply in time · {@linkcode UnavailableError} no live replica ·
   * `RemoteError` the handler (or the entity's activation) threw · `UnknownTopicError`.
   */
  request<T extends TopicOf<D>>(
    topic: T,
    ...args: BodyArgs<D, T, EntityRequestOptions>
  ): Promise<ReplyOf<D, T>>;
  /**
   * Sends a message to the entity without waiting.
   * @throws {UnavailableError} No live replica · `SerializationError` bad body.
   */
  send<T extends TopicOf<D>>(topic: T, ...args: BodyArgs<D, T, EntitySendOptions>): void;
}

/** The context a container's factory receives. */
export interface Context {
  /** The container's name. */
  readonly name: string;
  /** This instance: `name#replica.incarnation`, e.g. `greeter#1.3`. */
  readonly instance: string;
  /** The container's `config:` block from the topology. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Aborted when this instance starts stopping. */
  readonly signal: AbortSignal;
  /** Leveled logger tagged with name and instance. */
  readonly log: Logger;
  /**
   * A handle to another container, by name. What it sends once this incarnation has stopped
   * (e.g. from a global timer left behind) is dropped.
   */
  ref<D extends ContainerDefinition = ContainerDefinition>(name: string): ContainerRef<D>;
  /**
   * Publishes to every subscriber of `topic`, in every container of the application. Once this
   * incarnation has stopped, a publication (e.g. from a global timer it left behind) is dropped.
   */
  publish(topic: string, body?: unknown): void;
  /**
   * Subscribes to `topic` for the life of this incarnation: the subscription ends with it
   * (failure, stop, restart). A listener that throws fails the instance, like a handler.
   * @returns A function that unsubscribes.
   */
  subscribe(topic: string, listener: (body: unknown, meta: MessageMeta) => unknown): () => void;
  /** Registers cleanup run on stop (within the container's `shutdown:` timeout). */
  onStop(hook: (reason: ExitReason) => unknown): void;
  /**
   * Calls `callback` every `ms` milliseconds for the life of this incarnation: the timer is
   * cleared when it ends (failure, stop, restart), so an old incarnation never ticks beside its
   * successor. The callback runs like a handler: one that throws (or rejects) fails the instance,
   * for its supervisor to act on. One that comes due while an async factory is still running waits
   * for it to finish.
   *
   * Prefer it to the global `setInterval` in container code: an inline container shares the
   * host's timers, and a global timer outlives the incarnation that started it (it keeps running
   * after a restart, and keeps the process alive after shutdown).
   *
   * @param callback Called each time (may be async).
   * @param ms The period, in milliseconds (a finite number >= 0).
   * @returns A function that cancels the timer.
   * @throws {TypeError} `callback` is not a function.
   * @throws {RangeError} `ms` is not a finite number >= 0.
   *
   * @example A ticker that publishes
   * ```ts
   * import { container } from "jsr:@kraken/kraken/container";
   *
   * export default container((ctx) => {
   *   let ticks = 0;
   *   const stop = ctx.setInterval(() => ctx.publish("tick", ++ticks), 1_000);
   *   return { ticks: () => ticks, pause: () => stop() };
   * });
   * ```
   */
  setInterval(callback: () => unknown, ms: number): () => void;
  /**
   * Calls `callback` once after `ms` milliseconds, unless this incarnation has ended by then
   * (the timer is cleared with it). Runs like a handler, as for {@linkcode Context.setInterval}.
   *
   * @param callback Called once (may be async).
   * @param ms The delay, in milliseconds (a finite number >= 0).
   * @returns A function that cancels the timer.
   * @throws {TypeError} `callback` is not a function.
   * @throws {RangeError} `ms` is not a finite number >= 0.
   *
   * @example Retrying a connection later
   * ```ts
   * import { container } from "jsr:@kraken/kraken/container";
   *
   * export default container((ctx) => {
   *   let connected = false;
   *   const connect = () => {
   *     try {
   *       // ... open the connection ...
   *       connected = true;
   *     } catch {
   *       ctx.setTimeout(connect, 500); // dropped if this incarnation ends first
   *     }
   *   };
   *   connect();
   *   return { status: () => ({ connected }) };
   * });
   * ```
   */
  setTimeout(callback: () => unknown, ms: number): () => void;
  /**
   * Starts a child container that this one supervises (with its `supervisor:` flags), in this
   * isolate or a worker nested in it. Its grant can never exceed this container's.
   *
   * @example
   * ```ts
   * import { container } from "jsr:@kraken/kraken/container";
   *
   * export default container(async (ctx) => {
   *   await ctx.spawn("shard-1", { module: "./shard.ts", mode: "worker", config: { id: 1 } });
   *   return { reshard: () => ctx.spawn("shard-1", { module: "./shard_v2.ts" }, { replace: true }) };
   * });
   * ```
   */
  spawn(name: string, spec: ContainerInput, options?: SpawnOptions): Promise<void>;
  /** Stops a child this container spawned (or declared in `children:`) and removes it. */
  stop(name: string, options?: { mode?: StopMode }): Promise<void>;
}

/**
 * How to stop an instance: `graceful` runs its `onStop` hooks within `shutdown:` and never kills
 * (it fails if the instance does not stop); `kill` ends it at once; `graceful-then-kill` (the
 * default) asks, then kills once `shutdown:` has passed.
 */
export type StopMode = "graceful" | "kill" | "graceful-then-kill";

/** What a serving container's `fetch` learns about the request besides the request itself. */
export interface ServeInfo {
  /** The client's address. */
  readonly remoteAddr: Deno.NetAddr;
}

/**
 * An HTTP app a serving container's factory may return instead of a handler map (a hono app is
 * one): `fetch` answers each request of its `serve:` port.
 */
export interface FetchApp {
  /** Answers one request. */
  fetch(request: Request, info: ServeInfo): Response | Promise<Response>;
}

/** Options of `spawn`. */
export interface SpawnOptions {
  /** Replace a running container of the same name (stopped first) instead of failing. */
  replace?: boolean;
  /** How the replaced container is stopped (default `graceful-then-kill`). */
  mode?: StopMode;
}

/**
 * Defines a container: a factory that builds its state and returns its handlers.
 *
 * The factory may be async; the container counts as started when it resolves. A handler's return
 * value is the reply; a thrown error goes back to the requester as a `RemoteError` and fails the
 * instance, which its supervisor then restarts (calling the factory again).
 *
 * @param factory Builds one incarnation's handlers from its context.
 * @returns The definition, to be the module's default export.
 *
 * @example A greeter
 * ```ts
 * import { container } from "jsr:@kraken/kraken/container";
 *
 * export default container((ctx) => {
 *   let greeted = 0;
 *   ctx.onStop(() => ctx.log.info(`greeted ${greeted}`));
 *   return {
 *     greet(body: { who: string }) {
 *       greeted++;
 *       return { text: `hello ${body.who}`, greeted };
 *     },
 *   };
 * });
 * ```
 */
export function container<H extends Handlers>(
  factory: (ctx: Context) => H | Promise<H>,
): ContainerDefinition<H>;
/**
 * Defines a container that serves HTTP only: its factory returns an app with a `fetch` method
 * that is not a plain handler map (a hono app, a class instance); it has no topics. Its topology
 * gives it `serve:` (see docs/serving.md).
 *
 * @param factory Builds one incarnation's app from its context.
 * @returns The definition, to be the module's default export.
 *
 * @example A hono app
 * ```ts ignore
 * import { Hono } from "npm:hono";
 * import { container, httpErrorResponse } from "jsr:@kraken/kraken/container";
 *
 * export default container((ctx) => {
 *   const app = new Hono();
 *   app.get("/stock/:sku", async (c) =>
 *     c.json(await ctx.ref("inventory").request("get", { sku: c.req.param("sku") })));
 *   app.onError((err) => httpErrorResponse(err));
 *   return app;
 * });
 * ```
 */
export function container(
  factory: (ctx: Context) => FetchApp | Promise<FetchApp>,
): ContainerDefinition<Record<never, never>>;
export function container<H extends Handlers>(
  factory: (ctx: Context) => H | Promise<H>,
): ContainerDefinition<H> {
  if (typeof factory !== "function") {
    throw new TypeError(`container() takes a factory function, got ${typeof factory}`);
  }
  return Object.freeze({ kind: "kraken.container" as const, factory });
}

/**
 * Tells whether `value` was made by {@linkcode container}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { container, isContainerDefinition } from "./container.ts";
 * assert.ok(isContainerDefinition(container(() => ({}))));
 * assert.ok(!isContainerDefinition({}));
 * ```
 */
export function isContainerDefinition(value: unknown): value is ContainerDefinition {
  return typeof value === "object" && value !== null &&
    (value as { kind?: unknown }).kind === "kraken.container" &&
    typeof (value as { factory?: unknown }).factory === "function";
}
