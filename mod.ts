/**
 * Kraken: distributed, fault-tolerant applications for Deno.
 *
 * Business logic lives in containers ({@linkcode container}); the same container module runs
 * inline, in a Web Worker or in a Deno subprocess, chosen by the topology, each with its own
 * permission sandbox. Containers reach each other by name ({@linkcode ContainerRef}); the
 * {@linkcode Runtime} starts a topology, restarts what fails and shuts down without orphans.
 *
 * This entry is for the application that starts a runtime. Container modules import the light
 * entry, `jsr:@kraken/kraken/container` (`container.ts`): the same `container`, `entities`, types
 * and errors, without the validator, transports and runtime that every worker and process running
 * the container would otherwise load.
 *
 * @example A container and a runtime
 * ```ts ignore
 * // containers/greeter.ts
 * import { container } from "jsr:@kraken/kraken/container";
 * export default container((ctx) => ({
 *   greet: (body: { who: string }) => ({ text: `${ctx.config.greeting ?? "hello"} ${body.who}` }),
 * }));
 *
 * // main.ts
 * import { Runtime } from "jsr:@kraken/kraken";
 * import type greeter from "./containers/greeter.ts";
 * const rt = await Runtime.start({
 *   containers: { greeter: { module: "./containers/greeter.ts", mode: "worker", replicas: 2 } },
 * });
 * console.log(await rt.ref<typeof greeter>("greeter").request("greet", { who: "ada" }));
 * await rt.shutdown();
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
export {
  type LeakedWorker,
  type LogEntry,
  type PeerSnapshot,
  Runtime,
  type RuntimeEvents,
  type RuntimeOptions,
  type ScheduleEvent,
  type ScheduleSnapshot,
  type TreeSnapshot,
} from "./runtime/runtime.ts";
export type { ContainerSnapshot, InstanceSnapshot, SlotState } from "./runtime/snapshots.ts";
export type { AuditActor, AuditRecord } from "./runtime/audit.ts";
export { httpErrorResponse } from "./runtime/http_errors.ts";
export type { ContainerMetrics, TopicMetrics } from "./runtime/metrics.ts";
export type {
  ByteConnection,
  LinkClosed,
  Listener,
  ListenOptions,
  Transport,
  TransportLink,
  TransportOptions,
} from "./transports/transport.ts";
export { linkOver } from "./transports/link_over.ts";
export { tcp } from "./transports/tcp.ts";
export { unix } from "./transports/unix.ts";
export { ws } from "./transports/ws.ts";
export { memory } from "./transports/memory.ts";
export { defaultTransports } from "./transports/defaults.ts";
export {
  AuthenticationError,
  FrameError,
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
export {
  formatPlan,
  type Plan,
  type PlanStep,
  planTopology,
  type ScheduleStep,
} from "./config/plan.ts";
export type { AgentOptions } from "./distribution/mod.ts";
export {
  type BalanceStrategy,
  type ContainerInput,
  type ContainerSpec,
  DEFAULTS,
  type Defaults,
  type EntitiesSpec,
  type LeadershipSpec,
  type ManagementSpec,
  type MissedTicks,
  type Mode,
  type Placement,
  type RestartType,
  type ScheduleInput,
  type ScheduleSpec,
  type ServeProtocol,
  type ServeSpec,
  type SpreadSpec,
  type Strategy,
  type SupervisorSpec,
  type Topology,
  type TopologyInput,
  type TransportsSpec,
  type UnstableFeature,
  validateContainer,
  type ValidateOptions,
  validateSchedule,
  validateTopology,
} from "./config/topology.ts";
export type { ErrorAction, ErrorRule } from "./supervisor/error_rules.ts";
export { loadTopology } from "./config/load.ts";
export type { FileSystemView, PermissionKind, Permissions } from "./config/permissions.ts";
