/**
 * `entities()`: a container whose replicas host *entities* (virtual actors, as Orleans grains,
 * Akka Cluster Sharding entities and Dapr actors are): small stateful objects addressed by
 * `(container, id)` from anywhere with `ref(name).entity(id)`.
 *
 * The replica that owns an id (rendezvous hashing over the container's live replicas) activates
 * the entity on its first message: it loads the state from the store (or makes the initial one),
 * runs the factory with an {@linkcode EntityContext} and takes the entity's messages one at a
 * time, in order. An entity idle for `idle` is passivated: its timers are cleared, `onPassivate`
 * runs and its state is saved. A handler that throws answers the caller with a `RemoteError`, and
 * the entity stays active with its state as the handler left it (option `onError: "keep"`, the
 * default, as Orleans keeps a grain whose call threw); with `onError: "deactivate"` it is dropped
 * without saving instead (its next message activates it again from the store). Either way the
 * replica and its other entities go on. See docs/entities.md.
 *
 * @module
 */
import type { ContainerDefinition, ContainerRef, Handlers, Logger } from "./container.ts";

/**
 * Where an entity's state goes when it is passivated or its replica stops: your own adapter
 * (a database, a KV store) in place of the built-in `none`, `memory` and `file`.
 *
 * @example A store over a map, as an adapter over a database would be written
 * ```ts
 * import assert from "node:assert/strict";
 * import { entities, type EntityContext, type EntityStore } from "jsr:@kraken/kraken/container";
 *
 * const rows = new Map<string, { n: number }>();
 * const store: EntityStore<{ n: number }> = {
 *   load: (container, id) => Promise.resolve(rows.get(`${container}/${id}`)),
 *   save: (container, id, state) => Promise.resolve(void rows.set(`${container}/${id}`, state)),
 * };
 * const counter = entities((e: EntityContext<{ n: number }>) => ({ add: () => ++e.state.n }), {
 *   initial: () => ({ n: 0 }),
 *   store,
 * });
 * await store.save("counters", "c1", { n: 41 });
 * assert.deepEqual(await store.load("counters", "c1"), { n: 41 });
 * assert.equal(counter.entities.options.store, store);
 * ```
 */
export interface EntityStore<S = unknown> {
  /** The saved state of entity `id` of `container`, or `undefined` for a fresh one. */
  load(container: string, id: string): Promise<S | undefined>;
  /** Saves the state of entity `id` of `container`. */
  save(container: string, id: string, state: S): Promise<void>;
  /** Forgets entity `id` of `container` (optional). */
  delete?(container: string, id: string): Promise<void>;
}

/**
 * The built-in stores: `none` (default: state lives only while the entity is active), `memory`
 * (kept in the owning replica's isolate across passivations, each activation loading a
 * structured clone of it; lost when the replica restarts or the id moves to another replica), `file` (msgpack files under `dir`; needs the container's read
 * and write grant on it; kept across passivation, restarts and moves between replicas that share
 * the folder).
 */
export type EntityStoreName = "none" | "memory" | "file";

/**
 * What becomes of an entity whose handler (or timer callback) throws: `keep` (default) leaves it
 * active with its state as the handler left it; `deactivate` drops it without saving, so its next
 * message activates it again from the last saved state. The caller gets the error either way.
 */
export type EntityOnError = "keep" | "deactivate";

/**
 * How a container hosts its entities.
 *
 * @example Options, and what a topology's `entities:` block may override
 * ```ts
 * import assert from "node:assert/strict";
 * import type { EntityOptions } from "jsr:@kraken/kraken/container";
 *
 * const options: EntityOptions<{ players: string[] }> = {
 *   initial: () => ({ players: [] }),
 *   idle: "30s", // topology: entities: { idle }
 *   store: "file", // topology: entities: { store }
 *   dir: "./state", // topology: entities: { dir }
 *   onPassivate: (e) => e.log.info(`room ${e.id} saved with ${e.state.players.length} players`),
 * };
 * assert.deepEqual(options.initial?.("room-1"), { players: [] });
 * ```
 */
