/**
 * The transports a runtime uses when it is given none.
 *
 * @module
 */
import { memory } from "./memory.ts";
import { tcp } from "./tcp.ts";
import type { Transport } from "./transport.ts";
import { unix } from "./unix.ts";
import { ws } from "./ws.ts";

/**
 * The default set: `tcp()`, `unix()`, `ws()` (`ws://` and `wss://`) and `memory()`, new objects
 * on each call. Spread it to add a transport of your own beside the built-in ones.
 *
 * @returns A new list of the built-in transports.
 *
 * @example The built-in schemes
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultTransports } from "./defaults.ts";
 *
 * assert.deepEqual(defaultTransports().flatMap((t) => t.schemes), [
 *   "tcp",
 *   "unix",
 *   "ws",
 *   "wss",
 *   "memory",
 * ]);
 * ```
 */
export function defaultTransports(): Transport[] {
  return [tcp(), unix(), ws(), memory()];
}
