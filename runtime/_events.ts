/**
 * A runtime's observers: who listens to which event, and delivering an event to each of them
 * (a listener that throws is reported, not propagated: one observer cannot break another, nor
 * the runtime).
 *
 * @module
 */
import { printable } from "./_printable.ts";
import { SupervisorGaveUpError } from "../protocol/errors.ts";
import type { SupervisorEvent } from "../supervisor/events.ts";
import type { LogEntry, RuntimeEvents } from "./types.ts";

type Listener = (event: never) => void;

/**
 * The listeners of one runtime, by event type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RuntimeListeners } from "./_events.ts";
 * const listeners = new RuntimeListeners();
 * const seen: string[] = [];
 * const off = listeners.on("start", (e) => seen.push(e.instance));
 * listeners.emit("start", { container: "api", instance: "api#0.1", incarnation: 1 }, () => {});
 * off();
 * listeners.emit("start", { container: "api", instance: "api#0.2", incarnation: 2 }, () => {});
 * assert.deepEqual(seen, ["api#0.1"]);
 * ```
 */
export class RuntimeListeners {
  readonly #listeners = new Map<keyof RuntimeEvents, Set<Listener>>();

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof RuntimeEvents>(
    type: K,
    listener: (event: RuntimeEvents[K]) => void,
  ): () => void {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, set = new Set());
    set.add(listener as Listener);
    return () => set.delete(listener as Listener);
  }

  /** Whether anyone listens to `type`. */
  has(type: keyof RuntimeEvents): boolean {
    return (this.#listeners.get(type)?.size ?? 0) > 0;
  }

  /**
   * Delivers `event` to every listener of `type`; `failed` hears of a listener that threw (never
   * for `log` listeners: reporting it by a log line would call them again).
   */
  emit<K extends keyof RuntimeEvents>(
    type: K,
    event: RuntimeEvents[K],
    failed: (message: string) => void,
  ): void {
    for (const listener of this.#listeners.get(type) ?? []) {
      try {
        (listener as (event: RuntimeEvents[K]) => void)(event);
      } catch (error) {
        if (type === "log") continue;
        failed(`a "${type}" listener threw: ${(error as Error).message}`);
      }
    }
  }

  /** Delivers a supervision event as the runtime event it is (`escalate` gets its error). */
  supervision(event: SupervisorEvent, failed: (message: string) => void): void {
    if (event.type === "escalate") {
      const { supervisor, intensity, period, why, child, failure } = event;
      const error = new SupervisorGaveUpError(supervisor, intensity, period, {
        child,
        failure,
        why,
      });
      return this.emit("escalate", { supervisor, child, error }, failed);
    }
    // The other events carry exactly the fields of their RuntimeEvents entry.
    const { type, ...fields } = event;
    this.emit(type, fields as RuntimeEvents[typeof type], failed);
  }
}

/** The default logger: one line on stderr per entry. */
export function defaultLogger(entry: LogEntry): void {
  // Message and source come from container code: shown, never obeyed by the terminal.
  console.error(
    `${new Date().toISOString()} ${entry.level.toUpperCase().padEnd(5)} [${
      printable(entry.source)
    }] ${printable(entry.message)}`,
  );
}
