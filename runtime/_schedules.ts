/**
 * The root runtime's scheduler: one timer per schedule, the decisions of `_schedule_plan.ts` at
 * each wake-up, and the delivery of each fired tick as one request (with retries) to its target.
 * Only the root runtime has one — a child isolate never reads `schedule:`, and a replica is a
 * target, never a scheduler — so a tick is fired once however many replicas its target has. The
 * state of a schedule (its next and last tick) lives here, not in the target: it survives a
 * restart of the target and an apply that keeps the schedule unchanged.
 *
 * @module
 */
import type { ScheduleSpec } from "../config/model.ts";
import type { LogLevel } from "../protocol/envelope.ts";
import type { Clock } from "../supervisor/runner.ts";
import { decideTick, firstState, type NextTick, tickId, type TickState } from "./_schedule_plan.ts";
import type { ScheduleEvent, ScheduleSnapshot } from "./types.ts";

/**
 * The longest a schedule's timer sleeps before it looks at the clock again (ms): a wall clock set
 * back or forward is noticed within it, and no timer outgrows what `setTimeout` takes.
 */
export const MAX_SLEEP_MS = 60_000;

/** What the scheduler needs from the runtime. */
export interface ScheduleSite {
  /** Wall-clock time (`now()` in ms since the epoch) and timers. */
  readonly clock: Clock;
  /** When a schedule fires (a cron expression is read by the cron parser, loaded on demand). */
  nextTick(spec: ScheduleSpec): Promise<NextTick>;
  /** Sends one tick to the schedule's target; settles with its outcome. */
  deliver(spec: ScheduleSpec, tick: string): Promise<unknown>;
  /** A tick fired, failed or was missed. */
  emit(event: ScheduleEvent): void;
  /** Logs a line as `runtime`. */
  log(level: LogLevel, message: string): void;
}

interface Entry {
  spec: ScheduleSpec;
  /** Its text form: a schedule given again unchanged keeps its state. */
  key: string;
  next: NextTick;
  state: TickState;
  timer: unknown;
  fired: number;
  missed: number;
  ok: number;
  failed: number;
  last: ScheduleSnapshot["last"];
}

/**
 * The schedules of one runtime, by name.
 *
 * @example
 * ```ts ignore
 * const schedules = new Schedules(site);
 * await schedules.set(topology.schedules ?? []);
 * console.log(schedules.snapshot()[0].next);
 * schedules.close();
 * ```
 */
export class Schedules {
  readonly #site: ScheduleSite;
  #entries = new Map<string, Entry>();
  #closed = false;

  constructor(site: ScheduleSite) {
    this.#site = site;
  }

  /**
   * Makes the schedules exactly `specs` (an apply): one given unchanged keeps its state (its last
   * tick is not fired again), a changed one is planned anew from now, one left out is removed.
   */
  async set(specs: readonly ScheduleSpec[]): Promise<void> {
    const made = await Promise.all(specs.map((spec) => this.#make(spec)));
    const next = new Map<string, Entry>();
    for (const entry of made) next.set(entry.spec.name, entry);
    for (const [name, old] of this.#entries) {
      if (next.get(name) !== old) this.#site.clock.clearTimer(old.timer);
    }
    this.#entries = next;
    for (const entry of made) if (entry.timer === undefined) this.#arm(entry);
  }

  /** Adds schedule `spec.name`, or replaces it (kept as it is when unchanged). */
  async put(spec: ScheduleSpec): Promise<void> {
    const entry = await this.#make(spec);
    const old = this.#entries.get(spec.name);
    if (old === entry) return;
    if (old) this.#site.clock.clearTimer(old.timer);
    this.#entries.set(spec.name, entry);
    this.#arm(entry);
  }

  /** Removes schedule `name`; `false` when there is none. A tick on its way is not recalled. */
  remove(name: string): boolean {
    const entry = this.#entries.get(name);
    if (!entry) return false;
    this.#site.clock.clearTimer(entry.timer);
    this.#entries.delete(name);
    return true;
  }

  /** The schedules, in order. */
  specs(): ScheduleSpec[] {
    return [...this.#entries.values()].map((e) => e.spec);
  }

  /** Each schedule with its next tick and its last one. */
  snapshot(): ScheduleSnapshot[] {
    return [...this.#entries.values()].map((e) => ({
      ...e.spec,
      next: e.state.next === null ? null : new Date(e.state.next).toISOString(),
      last: e.last && { ...e.last },
      fired: e.fired,
      missedTicks: e.missed,
      okTicks: e.ok,
      failedTicks: e.failed,
    }));
  }

  /** Stops every timer; ticks on their way settle unseen. */
  close(): void {
    this.#closed = true;
    for (const entry of this.#entries.values()) this.#site.clock.clearTimer(entry.timer);
  }

  /** The entry for `spec`: the existing one when the spec is unchanged, else a new one from now. */
  async #make(spec: ScheduleSpec): Promise<Entry> {
    const key = JSON.stringify(spec);
    const old = this.#entries.get(spec.name);
    if (old && old.key === key) return old;
    const next = await this.#site.nextTick(spec);
    return {
      spec,
      key,
      next,
      state: firstState(next, this.#site.clock.now()),
      timer: undefined,
      fired: 0,
      missed: 0,
      ok: 0,
      failed: 0,
      last: null,
    };
  }

  #arm(entry: Entry): void {
    if (this.#closed || entry.state.next === null) return;
    const wait = Math.min(Math.max(0, entry.state.next - this.#site.clock.now()), MAX_SLEEP_MS);
    entry.timer = this.#site.clock.setTimer(() => this.#wake(entry), wait);
  }

  #wake(entry: Entry): void {
    if (this.#closed || this.#entries.get(entry.spec.name) !== entry) return;
    const decision = decideTick(entry.next, entry.state, this.#site.clock.now(), entry.spec.missed);
    entry.state = decision.state;
    if (decision.missed > 0) {
      entry.missed += decision.missed;
      this.#site.emit({
        schedule: entry.spec.name,
        outcome: "missed",
        missed: decision.missed,
        policy: entry.spec.missed,
      });
    }
    if (decision.fire !== null) this.#fire(entry, decision.fire);
    this.#arm(entry);
  }

  #fire(entry: Entry, at: number): void {
    const { spec } = entry;
    const tick = tickId(spec.name, at);
    const started = this.#site.clock.now();
    const last: NonNullable<ScheduleSnapshot["last"]> = {
      tick,
      at: new Date(at).toISOString(),
      outcome: "running",
    };
    entry.fired++;
    entry.last = last;
    const settle = (error: Error | null) => {
      if (this.#closed) return;
      last.outcome = error ? "failed" : "ok";
      if (error) entry.failed++;
      else entry.ok++;
      last.ms = Math.round(this.#site.clock.now() - started);
      if (error) last.error = `${error.name}: ${error.message}`;
      this.#site.emit({
        schedule: spec.name,
        tick,
        outcome: last.outcome,
        ms: last.ms,
        ...(error ? { error: { name: error.name, message: error.message } } : {}),
      });
      if (error) {
        this.#site.log(
          "warn",
          `schedule "${spec.name}": tick ${tick} to ${spec.to}.${spec.topic} failed: ${error.name}: ${error.message}`,
        );
      }
    };
    // A delivery that throws before it returns a promise fails like one that rejects.
    Promise.resolve()
      .then(() => this.#site.deliver(spec, tick))
      .then(() => settle(null), (error) => settle(asError(error)));
  }
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