export interface EntityOptions<S = unknown> {
  /** The state of an entity the store has nothing for (default: `undefined`). */
  initial?: (id: string) => S;
  /**
   * Passivate an entity after this long without a message: milliseconds, or a duration (`30s`,
   * `5m`). Default `5m`. A topology's `entities: { idle }` overrides it.
   */
  idle?: number | string;
  /** Where state goes (default `none`). A topology's `entities: { store }` overrides a name. */
  store?: EntityStoreName | EntityStore<S>;
  /** The folder of the `file` store (default `./state`); the topology's `entities: { dir }` wins. */
  dir?: string;
  /**
   * The most entities active at once in one replica (default: no limit). At the limit, a new
   * activation first passivates the least recently used idle entity (saving it). A topology's
   * `entities: { max }` overrides it.
   */
  max?: number;
  /**
   * What a handler (or timer callback) that throws does to its entity (default `keep`): `keep`
   * answers the caller with the error and leaves the entity active, its state as the handler left
   * it — a handler that changes `e.state` and then throws keeps its change, so validate before
   * you mutate; `deactivate` drops the entity without saving (its timers cleared), and its next
   * message activates it again from the store. A topology's `entities: { on_error }` overrides it.
   *
   * @example Validation by throwing, in a cart that must not lose its lines
   * ```ts
   * import assert from "node:assert/strict";
   * import { entities, type EntityContext } from "jsr:@kraken/kraken/container";
   *
   * const cart = entities((e: EntityContext<{ lines: string[] }>) => ({
   *   add(body: { sku?: string }) {
   *     if (!body.sku) throw new TypeError("sku required"); // before any change to e.state
   *     e.state.lines.push(body.sku);
   *     return e.state.lines.length;
   *   },
   * }), { initial: () => ({ lines: [] }), onError: "keep" });
   * assert.equal(cart.entities.options.onError, "keep");
   * ```
   */
  onError?: EntityOnError;
  /** Runs at each activation, after the factory and before the first message. */
  onActivate?: (e: EntityContext<S>) => unknown;
  /** Runs at each passivation, before the state is saved (it may still change `e.state`). */
  onPassivate?: (e: EntityContext<S>) => unknown;
}

/**
 * What an entity's factory receives: who it is, its state, and what it may do.
 *
 * @example A room with a tick loop of its own, stopped when it is passivated
 * ```ts
 * import assert from "node:assert/strict";
 * import { entities, type EntityContext } from "jsr:@kraken/kraken/container";
 *
 * const room = entities((e: EntityContext<{ tick: number; players: string[] }>) => {
 *   e.setInterval(() => e.publish(`room.${e.id}`, { tick: ++e.state.tick }), 100);
 *   return {
 *     join(body: { player: string }) {
 *       e.state.players.push(body.player);
 *       return e.state.players.length;
 *     },
 *     close() {
 *       e.passivate(); // saved, timers cleared, once this message is answered
 *       return true;
 *     },
 *   };
 * }, { initial: () => ({ tick: 0, players: [] }) });
 * assert.equal(typeof room.entities.factory, "function");
 * ```
 */
export interface EntityContext<S = unknown> {
  /** The entity id. */
  readonly id: string;
  /** Its state: loaded from the store (or `initial`); what is here at passivation is saved. */
  state: S;
  /** The container hosting it. */
  readonly container: string;
  /** The instance (replica incarnation) it is active in. */
  readonly instance: string;
  /** Logger tagged with the instance. */
  readonly log: Logger;
  /**
   * The container's `config:` block from the topology (as `ctx.config` of a plain container):
   * the same for every entity of the container; empty when the topology gives none.
   *
   * @example A world whose size comes from kraken.yaml (`config: { size: 64 }`)
   * ```ts
   * import assert from "node:assert/strict";
   * import { entities, type EntityContext } from "jsr:@kraken/kraken/container";
   *
   * const agents = entities((e: EntityContext<{ x: number }>) => ({
   *   step: () => (e.state.x = (e.state.x + 1) % Number(e.config.size ?? 100)),
   * }), { initial: () => ({ x: 0 }) });
   * assert.equal(typeof agents.entities.factory, "function");
   * ```
   */
  readonly config: Readonly<Record<string, unknown>>;
  /** A handle to a container, by name (`.entity(id)` for another entity). */
  ref<D extends ContainerDefinition = ContainerDefinition>(name: string): ContainerRef<D>;
  /** Publishes to every subscriber of `topic` in the application. */
  publish(topic: string, body?: unknown): void;
  /**
   * Calls `callback` once after `ms`, in the entity's turn (one message at a time): cleared when
   * the entity is passivated or deactivated. A callback that throws is logged, and deactivates
   * the entity only with `onError: "deactivate"`.
   * @returns A function that cancels it.
   */
  setTimer(callback: () => unknown, ms: number): () => void;
  /** Calls `callback` every `ms`, in the entity's turn; cleared like {@linkcode setTimer}. */
  setInterval(callback: () => unknown, ms: number): () => void;
  /** Asks to be passivated once the current message is handled. */
  passivate(): void;
  /**
   * Saves `state` to the store now, without passivating: a checkpoint, so that a crash of the
   * replica goes back to this state rather than to the last passivation. The state is copied at
   * the call (a wire value: plain objects, arrays, strings, numbers, booleans, null, Uint8Array,
   * Date); saves of one entity are written in order. With store `none` it does nothing.
   * @returns Resolves once the store has it; rejects with the store's error.
   *
   * @example Checkpoint a room every second from its tick loop
   * ```ts
   * import assert from "node:assert/strict";
   * import { entities, type EntityContext } from "jsr:@kraken/kraken/container";
   *
   * const room = entities((e: EntityContext<{ tick: number }>) => {
   *   e.setInterval(() => {
   *     e.state.tick++;
   *     if (e.state.tick % 20 === 0) e.save().catch((err) => e.log.warn(String(err)));
   *   }, 50);
   *   return { tick: () => e.state.tick };
   * }, { initial: () => ({ tick: 0 }), store: "file" });
   * assert.equal(room.entities.options.store, "file");
   * ```
   */
  save(): Promise<void>;
  /**
   * Deletes the entity's saved state from the store (its `delete()`), after any save under way,
   * and saves nothing at its passivation: the next activation starts from `initial`, and no file
   * (store `file`) or entry (`memory`) is left behind. A later `e.save()` in the same activation
   * saves again. With store `none` it does nothing.
   * @returns Resolves once the store has deleted it; rejects with the store's error, or with a
   * TypeError when a custom store has no `delete()`.
   *
   * @example A room that empties leaves nothing behind when it is passivated
   * ```ts
   * import assert from "node:assert/strict";
   * import { entities, type EntityContext } from "jsr:@kraken/kraken/container";
   *
   * type Room = { players: string[] };
   * const room = entities((e: EntityContext<Room>) => ({
   *   join: (name: string) => e.state.players.push(name),
   * }), {
   *   initial: () => ({ players: [] }),
   *   store: "file",
   *   onPassivate: (e) => e.state.players.length === 0 ? e.forget() : undefined,
   * });
   * assert.equal(typeof room.entities.options.onPassivate, "function");
   * ```
   */
  forget(): Promise<void>;
}

