/**
 * A remote container's per-replica placement: `placement: spread` places each replica on its own
 * choice of agent (fewest replicas of it first), within `hosts: [a, b]` (the agents it may use)
 * and `max_per_host: N` (at most N of its replicas on one agent); `rebalance: auto` moves replicas
 * onto an agent as it links.
 *
 * @module
 */
import { describe } from "./_describe.ts";
import { didYouMean } from "./_suggest.ts";
import type { Path, Reader } from "./_reader.ts";
import type { Mode, SpreadSpec } from "./model.ts";

/**
 * Reads `placement:`, `hosts:` and `max_per_host:` of container `c`; `undefined` when none is set.
 *
 * @param reader The validation (it fails with a TopologyError naming the key).
 * @param c The container's map.
 * @param at Its path, its mode, its `host:` pin and the hosts the topology declares.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Reader } from "./_reader.ts";
 * import { readSpread } from "./_read_spread.ts";
 * const r = new Reader({ baseUrl: "file:///app/" });
 * const at = { path: ["containers", "api"], mode: "remote" as const, host: undefined, known: ["a", "b"] };
 * assert.deepEqual(readSpread(r, { placement: "spread", max_per_host: 2 }, at), { maxPerHost: 2 });
 * assert.throws(() => readSpread(r, { placement: "spread", hosts: ["c"] }, at), /unknown host "c"/);
 * ```
 */
export function readSpread(
  reader: Reader,
  c: Record<string, unknown>,
  at: { path: Path; mode: Mode; host: string | undefined; known: readonly string[] },
): SpreadSpec | undefined {
  const { path, mode, host, known } = at;
  if (c.placement === undefined) {
    for (const key of ["hosts", "max_per_host", "rebalance"]) {
      if (c[key] !== undefined) {
        reader.fail(
          [...path, key],
          `${key}: constrains where replicas are spread; expected it with placement: spread`,
        );
      }
    }
    return undefined;
  }
  if (c.placement !== "spread") {
    reader.fail(
      [...path, "placement"],
      `expected placement: spread (each replica placed on its own agent), got ${
        describe(c.placement)
      }`,
    );
  }
  if (mode !== "remote") {
    reader.fail(
      [...path, "placement"],
      `placement: spread places replicas on host agents, which needs mode: remote; expected no placement: with mode: ${mode}`,
    );
  }
  if (host !== undefined) {
    reader.fail(
      [...path, "placement"],
      `host: "${host}" pins every replica to one agent; expected either host: or placement: spread (use hosts: [${host}, …] to limit the agents)`,
    );
  }
  const spread: SpreadSpec = {};
  if (c.hosts !== undefined) {
    if (!Array.isArray(c.hosts) || c.hosts.length === 0) {
      reader.fail(
        [...path, "hosts"],
        `expected a non-empty list of host names from the top-level hosts:, got ${
          describe(c.hosts)
        }`,
      );
    }
    const hosts: string[] = [];
    c.hosts.forEach((h: unknown, i: number) => {
      if (typeof h !== "string" || !known.includes(h)) {
        reader.fail(
          [...path, "hosts", i],
          `unknown host ${typeof h === "string" ? `"${h}"` : describe(h)}${
            typeof h === "string" ? didYouMean(h, [...known]) : ""
          }; expected one of the hosts: ${known.join(", ")}`,
        );
      }
      if (hosts.includes(h)) {
        reader.fail([...path, "hosts", i], `host "${h}" is listed twice; expected each once`);
      }
      hosts.push(h);
    });
    spread.hosts = hosts;
  }
  if (c.max_per_host !== undefined) {
    spread.maxPerHost = reader.integer(c.max_per_host, [...path, "max_per_host"], 1, 1);
  }
  if (c.rebalance !== undefined) {
    const how = reader.oneOf(c.rebalance, [...path, "rebalance"], ["manual", "auto"], "manual");
    if (how === "auto") spread.rebalance = "auto";
  }
  return spread;
}
