/**
 * Limits the validator and the management API share.
 *
 * @module
 */

/**
 * The most replicas one container may have. Each replica is an isolate (a worker thread or an OS
 * process), so a number beyond this is taken for a typo (`replicas: 40000` for `4`) rather than
 * started until the machine runs out of memory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_REPLICAS } from "./_limits.ts";
 * assert.equal(MAX_REPLICAS, 1000);
 * ```
 */
export const MAX_REPLICAS = 1000;

/**
 * The most messages a node holds for one restarting container (its `buffer:`), per sender: a
 * topology's `buffer:` above it is refused, and a peer runtime that announces a larger one for
 * its own containers (route entry `q`) is held to it — a peer must not decide how much of this
 * runtime's memory waits for it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_BUFFER } from "./_limits.ts";
 * assert.equal(MAX_BUFFER, 100_000);
 * ```
 */
export const MAX_BUFFER = 100_000;

/**
 * The largest topology file read, bytes (1 MiB): wherever a topology is read (`Runtime.start`,
 * `rt.apply`, `POST /v1/apply {"path"}`, `kraken check`, `kraken start`, `kraken reload`), at most
 * this much is read, never the whole file first. A real topology is a few KiB.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_TOPOLOGY_BYTES } from "./_limits.ts";
 * assert.equal(MAX_TOPOLOGY_BYTES, 1024 * 1024);
 * ```
 */
export const MAX_TOPOLOGY_BYTES = 1024 * 1024;

/**
 * Enumerated values written in another tool's words, mapped to Kraken's: `mode: thread` is a
 * worker, `restart: always` is permanent. Used for "did you mean" only: they are still refused.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { VALUE_ALIASES } from "./_limits.ts";
 * assert.equal(VALUE_ALIASES.thread, "worker");
 * ```
 */
export const VALUE_ALIASES: Readonly<Record<string, string>> = Object.freeze({
  // mode (KrakenPHP's threads and processes; "local" for in the host)
  thread: "worker",
  threads: "worker",
  subprocess: "process",
  fork: "process",
  local: "inline",
  // restart (Docker's and Kubernetes' policies)
  always: "permanent",
  "unless-stopped": "permanent",
  "on-failure": "transient",
  on_failure: "transient",
  onfailure: "transient",
  never: "temporary",
  no: "temporary",
  // balance
  roundrobin: "round_robin",
  rr: "round_robin",
  hash: "key_hash",
  sticky: "key_hash",
});

/**
 * The range of `max_memory:`, bytes: 1 MiB (below it nothing starts: an idle worker's heap is a
 * few MiB) to 1024 GiB.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_MAX_MEMORY, MIN_MAX_MEMORY } from "./_limits.ts";
 * assert.equal(MIN_MAX_MEMORY, 2 ** 20);
 * assert.equal(MAX_MAX_MEMORY, 2 ** 40);
 * ```
 */
export const MIN_MAX_MEMORY = 2 ** 20;
/** See {@linkcode MIN_MAX_MEMORY}. */
export const MAX_MAX_MEMORY = 2 ** 40;