/**
 * Builds one activation's handlers (the first argument of {@linkcode entities}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { EntityContext, EntityFactory } from "jsr:@kraken/kraken/container";
 * const factory: EntityFactory<{ n: number }, { add: () => number }> = (
 *   e: EntityContext<{ n: number }>,
 * ) => ({ add: () => ++e.state.n });
 * assert.equal(typeof factory, "function");
 * ```
 */
export type EntityFactory<S, H extends Handlers> = (e: EntityContext<S>) => H | Promise<H>;

/** What `entities()` records besides the container definition (read by the runtime). */
export interface EntitySpec {
  /** Builds one activation's handlers. */
  readonly factory: EntityFactory<unknown, Handlers>;
  /** The options as given. */
  readonly options: EntityOptions<unknown>;
}

/** A container definition made by `entities()`: a container, typed by one entity's handlers. */
export interface EntitiesDefinition<H extends Handlers = Handlers, S = unknown>
  extends ContainerDefinition<H> {
  /** The entity factory and options. */
  readonly entities: EntitySpec;
  /** The state type (for type inference only; never set). */
  readonly state?: S;
}

/**
 * Tells whether `value` was made by {@linkcode entities}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { entities, isEntitiesDefinition } from "./entities.ts";
 * assert.ok(isEntitiesDefinition(entities(() => ({}))));
 * assert.ok(!isEntitiesDefinition({ kind: "kraken.container", factory() {} }));
 * ```
 */
export function isEntitiesDefinition(value: unknown): value is EntitiesDefinition {
  return typeof value === "object" && value !== null &&
    (value as { kind?: unknown }).kind === "kraken.container" &&
    typeof (value as { entities?: { factory?: unknown } }).entities?.factory === "function";
}

/**
 * Defines a container whose replicas host entities: `factory` runs at each activation of an
 * entity and returns its handlers; `options` say how state is kept and when idle entities are
 * passivated.
 *
 * Give the state type on the factory's parameter (`(e: EntityContext<State>) => …`) rather than
 * as a type argument (`entities<State>(…)`): TypeScript infers both the state and the handlers
 * from the annotated parameter, but infers nothing once one type argument is given, and the
 * handler map (the protocol refs check) would be lost.
 *
 * @param factory Builds one activation's handlers from its {@linkcode EntityContext}.
 * @param options Initial state, idle time, store, hooks.
 * @returns The definition, to be the module's default export.
 *
 * @example A room, one entity per id (containers/room.ts)
 * ```ts
 * import assert from "node:assert/strict";
 * import { entities, type EntityContext } from "jsr:@kraken/kraken/container";
 *
 * const room = entities((e: EntityContext<{ players: string[] }>) => ({
 *   join: (body: { player: string }) => e.state.players.push(body.player),
 *   players: () => e.state.players,
 * }), { initial: () => ({ players: [] }), idle: "1m", store: "memory" });
 * assert.equal(room.kind, "kraken.container");
 * assert.equal(room.entities.options.idle, "1m");
 * // Anywhere, with `import type room from "./containers/room.ts"`:
 * //   await rt.ref<typeof room>("rooms").entity("room-42").request("join", { player: "ada" });
 * ```
 */
export function entities<S = unknown, H extends Handlers = Handlers>(
  factory: EntityFactory<S, H>,
  options: EntityOptions<S> = {},
): EntitiesDefinition<H, S> {
  if (typeof factory !== "function") {
    throw new TypeError(`entities() takes a factory function, got ${typeof factory}`);
  }
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`entities() options must be an object, got ${options}`);
  }
  const spec: EntitySpec = Object.freeze({
    factory: factory as EntityFactory<unknown, Handlers>,
    options: Object.freeze({ ...options }) as EntityOptions<unknown>,
  });
  const definition = {
    kind: "kraken.container" as const,
    entities: spec,
    // The runtime reads `entities` instead; called by hand, it says so.
    factory: (): H => {
      throw new Error("a container made by entities() runs inside a Kraken runtime");
    },
  };
  return Object.freeze(definition) as EntitiesDefinition<H, S>;
}
