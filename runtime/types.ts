/**
 * The types of a runtime's public API: its options, the events it emits, the log lines it writes
 * and the tree it shows (`Runtime` in `runtime.ts` is the class they belong to).
 *
 * @module
 */
import type { AuditRecord } from "./audit.ts";
import type { Transport } from "../transports/transport.ts";
import type { Plan, PlanStep } from "../config/plan.ts";
import type { AgentOptions, PeerSnapshot } from "../distribution/mod.ts";
import type { ExitReason, LogLevel } from "../protocol/envelope.ts";
import type { SupervisorGaveUpError } from "../protocol/errors.ts";
import type { ContainerSnapshot } from "./snapshots.ts";
import type { MissedTicks, ScheduleSpec } from "../config/model.ts";

/** A log line from the runtime or a container. */
export interface LogEntry {
  /** Severity. */
  level: LogLevel;
  /** The text. */
  message: string;
  /** `runtime`, or the instance id that logged it. */
  source: string;
  /** The trace id of the span it was logged in (only while tracing is on, and in a span). */
  trace?: string;
}

/** Options of `Runtime.start`. */
export interface RuntimeOptions {
  /** Lowest level logged (default `info`); `silent` logs nothing. */
  logLevel?: LogLevel | "silent";
  /** Where log lines go (default: stderr, one line each). */
  logger?: (entry: LogEntry) => void;
  /** Folder URL that relative module paths of an object topology resolve against (default: cwd). */
  baseUrl?: string;
  /**
   * Observers registered before anything starts, so they see the start itself (e.g. one `start`
   * event per instance, for progress); the same as calling `Runtime.on` for each.
   */
  on?: { [K in keyof RuntimeEvents]?: (event: RuntimeEvents[K]) => void };
  /**
   * Makes this runtime a host agent (what `kraken node` runs): root runtimes that link to it may
   * place `mode: remote` containers on it, run from modules under `root`, within `maxPermissions`.
   */
  agent?: AgentOptions;
  /**
   * With a `leadership:` block: start as a standby root while another root leads (it places
   * nothing until it takes over), instead of failing the start (`kraken start --standby`).
   */
  standby?: boolean;
  /**
   * The transports this runtime listens and dials with, by URL scheme (default: `tcp()`,
   * `unix()`, `ws()` and `memory()`, see `defaultTransports()`). A transport of your own is one
   * more object in the list; `transports.listen` and every `hosts:` address need one.
   */
  transports?: readonly Transport[];
}

/** Events a runtime emits (from every supervisor in the tree, nested ones included). */
export interface RuntimeEvents {
  /** An instance started (first time or after a restart). */
  start: { container: string; instance: string; incarnation: number };
  /** An instance ended, with why. */
  exit: { container: string; instance: string; incarnation: number; reason: ExitReason };
  /** A failed instance was started again, after `delay` ms of backoff. */
  restart: { container: string; instance: string; incarnation: number; delay: number };
  /** An instance missed its heartbeats and was replaced. */
  unresponsive: { container: string; instance: string; silentFor: number };
  /**
   * A supervisor gave up (too many restarts, or a child's `on_error: escalate`) and handed the
   * failure to its parent; `root` giving up shuts the runtime down.
   */
  escalate: { supervisor: string; child?: string; error: SupervisorGaveUpError };
  /** A log line (the runtime's own, and what containers log or print), at or above `logLevel`. */
  log: LogEntry & { time: number };
  /**
   * Progress of `Runtime.apply`: `start` with the plan, `step` after each step, then
   * `done`, or `failed` with the step that failed and why.
   */
  apply: {
    phase: "start" | "step" | "done" | "failed";
    plan: Plan;
    step?: PlanStep;
    error?: string;
  };
  /**
   * A schedule's tick was delivered (`ok`), failed (its target threw, was unavailable or did not
   * answer within the retries), or ticks were `missed` (the runtime was busy or asleep past them).
   */
  schedule: ScheduleEvent;
  /** A change asked through the management API (see `audit.ts`), with who asked. */
  audit: AuditRecord & { time: number };
}

/** What happened to a schedule's tick (the `schedule` event). */
export type ScheduleEvent =
  | {
    /** The schedule. */
    schedule: string;
    /** The tick id: schedule name and scheduled time (`report@2026-12-05T00:01:00.000Z`). */
    tick: string;
    /** Delivered (the target's handler returned), or failed. */
    outcome: "ok" | "failed";
    /** Milliseconds from firing to the outcome. */
    ms: number;
    /** Why it failed: the error's class name and message. */
    error?: { name: string; message: string };
  }
  | {
    /** The schedule. */
    schedule: string;
    /** Ticks that fell in the past while the runtime was busy or asleep. */
    outcome: "missed";
    /** How many will never fire (under `run_once`, the one fired for them is not counted). */
    missed: number;
    /** The schedule's policy: `skip` fired none of them, `run_once` fired the latest. */
    policy: MissedTicks;
  };

/** A schedule as `rt.schedules()`, the tree and `GET /v1/schedules` show it. */
export interface ScheduleSnapshot extends ScheduleSpec {
  /** When it fires next (ISO 8601, UTC), or `null` when it never fires again. */
  next: string | null;
  /** The last tick it fired, and how that went (`running` while its request is on its way). */
  last: {
    tick: string;
    /** Its scheduled time (ISO 8601). */
    at: string;
    outcome: "running" | "ok" | "failed";
    /** Milliseconds from firing to the outcome. */
    ms?: number;
    /** Why it failed (`Class: message`). */
    error?: string;
  } | null;
  /** Ticks fired since it was (re)planned. */
  fired: number;
  /** Ticks missed since it was (re)planned (what `missed:` did with them: see docs/schedules.md). */
  missedTicks: number;
  /** Ticks fired since it was (re)planned whose request was answered. */
  okTicks: number;
  /** Ticks fired since it was (re)planned whose request failed (after its retries). */
  failedTicks: number;
}

/** A worker thread that was terminated while unresponsive: it may still be spinning. */
export interface LeakedWorker {
  /** Its container. */
  container: string;
  /** The instance it was. */
  instance: string;
  /** Milliseconds since it was terminated. */
  since: number;
}

/** The live supervision tree. */
export interface TreeSnapshot {
  /** Application name. */
  name: string;
  /** The root supervisor's strategy and state. */
  supervisor: {
    strategy: string;
    intensity: number;
    period: number;
    state: "running" | "shutting_down" | "stopped";
  };
  /** Containers in start order, each with its children when it supervises any. */
  containers: ContainerSnapshot[];
  /** Messages the host relayed between two containers outside it (worker ↔ worker goes direct). */
  relayed: number;
  /**
   * Input the host refused at its edges — from its workers and processes, peer runtimes and NATS:
   * envelopes of a kind, shape or body that breaks the rule (docs/transports.md, "What a link
   * accepts"), and frames that hold no envelopes. None reached a container; each was logged (at
   * most one line a second), and a refused request was answered with a `FrameError`.
   */
  refused: number;
  /** Peer runtimes of the same application (see `transports:` and `hosts:`). */
  peers: PeerSnapshot[];
  /**
   * Workers terminated while unresponsive. `terminate()` cannot stop a thread in a busy loop: such
   * a thread keeps a core until the process exits (`kraken start` exits the process after
   * shutdown; a program embedding the runtime should call `Deno.exit()` when this is not empty).
   */
  leaked: LeakedWorker[];
  /** The schedules this runtime fires (`schedule:` and `rt.schedule`), with next and last tick. */
  schedules: ScheduleSnapshot[];
}
