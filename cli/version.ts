/**
 * The CLI's version.
 *
 * @module
 */

/**
 * The CLI's version, kept equal to the package's (deno.json).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { VERSION } from "./version.ts";
 * assert.ok(/^\d+\.\d+\.\d+/.test(VERSION));
 * ```
 */
export const VERSION = "0.1.0";
