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
}

/** Sends one echo request. */
export type Call = (body: Body) => Promise<unknown>;

/** The 80-byte payload of every bench body. */
export const PAYLOAD = "x".repeat(80);

/**
 * Keeps `window` requests constantly in flight (a new one leaves as each reply lands) until
 * `total` are answered; each reply must be its request's echo (ids from `idBase`).
 */
export function drive(
  call: Call,
  total: number,
  window: number,
  idBase = 0,
): Promise<LoadResult> {
  const latencies = new Float64Array(total);
  let issued = 0;
  let done = 0;
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const issue = () => {
      const i = issued++;
      const id = idBase + i;
      const sent = performance.now();
      call({ id, payload: PAYLOAD }).then((reply) => {
        latencies[i] = performance.now() - sent;
        if ((reply as Body).id !== id) return reject(new Error(`reply ${i} is not its echo`));
        done++;
        if (issued < total) issue();
        else if (done === total) {
          const elapsed = performance.now() - t0;
          latencies.sort();
          resolve({
            rps: total / (elapsed / 1000),
            p50: latencies[Math.floor(total * 0.5)],
            p99: latencies[Math.min(total - 1, Math.floor(total * 0.99))],
          });
        }
      }, reject);
    };
    for (let i = 0; i < Math.min(window, total); i++) issue();
  });
}
