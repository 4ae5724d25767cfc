/**
 * What every mode's handle is: the launch it is given and the interface the supervisor and the
 * runtime see ({@linkcode InstanceHandle}), and how a failed start is worded. The modes implement
 * it in `_inline_handle.ts`, `_worker_handle.ts` and `_process_handle.ts` (`_isolate_handle.ts`
 * holds what the last two share); `_modes.ts` makes the right one.
 *
 * @module
 */
import type { ContainerSpec } from "../config/topology.ts";
import type { Envelope, ExitReason, LogLevel } from "../protocol/envelope.ts";
import { RemoteError, TopologyError } from "../protocol/errors.ts";
import type { PortLink } from "../transports/port_link.ts";
import type { SupervisedInstance } from "../supervisor/instance.ts";
import type { ChildManager } from "./_instance.ts";
import type { Node } from "./_node.ts";
import type { FigureSet, FigureSource } from "./_metrics.ts";
import type { Usage } from "./_usage.ts";

/** What a mode needs to launch one instance. */
export interface Launch {
  /** The container. */
  spec: ContainerSpec;
  /** Instance id. */
  instance: string;
  /** Node id for a worker or process (the hub's id for inline). */
  node: string;
  /** The hub. */
  hub: Node;
  /** Lowest log level forwarded. */
  logLevel: LogLevel | "silent";
  /** Log sink for output the instance prints outside its logger (process stderr). */
  log: (level: LogLevel, message: string, instance: string) => void;
  /** The container's definition, when already loaded in this isolate (inline). */
  definition?: unknown;
  /** What `ctx.spawn`/`ctx.stop` act on, for an inline instance. */
  manager?: ChildManager;
  /** Extra files a process may read: the sources of workers nested in it. */
  reads?: string[];
  /** Folder URL relative modules of `ctx.spawn` resolve against. */
  baseUrl?: string;
  /** Names its predecessors spawned, which it may spawn again (see `InitSettings.owned`). */
  owned?: string[];
}

/** A running (or starting) instance, seen from the host: what its supervisor needs, and more. */
export interface InstanceHandle extends SupervisedInstance, FigureSource {
  /** The node the instance lives in. */
  readonly node: string;
  /** Its instance id, `name#replica.incarnation`. */
  readonly instance: string;
  /** Its container's name. */
  readonly container: string;
  /** Set by the runtime; called exactly once, when the instance has ended. */
  onExit: (reason: ExitReason) => void;
  /** Starts it; resolves when it takes messages; rejects when it could not start. */
  start(): Promise<void>;
  /**
   * Graceful stop within `shutdown:`, then kill (or, with `gracefulOnly`, no kill); resolves once
   * it is gone with `true`, or with `false` when it would not stop gracefully. `quiet` (see
   * `SupervisedInstance.stop`) may be called once its hooks are done, before its teardown.
   */
  stop(reason: ExitReason, gracefulOnly?: boolean, quiet?: () => void): Promise<boolean>;
  /** Ends it now. */
  kill(reason: ExitReason): void;
  /** Settles once the instance is gone for good: isolate ended, pipes closed, cleanup over. */
  readonly gone: Promise<void>;
  /** The OS process id of a process instance while it lives (`undefined` in other modes). */
  readonly pid?: number;
  /** Heartbeat: sends a ping; returns ms since the last sign of life (0 for inline). */
  heartbeat(now: number): number;
  /** Handles a control envelope from its node. */
  control(env: Envelope): void;
  /** Set by the supervisor: routes, tree and events its node reports about its own children. */
  onReport: (env: Envelope) => void;
  /**
   * Its figures by container: an inline instance's own, read directly; a worker's or process's
   * from its last pong (at most one heartbeat old), its children's included.
   */
  figures(): FigureSet | null;
  // What only some modes can do is a capability, so nothing above the modes asks for a mode.
  /** Fails it because the supervisor of its children, in this isolate, gave up (inline). */
  escalated?(error: Error): void;
  /** The memory and CPU share of its own isolate (worker, process). */
  usage?(): Usage;
  /** Whether it takes messages (worker, process). */
  readonly ready?: boolean;
  /** Its link, which takes direct ports to other nodes (worker). */
  readonly portLink?: PortLink | null;
  /** `kill()` may leave its thread running (a worker spinning in a busy loop). */
  readonly outlivesKill?: boolean;
}

/** Why an instance could not start: its module (TopologyError) or its factory (RemoteError). */
export function startError(spec: ContainerSpec, reason: ExitReason, detail: string): Error {
  const wire = reason.error;
  if (wire && wire.kind === "remote" && wire.name !== "TopologyError") {
    return new RemoteError({ ...wire, container: spec.name });
  }
  return moduleError(spec, `${wire?.message ?? reason.message}${detail ? `\n${detail}` : ""}`);
}

export function moduleError(spec: ContainerSpec, detail: string): TopologyError {
  return new TopologyError(`module ${spec.module} could not be started: ${detail}`, {
    key: `containers.${spec.name}.module`,
  });
}
