/**
 * What a supervisor reports, as plain data: it may travel up from another isolate (a worker's or
 * process's own supervisor reports through its link) and reaches `rt.on()` unchanged.
 *
 * | event | when |
 * |---|---|
 * | `start` | an instance started and takes messages (first time or after a restart) |
 * | `exit` | an instance ended without being asked to (or a restart of it failed) |
 * | `restart` | an instance was started again, after `delay` ms of backoff |
 * | `unresponsive` | an instance missed its heartbeats for `silentFor` ms and was killed |
 * | `escalate` | the supervisor gave up (`why`: too many restarts, or an `on_error: escalate`) |
 *
 * @module
 */
import type { ExitReason } from "../protocol/envelope.ts";

/** A supervision event, as plain data. */
export type SupervisorEvent =
  | { type: "start"; container: string; instance: string; incarnation: number }
  | {
    type: "exit";
    container: string;
    instance: string;
    incarnation: number;
    reason: ExitReason;
  }
  | { type: "restart"; container: string; instance: string; incarnation: number; delay: number }
  | { type: "unresponsive"; container: string; instance: string; silentFor: number }
  | {
    type: "escalate";
    supervisor: string;
    intensity: number;
    period: number;
    why: "intensity" | "escalate";
    child?: string;
    failure?: string;
  };
