// A clock moved by hand, for the decisions that run on an injected Clock (supervisor/runner.ts's
// interface): timers fire in order as time is advanced, and promise callbacks run after each, so a
// test of a lease, a keepalive or a backoff takes no real time.
import type { Clock } from "../supervisor/runner.ts";

/** Lets promise callbacks run (no timer involved). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

export class FakeClock implements Clock {
  #now: number;
  #next = 1;
  readonly #timers = new Map<number, { at: number; fire: () => void }>();

  constructor(start = 1_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(fire: () => void, ms: number): number {
    const id = this.#next++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), fire });
    return id;
  }

  clearTimer(timer: unknown): void {
    this.#timers.delete(timer as number);
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time by `ms`, firing due timers in order, letting promise callbacks run after each. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    await flush();
    while (true) {
      let due: [number, { at: number; fire: () => void }] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].at <= end && (!due || entry[1].at < due[1].at)) due = entry;
      }
      if (!due) break;
      this.#timers.delete(due[0]);
      this.#now = due[1].at;
      due[1].fire();
      await flush();
    }
    this.#now = end;
    await flush();
  }
}
