/**
 * A container's `unstable:` list: the Deno unstable features its code needs, checked against the
 * names Deno 2.9.6 knows and turned into `--unstable-<name>` flags for a subprocess.
 *
 * Pure: no `Deno.*` here. Whether a worker's host has a feature is the runtime's question
 * (`runtime/_host_flags.ts`): a worker shares its host process's flags.
 *
 * @module
 */
import { didYouMean } from "./_suggest.ts";
import { UNSTABLE_FEATURES, type UnstableFeature } from "./unstable.ts";

export { UNSTABLE_FEATURES, type UnstableFeature };

/** A problem in an `unstable:` list: the item's index (none for the list itself) and what was wrong. */
export interface UnstableIssue {
  /** Index of the bad item, when one item is bad. */
  index?: number;
  /** What was wrong and what was expected. */
  message: string;
}

/**
 * Checks an `unstable:` list (a single name counts as a one-item list) and drops duplicates.
 *
 * @param input The raw value (`undefined` means none).
 * @returns The features, or the first issue found.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateUnstable } from "./_unstable.ts";
 * const ok = validateUnstable(["net", "kv"]);
 * assert.ok(ok.ok);
 * assert.equal(ok.value.join(), "net,kv");
 * const bad = validateUnstable(["--unstable-net"]);
 * assert.ok(!bad.ok);
 * assert.ok(bad.issue.message.includes('write "net"'));
 * ```
 */
export function validateUnstable(
  input: unknown,
): { ok: true; value: UnstableFeature[] } | { ok: false; issue: UnstableIssue } {
  if (input === undefined || input === null) return { ok: true, value: [] };
  const list = typeof input === "string" ? [input] : input;
  if (!Array.isArray(list)) {
    return {
      ok: false,
      issue: {
        message: `expected a list of Deno unstable features such as [net, kv], got ${
          describe(input)
        }`,
      },
    };
  }
  const value: UnstableFeature[] = [];
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    const feature = typeof item === "string" ? item : "";
    if (!(UNSTABLE_FEATURES as readonly string[]).includes(feature)) {
      return { ok: false, issue: { index: i, message: unknownFeature(item) } };
    }
    if (!value.includes(feature as UnstableFeature)) value.push(feature as UnstableFeature);
  }
  return { ok: true, value };
}

/**
 * The `deno run` flags for a subprocess with these features.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toUnstableFlags } from "./_unstable.ts";
 * assert.equal(toUnstableFlags(["net"])[0], "--unstable-net");
 * ```
 */
export function toUnstableFlags(features: readonly UnstableFeature[]): string[] {
  return features.map((feature) => `--unstable-${feature}`);
}

function unknownFeature(item: unknown): string {
  const expected = `expected one of ${UNSTABLE_FEATURES.join(", ")}`;
  if (typeof item !== "string") return `${expected}, got ${describe(item)}`;
  // `--unstable-net` or `unstable-net`: the flag was written instead of the feature's name.
  const bare = item.replace(/^(--)?unstable-/, "");
  if (bare !== item && (UNSTABLE_FEATURES as readonly string[]).includes(bare)) {
    return `unknown unstable feature "${item}": write "${bare}" (the name without --unstable-)`;
  }
  return `unknown unstable feature "${item}"${didYouMean(item, UNSTABLE_FEATURES)}; ${expected}`;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "string") return `"${value}"`;
  return typeof value === "object" ? "a map" : `${typeof value} ${String(value)}`;
}
