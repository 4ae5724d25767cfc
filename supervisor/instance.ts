/**
 * What a supervisor needs of one instance it runs, whatever runs it (inline, a worker, a process):
 * seven members. The runtime's instance handles implement it; anything particular to a mode is a
 * capability of the handle, never a question the supervisor asks about the mode.
 *
 * @module
 */
import type { ExitReason } from "../protocol/envelope.ts";

/**
 * One instance, seen by the supervisor that runs it.
 *
 * @example A stand-in that starts at once and stops on request
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SupervisedInstance } from "./instance.ts";
 * let markGone = () => {};
 * const fake: SupervisedInstance = {
 *   onExit: () => {},
 *   start: () => Promise.resolve(),
 *   stop: () => (markGone(), Promise.resolve(true)),
 *   kill: () => markGone(),
 *   gone: new Promise<void>((resolve) => (markGone = resolve)),
 *   heartbeat: () => 0,
 * };
 * assert.ok(await fake.stop({ kind: "stopped", message: "bye" }));
 * ```
 */
export interface SupervisedInstance {
  /** Set by the runner; called once when the instance has ended (asked to or not). */
  onExit: (reason: ExitReason) => void;
  /** Starts it; resolves when it takes messages; rejects when it could not start. */
  start(): Promise<void>;
  /**
   * Graceful stop within its shutdown timeout, then kill (or, with `gracefulOnly`, no kill);
   * resolves `true` once it is gone, or `false` when it would not stop gracefully. `quiet`, when
   * given, may be called earlier, at most once: its stop hooks are done and it serves no more,
   * while its isolate may still be tearing down (a shutdown goes on to the next child then).
   */
  stop(reason: ExitReason, gracefulOnly?: boolean, quiet?: () => void): Promise<boolean>;
  /** Ends it now. */
  kill(reason: ExitReason): void;
  /** Settles once it is gone for good, with everything it held. */
  readonly gone: Promise<void>;
  /** Sends a ping; returns ms since its last sign of life (0 when it cannot go silent). */
  heartbeat(now: number): number;
  /**
   * After it ended on its own: releases what it held (e.g. the children it supervised); resolves
   * when that is done. Its supervisor decides what follows only then.
   */
  release?(): Promise<void>;
}
