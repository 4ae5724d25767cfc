/**
 * What one isolate uses, measured where it runs and carried to its parent in every pong (`u`):
 * its memory (the V8 heap in use plus external memory, such as ArrayBuffers, of this isolate
 * alone: `Deno.memoryUsage()` reads the isolate it is called in) and its CPU time so far (a
 * worker: the CPU time of its own thread, `process.threadCpuUsage()`; a process: of the whole
 * process, `Deno.cpuUsage()`). The parent turns two readings into a CPU share over the time
 * between them ({@linkcode UsageMeter}).
 *
 * The functions are taken when the entry module is evaluated, before any container code runs, so
 * a container replacing `Deno.memoryUsage` does not change what is reported; the figures are
 * still the isolate's own word (a worker is a soft sandbox: see docs/security.md).
 *
 * This module imports no `node:` module: the first one an isolate loads starts Deno's Node
 * compatibility layer, ~20 ms of CPU, which a process container would pay at every start only to
 * read its CPU time (a worker's guard loads `node:process` anyway: its entry hands the thread
 * reader in).
 *
 * @module
 */

/** A reading: `[memory bytes, cpu µs so far]`. */
export type UsageReading = [number, number];

/** CPU time so far, µs, as `process.cpuUsage()` gives it. */
export interface CpuTimes {
  /** In user mode, µs. */
  user: number;
  /** In the kernel, µs. */
  system: number;
}

/**
 * The reader of this isolate's usage; call it at module evaluation, before container code.
 *
 * @param cpu Reads the CPU time to report: a worker's own thread (`process.threadCpuUsage`), a
 *   process's threads together ({@linkcode processCpu}). Called with no `this`.
 * @returns A function reading `[memory bytes, cpu µs so far]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { processCpu, usageReader } from "./_usage.ts";
 * const [memory, cpu] = usageReader(processCpu())();
 * assert.ok(memory > 0 && cpu >= 0);
 * ```
 */
export function usageReader(cpu: () => CpuTimes): () => UsageReading {
  const memoryUsage = Deno.memoryUsage;
  return () => {
    const m = memoryUsage();
    const t = cpu();
    return [m.heapUsed + m.external, t.user + t.system];
  };
}

/**
 * The CPU time of this whole process (all its threads), without loading Deno's Node layer:
 * `Deno.cpuUsage` (Deno 2.9.6 has it, untyped), else `process.cpuUsage` of the `process` global,
 * read when first called.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { processCpu } from "./_usage.ts";
 * const { user, system } = processCpu()();
 * assert.ok(user >= 0 && system >= 0);
 * ```
 */
export function processCpu(): () => CpuTimes {
  const own = (Deno as unknown as { cpuUsage?: () => CpuTimes }).cpuUsage;
  if (typeof own === "function") return () => own();
  return () => (globalThis as unknown as { process: { cpuUsage(): CpuTimes } }).process.cpuUsage();
}

/** An instance's usage as the tree shows it. */
export interface Usage {
  /** Bytes: a worker's isolate heap (plus external memory), a process's RSS. */
  memoryBytes: number | null;
  /** CPU share over the last heartbeat window, percent of one core (a process: all its threads). */
  cpuPercent: number | null;
}

/**
 * The shortest window a CPU share is taken over, ms: pongs come every 250 ms at most, and the
 * kernel counts a thread's CPU time in 10 ms ticks, so a share over one pong would move in steps
 * of 4%.
 */
export const CPU_WINDOW_MS = 1000;

/**
 * Turns the readings an isolate sends into its memory and CPU share: the share is the CPU time
 * between two readings at least {@linkcode CPU_WINDOW_MS} apart over the wall time between their
 * arrivals (the parent's clock).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UsageMeter } from "./_usage.ts";
 * const meter = new UsageMeter();
 * meter.read([8_000_000, 100_000], 1000);
 * assert.equal(meter.usage().cpuPercent, null); // one reading: no window yet
 * meter.read([8_500_000, 200_000], 1500); // within the window: memory only
 * assert.deepEqual(meter.usage(), { memoryBytes: 8_500_000, cpuPercent: null });
 * meter.read([9_000_000, 350_000], 2000); // 250 ms of CPU in 1 s
 * assert.deepEqual(meter.usage(), { memoryBytes: 9_000_000, cpuPercent: 25 });
 * ```
 */
export class UsageMeter {
  #memory: number | null = null;
  #cpu: number | null = null;
  /** The reading the current window started with. */
  #start: { cpu: number; at: number } | null = null;

  /** Takes a reading that arrived at `now` (ms). */
  read([memory, cpu]: UsageReading, now: number): void {
    this.#memory = memory;
    const start = this.#start;
    if (start && cpu < start.cpu) this.#start = { cpu, at: now }; // not the same clock: start over
    else if (!start) this.#start = { cpu, at: now };
    else if (now - start.at >= CPU_WINDOW_MS) {
      this.#cpu = Math.round((cpu - start.cpu) / (now - start.at)) / 10;
      this.#start = { cpu, at: now };
    }
  }

  /** The last memory reading and CPU share. */
  usage(): Usage {
    return { memoryBytes: this.#memory, cpuPercent: this.#cpu };
  }
}
