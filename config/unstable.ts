/**
 * The Deno unstable features a container may list under `unstable:` (checked, and turned into
 * `--unstable-<name>` flags, by `_unstable.ts`).
 *
 * @module
 */

/**
 * One unstable feature of Deno (`--unstable-<name>`, `"unstable": [<name>]` in deno.json).
 *
 * @example A container that needs Deno KV
 * ```ts
 * import assert from "node:assert/strict";
 * import { type UnstableFeature, validateContainer } from "jsr:@kraken/kraken";
 * const unstable: UnstableFeature[] = ["kv"];
 * const spec = validateContainer("store", { module: "./store.ts", mode: "process", unstable }, {
 *   baseUrl: "file:///app/",
 * });
 * assert.deepEqual(spec.unstable, ["kv"]);
 * ```
 */
export type UnstableFeature =
  | "bare-node-builtins"
  | "broadcast-channel"
  | "bundle"
  | "byonm"
  | "cron"
  | "detect-cjs"
  | "ffi"
  | "fs"
  | "http"
  | "kv"
  | "lazy-dynamic-imports"
  | "lockfile-v5"
  | "net"
  | "no-legacy-abort"
  | "node-globals"
  | "npm-lazy-caching"
  | "otel"
  | "process"
  | "raw-imports"
  | "sloppy-imports"
  | "subdomain-wildcards"
  | "temporal"
  | "tsgo"
  | "unsafe-proto"
  | "vsock"
  | "webgpu"
  | "worker-options";

/**
 * The unstable features Deno 2.9.6 accepts as `--unstable-<name>` (`--unstable-hmr` is left out:
 * it is a watch mode, not a feature).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UNSTABLE_FEATURES } from "./unstable.ts";
 * assert.ok(UNSTABLE_FEATURES.includes("net"));
 * ```
 */
export const UNSTABLE_FEATURES: readonly UnstableFeature[] = Object.freeze([
  "bare-node-builtins",
  "broadcast-channel",
  "bundle",
  "byonm",
  "cron",
  "detect-cjs",
  "ffi",
  "fs",
  "http",
  "kv",
  "lazy-dynamic-imports",
  "lockfile-v5",
  "net",
  "no-legacy-abort",
  "node-globals",
  "npm-lazy-caching",
  "otel",
  "process",
  "raw-imports",
  "sloppy-imports",
  "subdomain-wildcards",
  "temporal",
  "tsgo",
  "unsafe-proto",
  "vsock",
  "webgpu",
  "worker-options",
]);
