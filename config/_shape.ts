/**
 * The data both the validator and the JSON Schema read: every default, the keys each block
 * accepts, the values of enumerated keys, the patterns of textual values. Re-exported by
 * `topology.ts`.
 *
 * @module
 */
import { DURATION_PATTERN } from "./duration.ts";
import { ERROR_ACTIONS, type ErrorAction } from "../supervisor/error_rules.ts";
import type { RestartType, Strategy } from "../supervisor/spec.ts";
import type {
  BalanceStrategy,
  KeyPath,
  MissedTicks,
  Mode,
  Placement,
  ServeProtocol,
} from "./model.ts";
import { DEFAULTS } from "./defaults.ts";

export { DEFAULTS };

/**
 * Every balance strategy.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BALANCE_STRATEGIES } from "./topology.ts";
 * assert.ok(BALANCE_STRATEGIES.includes("key_hash"));
 * ```
 */
export const BALANCE_STRATEGIES: readonly BalanceStrategy[] = ["round_robin", "random", "key_hash"];

/** The shape of {@linkcode TOPOLOGY_KEYS}: each block's keys, as literal tuples. */
export interface TopologyKeys {
  /** The top level. */
  readonly topology: readonly [
    "name",
    "supervisor",
    "containers",
    "transports",
    "management",
    "hosts",
    "placement",
    "schedule",
    "leadership",
  ];
  /** `supervisor:`, at the top or in a container. */
  readonly supervisor: readonly ["strategy", "intensity", "period", "backoff"];
  /** `supervisor.backoff:`. */
  readonly backoff: readonly ["min", "max", "jitter"];
  /** A container, under `containers.<name>:` or `children.<name>:`. */
  readonly container: readonly [
    "module",
    "mode",
    "replicas",
    "balance",
    "restart",
    "shutdown",
    "keepalive",
    "permissions",
    "unstable",
    "config",
    "host",
    "placement",
    "hosts",
    "max_per_host",
    "rebalance",
    "runs_as",
    "on_error",
    "buffer",
    "max_memory",
    "supervisor",
    "children",
    "serve",
    "entities",
  ];
  /** A container's `serve:`. */
  readonly serve: readonly ["port", "hostname", "protocol", "websocket", "max_message"];
  /** A container's `entities:` (one made by `entities()`). */
  readonly entities: readonly ["idle", "store", "dir", "max", "on_error"];
  /** One `on_error:` rule. */
  readonly rule: readonly ["match", "action"];
  /** `transports:`. */
  readonly transports: readonly [
    "name",
    "listen",
    "secret",
    "tls",
    "keepalive",
    "max_frame",
    "nats",
  ];
  /** `transports.tls:`. */
  readonly tls: readonly ["cert", "key", "ca"];
  /** `transports.nats:`. */
  readonly nats: readonly ["servers", "user", "password", "token", "creds"];
  /** `management:`. */
  readonly management: readonly ["listen", "token"];
  /** One `hosts.<name>:` entry. */
  readonly host: readonly ["address"];
  /** `leadership:`. */
  readonly leadership: readonly ["nats", "bucket", "ttl"];
  /** One `schedule.<name>:` entry. */
  readonly schedule: readonly [
    "cron",
    "every",
    "timezone",
    "to",
    "entity",
    "topic",
    "body",
    "missed",
  ];
}

/**
 * The keys each block of a topology accepts, in the order the docs list them. The validator
 * refuses any other key, and the JSON Schema of `config/schema.ts` is built from the same lists.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TOPOLOGY_KEYS } from "./topology.ts";
 * assert.ok(TOPOLOGY_KEYS.management.includes("token"));
 * ```
 */
export const TOPOLOGY_KEYS: TopologyKeys = Object.freeze<TopologyKeys>({
  /** The top level. */
  topology: [
    "name",
    "supervisor",
    "containers",
    "transports",
    "management",
    "hosts",
    "placement",
    "schedule",
    "leadership",
  ],
  /** `supervisor:`, at the top or in a container. */
  supervisor: ["strategy", "intensity", "period", "backoff"],
  /** `supervisor.backoff:`. */
  backoff: ["min", "max", "jitter"],
  /** A container, under `containers.<name>:` or `children.<name>:`. */
  container: [
    "module",
    "mode",
    "replicas",
    "balance",
    "restart",
    "shutdown",
    "keepalive",
    "permissions",
    "unstable",
    "config",
    "host",
    "placement",
    "hosts",
    "max_per_host",
    "rebalance",
    "runs_as",
    "on_error",
    "buffer",
    "max_memory",
    "supervisor",
    "children",
    "serve",
    "entities",
  ],
  /** A container's `serve:`. */
  serve: ["port", "hostname", "protocol", "websocket", "max_message"],
  /** A container's `entities:` (one made by `entities()`). */
  entities: ["idle", "store", "dir", "max", "on_error"],
  /** One `on_error:` rule. */
  rule: ["match", "action"],
  /** `transports:`. */
  transports: ["name", "listen", "secret", "tls", "keepalive", "max_frame", "nats"],
  /** `transports.tls:`. */
  tls: ["cert", "key", "ca"],
  /** `transports.nats:`. */
  nats: ["servers", "user", "password", "token", "creds"],
  /** `management:`. */
  management: ["listen", "token"],
  /** One `hosts.<name>:` entry. */
  host: ["address"],
  /** `leadership:`. */
  leadership: ["nats", "bucket", "ttl"],
  /** One `schedule.<name>:` entry. */
  schedule: ["cron", "every", "timezone", "to", "entity", "topic", "body", "missed"],
});

