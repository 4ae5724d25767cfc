/**
 * Every default of a topology in one documented object: what a key left out means.
 *
 * @module
 */
import type { RestartType, Strategy } from "../supervisor/spec.ts";
import type { BalanceStrategy, Defaults, Mode } from "./model.ts";

/**
 * Every default in one place.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULTS } from "./defaults.ts";
 * assert.equal(DEFAULTS.container.mode, "worker");
 * assert.equal(DEFAULTS.management.listen, "127.0.0.1:9090");
 * ```
 */
export const DEFAULTS: Defaults = Object.freeze({
  supervisor: Object.freeze({
    strategy: "one_for_one" as Strategy,
    intensity: 5,
    period: 10_000,
    backoff: Object.freeze({ min: 20, max: 5_000, jitter: 0.2 }),
  }),
  container: Object.freeze({
    mode: "worker" as Mode,
    replicas: 1,
    balance: "round_robin" as BalanceStrategy,
    restart: "permanent" as RestartType,
    shutdown: 5_000,
    keepalive: 5_000,
    buffer: 1_000,
  }),
  transports: Object.freeze({ keepalive: 5_000, maxFrame: 16 * 1024 * 1024 }),
  management: Object.freeze({ listen: "127.0.0.1:9090" }),
  placement: "spread",
  schedule: Object.freeze({ missed: "skip" as const }),
});
