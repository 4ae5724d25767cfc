/**
 * Kraken for container code: what a container module imports (`jsr:@kraken/kraken/container`).
 *
 * A container's module is loaded into every isolate that runs it (each worker, each process, each
 * replica, each restart of a process), so this entry holds only what container code uses:
 * {@linkcode container} and {@linkcode entities}, their context and ref types, the typed errors a
 * handler throws or catches, and {@linkcode httpErrorResponse} for a container that serves HTTP.
 * It loads no topology validator, transport, supervisor, distribution or `Runtime` code;
 * those stay in the full entry (`jsr:@kraken/kraken`, `mod.ts`), which the application that starts a
 * runtime imports, and which still exports everything here too.
 *
 * @example A container that answers without its price service, tested without a runtime
 * ```ts
 * import assert from "node:assert/strict";
 * import { container, type Context, UnavailableError } from "jsr:@kraken/kraken/container";
 *
 * // containers/quote.ts
 * const quote = container((ctx) => ({
 *   async quote(body: { sku: string }) {
 *     try {
 *       return await ctx.ref("prices").request("get", body, { hold: false });
 *     } catch (error) {
 *       if (error instanceof UnavailableError) return { sku: body.sku, price: null };
 *       throw error;
 *     }
 *   },
 * }));
 *
 * // Its factory is a plain function: a stand-in context whose ref finds no live "prices".
 * const ctx = {
 *   ref: (name: string) => ({
 *     request: () => Promise.reject(new UnavailableError(`no live instance of "${name}"`)),
 *   }),
 * } as unknown as Context;
 * const handlers = await quote.factory(ctx);
 * assert.deepEqual(await handlers.quote({ sku: "a-1" }), { sku: "a-1", price: null });
 * ```
 *
 * @module
 */
export {
  type BodyArgs,
  container,
  type ContainerDefinition,
  type ContainerRef,
  type Context,
  type EntityRef,
  type EntityRequestOptions,
  type EntitySendOptions,
  type FetchApp,
  type Handlers,
  type IsUntyped,
  type Logger,
  type MessageMeta,
  type ProtocolOf,
  type ReplyOf,
  type RequestOptions,
  type SendOptions,
  type ServeInfo,
  type SpawnOptions,
  type StopMode,
  type TopicOf,
} from "./runtime/container.ts";
export {
  entities,
  type EntitiesDefinition,
  type EntityContext,
  type EntityFactory,
  type EntityOnError,
  type EntityOptions,
  type EntitySpec,
  type EntityStore,
  type EntityStoreName,
} from "./runtime/entities.ts";
export { httpErrorResponse } from "./runtime/http_errors.ts";
// What a handler catches from `ref.request`/`ctx.spawn`, or throws itself to be told apart by a
// caller or an `on_error:` rule. The link errors (`AuthenticationError`, `FrameError`) never reach
// container code; `mod.ts` has them.
export {
  PermissionEscalationError,
  RemoteError,
  RolloutError,
  SerializationError,
  SupervisorGaveUpError,
  TimeoutError,
  TopologyError,
  UnavailableError,
  UnknownTopicError,
  type WireError,
} from "./protocol/errors.ts";
export type { ExitReason, LogLevel } from "./protocol/envelope.ts";
// The spec `ctx.spawn` takes and the words in it: types only, erased when the module runs, so they
// load no validator (the runtime validates a spec where the child is started).
export type {
  BalanceStrategy,
  ContainerInput,
  MissedTicks,
  Mode,
  Placement,
  RestartType,
  ScheduleInput,
  ServeProtocol,
  Strategy,
  TopologyInput,
} from "./config/topology.ts";