/** A block of the topology: a key of {@linkcode TOPOLOGY_KEYS}. */
export type TopologyBlock = keyof TopologyKeys;

/**
 * The values of each enumerated key. `mode: remote` is listed because it is part of the format,
 * though this version refuses it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TOPOLOGY_VALUES } from "./topology.ts";
 * assert.equal(TOPOLOGY_VALUES.restart.join(), "permanent,transient,temporary");
 * ```
 */
export const TOPOLOGY_VALUES: {
  readonly mode: readonly Mode[];
  readonly balance: readonly BalanceStrategy[];
  readonly restart: readonly RestartType[];
  readonly strategy: readonly Strategy[];
  readonly action: readonly (ErrorAction | "log")[];
  readonly placement: readonly Placement[];
  readonly runs_as: readonly ("process" | "worker")[];
  readonly protocol: readonly ServeProtocol[];
  readonly missed: readonly MissedTicks[];
  readonly store: readonly ("none" | "memory" | "file")[];
  readonly entity_on_error: readonly ("keep" | "deactivate")[];
} = Object.freeze({
  mode: ["inline", "worker", "process", "remote"],
  balance: BALANCE_STRATEGIES,
  restart: ["permanent", "transient", "temporary"],
  strategy: ["one_for_one", "one_for_all", "rest_for_one"],
  action: [...ERROR_ACTIONS, "log"],
  placement: ["spread", "least_loaded"],
  runs_as: ["process", "worker"],
  protocol: ["http", "tcp"],
  missed: ["skip", "run_once"],
  store: ["none", "memory", "file"],
  entity_on_error: ["keep", "deactivate"],
});

/** The shape of {@linkcode TOPOLOGY_PATTERNS}. */
export interface TopologyPatterns {
  /** A container, host or runtime name. */
  readonly name: string;
  /** A duration with its unit. */
  readonly duration: string;
  /** A size in bytes, with an optional unit. */
  readonly size: string;
  /** A `${VAR}` reference. */
  readonly variable: string;
  /** A URL with a scheme. */
  readonly url: string;
}

/**
 * Regular expression sources of the textual values, shared with the JSON Schema: names
 * (containers, hosts, runtimes), durations, sizes, `${VAR}` references, URLs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TOPOLOGY_PATTERNS } from "./topology.ts";
 * assert.ok(new RegExp(TOPOLOGY_PATTERNS.size).test("16MiB"));
 * assert.ok(!new RegExp(TOPOLOGY_PATTERNS.name).test("9lives"));
 * ```
 */
export const TOPOLOGY_PATTERNS: TopologyPatterns = Object.freeze({
  /** A container, host or runtime name: a letter, then letters, digits, `_`, `-`. */
  name: "^[A-Za-z][A-Za-z0-9_-]*$",
  /** A duration with its unit: `250ms`, `1.5s`, `2m`. */
  duration: DURATION_PATTERN,
  /** A size: bytes, or with a unit `B`, `KiB`, `MiB`, `GiB`. */
  size: "^\\s*(\\d+)\\s*(B|KiB|MiB|GiB)?\\s*$",
  /** A `${VAR}` reference to an environment variable. */
  variable: "\\$\\{[A-Za-z_][A-Za-z0-9_]*\\}",
  /** A URL with a scheme: `tcp://…`, `ws://…`, `unix://…`. */
  url: "^[a-z][a-z0-9+.-]*://",
});

/**
 * Formats a key path the way error messages show it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatKeyPath } from "./topology.ts";
 * assert.equal(formatKeyPath(["containers", "a", "on_error", 0, "action"]), "containers.a.on_error[0].action");
 * ```
 */
export function formatKeyPath(path: KeyPath): string {
  let out = "";
  for (const step of path) {
    out += typeof step === "number" ? `[${step}]` : out === "" ? step : `.${step}`;
  }
  return out;
}
