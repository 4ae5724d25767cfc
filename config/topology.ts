/**
 * The topology: what an application is made of. One validated type shared by the YAML file and the
 * programmatic API; one validator that can be called without starting anything.
 *
 * Every error is a `TopologyError` whose message reads
 * `<file>:<line>:<column>: <key path>: <what is wrong>; <what was expected>` — for an object
 * topology `topology: <key path>: …` — e.g.
 * `kraken.yaml:5:15: containers.api.replicas: expected a whole number >= 0, got "many"`.
 * Key paths are dotted, list items indexed: `containers.api.on_error[0].action`.
 *
 * The keys each block accepts and the values each enumerated key takes are
 * {@linkcode TOPOLOGY_KEYS} and {@linkcode TOPOLOGY_VALUES}: the validator reads them, and so does
 * the JSON Schema of `config/schema.ts`, so the two cannot disagree.
 *
 * Pure: no `Deno.*`, no YAML library. The loader passes in where each key sits in the file
 * (`locate`) and how to read the environment (`env`), so every error names file, line and key.
 *
 * @module
 */
import type { RestartType, Strategy, SupervisorSpec } from "../supervisor/spec.ts";
import type { ContainerSpec, ScheduleSpec, Topology, ValidateOptions } from "./model.ts";
import { Validator } from "./_validate.ts";
import { readSchedule } from "./_read_schedule.ts";

export { parseListenAddress } from "./_listen.ts";
export { UNSTABLE_FEATURES, type UnstableFeature } from "./_unstable.ts";
export {
  BALANCE_STRATEGIES,
  DEFAULTS,
  formatKeyPath,
  TOPOLOGY_KEYS,
  TOPOLOGY_PATTERNS,
  TOPOLOGY_VALUES,
  type TopologyBlock,
  type TopologyKeys,
  type TopologyPatterns,
} from "./_shape.ts";

export type {
  BalanceStrategy,
  ContainerInput,
  ContainerSpec,
  Defaults,
  EntitiesSpec,
  KeyPath,
  LeadershipSpec,
  ManagementSpec,
  MissedTicks,
  Mode,
  Placement,
  ScheduleInput,
  ScheduleSpec,
  ServeProtocol,
  ServeSpec,
  SpreadSpec,
  Topology,
  TopologyInput,
  TransportsSpec,
  ValidateOptions,
} from "./model.ts";
export type { RestartType, Strategy, SupervisorSpec };

/**
 * Validates a topology and fills in defaults.
 *
 * @param input The parsed YAML or a {@linkcode TopologyInput} object.
 * @param options Where it came from.
 * @returns The validated topology.
 * @throws {TopologyError} Naming file, line, column and key of the first problem.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateTopology } from "./topology.ts";
 * const t = validateTopology({ containers: { a: { module: "./a.ts", mode: "inline" } } }, { baseUrl: "file:///app/" });
 * assert.equal(t.containers[0].module, "file:///app/a.ts");
 * ```
 */
export function validateTopology(input: unknown, options: ValidateOptions): Topology {
  const v = new Validator(options);
  return v.topology(input);
}

/**
 * Validates one container spec written by hand (for `rt.spawn` and `ctx.spawn`).
 *
 * @param name Its name.
 * @param input The spec, as in YAML.
 * @param options Where relative modules resolve; `parent` when it runs under another container.
 * @throws {TopologyError} Naming the key of the first problem.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateContainer } from "./topology.ts";
 * const spec = validateContainer("cache", { module: "./cache.ts" }, { baseUrl: "file:///app/" });
 * assert.equal(spec.mode, "worker");
 * assert.equal(spec.replicas, 1);
 * ```
 */
export function validateContainer(
  name: string,
  input: unknown,
  options: ValidateOptions & {
    parent?: ContainerSpec;
    /** The topology's `hosts:` (a `mode: remote` container is placed on one of them). */
    hosts?: Record<string, { address: string }>;
  },
): ContainerSpec {
  const v = new Validator(options);
  if (options.hosts) v.knownHosts(options.hosts);
  return v.container(name, v.expandSpec(input, [name]), [name], options.parent ?? null);
}

/**
 * Validates one schedule written by hand (for `rt.schedule`), as an entry of `schedule:` would be.
 * The cron expression's shape is checked here; `loadCron` checks its values.
 *
 * @param name Its name.
 * @param input `{ cron | every, timezone?, to, entity?, topic, body?, missed? }`.
 * @param options `containers`: the names a target may be; without it any name is taken.
 * @throws {TopologyError} Naming the key of the first problem and the bad value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateSchedule } from "./topology.ts";
 * const spec = validateSchedule("cleanup", { every: "10s", to: "cleaner", topic: "cleanup" }, {
 *   baseUrl: "file:///app/",
 *   containers: ["cleaner"],
 * });
 * assert.equal(spec.every, 10_000);
 * assert.throws(
 *   () => validateSchedule("c", { every: "10s", to: "cleaner", topic: "t", missed: "always" }, {
 *     baseUrl: "file:///app/",
 *   }),
 *   /c\.missed: expected one of skip, run_once, got "always"/,
 * );
 * ```
 */
export function validateSchedule(
  name: string,
  input: unknown,
  options: ValidateOptions & { containers?: readonly string[] },
): ScheduleSpec {
  const v = new Validator(options);
  return readSchedule(v, name, v.expandAll(input, [name]), {
    path: [name],
    targets: { names: options.containers ?? [], strict: options.containers !== undefined },
  });
}
