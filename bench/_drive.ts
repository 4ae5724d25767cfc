// The load driver every bench shares: keeps `window` echo requests in flight and measures
// throughput and latency percentiles.
import type { Body } from "./_raw.ts";

/** What one load run measured. */
export interface LoadResult {
  /** Requests per second. */
  rps: number;
  /** Latency p50, ms. */
  p50: number;
  /** Latency p99, ms. */
  p99: number;
  /**
   * CPU time per request, µs, of the measuring process and its children (what the load cost the
   * machine; moves far less than the rate when other work shares the cores).
   */
  cpuUs?: number;
}

/** Sends one echo request. */
export type Call = (body: Body) => Promise<unknown>;

/** The 80-byte payload of every bench body. */
export const PAYLOAD = "x".repeat(80);

/**
 * Latency is timed for one request in this many: reading the clock twice per request cost more
 * than a fast mode's whole request in Deno (`performance.now()` is an op), so timing every one
 * measured the driver. bench/comedy/drive.cjs samples the same way.
 */
export const LATENCY_SAMPLE = 8;

/**
 * Keeps `window` requests constantly in flight (a new one leaves as each reply lands) until
 * `total` are answered; each reply must be its request's echo (ids from `idBase`). Latency
 * percentiles are over every {@linkcode LATENCY_SAMPLE}th request.
 */
export function drive(
  call: Call,
  total: number,
  window: number,
  idBase = 0,
): Promise<LoadResult> {
  const latencies = new Float64Array(Math.ceil(total / LATENCY_SAMPLE));
  let issued = 0;
  let done = 0;
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const issue = () => {
      const i = issued++;
      const id = idBase + i;
      const timed = i % LATENCY_SAMPLE === 0;
      const sent = timed ? performance.now() : 0;
      call({ id, payload: PAYLOAD }).then((reply) => {
        if (timed) latencies[i / LATENCY_SAMPLE] = performance.now() - sent;
        if ((reply as Body).id !== id) return reject(new Error(`reply ${i} is not its echo`));
        done++;
        if (issued < total) issue();
        else if (done === total) {
          const elapsed = performance.now() - t0;
          latencies.sort();
          resolve({
            rps: total / (elapsed / 1000),
            p50: latencies[Math.floor(latencies.length * 0.5)],
            p99: latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))],
          });
        }
      }, reject);
    };
    for (let i = 0; i < Math.min(window, total); i++) issue();
  });
}
