/**
 * The topology model: the types of a validated topology ({@linkcode Topology}) and of one written
 * by hand ({@linkcode TopologyInput}), and the validator's options. Types only, so that the
 * validator, the data it reads (`_shape.ts`) and the entry point (`topology.ts`, which re-exports
 * all of them) depend on this file and not on each other.
 *
 * @module
 */
import type { ErrorRule } from "../supervisor/error_rules.ts";
import type { RestartType, Strategy, SupervisorSpec } from "../supervisor/spec.ts";
import type { FileSystemView, Permissions } from "./permissions.ts";
import type { UnstableFeature } from "./_unstable.ts";

/** How a container's replicas share its messages. */
export type BalanceStrategy = "round_robin" | "random" | "key_hash";
/** Where a container runs. */
export type Mode = "inline" | "worker" | "process" | "remote";

/** One container, validated, with defaults filled in. */
export interface ContainerSpec {
  /** Unique name across the topology. */
  name: string;
  /** Absolute URL of the module whose default export is the container. */
  module: string;
  /** Where it runs. */
  mode: Mode;
  /** How many instances. */
  replicas: number;
  /** How messages are shared among replicas. */
  balance: BalanceStrategy;
  /** When it is restarted. */
  restart: RestartType;
  /** Graceful stop timeout, ms; then it is killed. */
  shutdown: number;
  /** A worker or process silent this long (ms) is declared unresponsive. */
  keepalive: number;
  /** What the sandbox allows. */
  permissions: Permissions;
  /**
   * Deno unstable features its code needs: a process gets `--unstable-<name>` for each; a worker
   * or inline container shares its host's flags, which must include them.
   */
  unstable: UnstableFeature[];
  /** Handed to the container as `ctx.config`. */
  config: Record<string, unknown>;
  /** The host agent it is placed on (`mode: remote`); without it, the placement policy chooses. */
  host?: string;
  /**
   * `placement: spread` (`mode: remote`): each replica placed on its own choice of agent, within
   * `hosts:` and `max_per_host:`. Without it, all replicas run together on one agent.
   */
  spread?: SpreadSpec;
  /** How the agent runs a remote container: `process` (default) or `worker`. */
  runsAs?: "process" | "worker";
  /** `on_error:` rules, first match wins (the built-in rules apply after them). */
  onError: ErrorRule[];
  /** Messages held for it per sending node while it restarts; beyond that senders fail fast. */
  buffer: number;
  /**
   * Most memory an instance may use, bytes (`max_memory:`): a worker's isolate heap (V8 heap plus
   * external memory), a process's RSS. An instance seen over it at a heartbeat is restarted, its
   * exit reason `max_memory`. Absent: no limit.
   */
  maxMemory?: number;
  /** Flags of the supervisor it is for its children. */
  supervisor: SupervisorSpec;
  /** Containers it supervises, in start order; they run inside its isolate (see docs). */
  children: ContainerSpec[];
  /**
   * The address every replica listens on, when it serves one (`serve:`). Its `net` grant is then
   * part of `permissions` and `net` of `unstable` (port 0: the grant is added once the runtime
   * has picked the port).
   */
  serve?: ServeSpec;
  /** How it hosts entities (`entities:`, for a module made by `entities()`): overrides its options. */
  entities?: EntitiesSpec;
}

/** A container's `entities:`: what overrides the module's `entities()` options. */
export interface EntitiesSpec {
  /** Passivate an entity idle this long (ms). */
  idle?: number;
  /** Where state goes on passivation: `none`, `memory` or `file`. */
  store?: "none" | "memory" | "file";
  /** The file store's folder (absolute for a local container; the agent's for a remote one). */
  dir?: string;
  /** The most entities active at once in one replica. */
  max?: number;
  /** What a handler that throws does to its entity: keep it (default) or deactivate it unsaved. */
  onError?: "keep" | "deactivate";
}

/** A container's `serve:`: where every replica listens, and what it serves there. */
export interface ServeSpec {
  /** 0–65535; 0: a free port the runtime picks once, shared by every replica, kept across restarts. */
  port: number;
  /** The interface (default `0.0.0.0`, as `Deno.serve`'s). */
  hostname: string;
  /** `http` (the container's `fetch`, WebSocket upgrades included) or `tcp` (its `accept`). */
  protocol: ServeProtocol;
  /**
   * HTTP only: `true` serves through `Deno.serveHttp`, on which `Deno.upgradeWebSocket` works
   * (about half as fast); absent or `false`, the fast path, on which an upgrade is refused.
   */
  websocket?: boolean;
  /**
   * With `websocket: true`: the most bytes one incoming WebSocket message may take (`max_message:`,
   * default 1 MiB, at most Deno's 64 MiB); a larger one closes the socket with 1009.
   */
  maxMessage?: number;
}

/** What a serving container serves: HTTP (`fetch`) or raw TCP connections (`accept`). */
export type ServeProtocol = "http" | "tcp";

/** A whole application. */
export interface Topology {
  /** Application name. */
  name: string;
  /** The root supervisor. */
  supervisor: SupervisorSpec;
  /**
   * How `mode: remote` containers without `host:` are placed: `spread` (the agent running the
   * fewest) or `least_loaded` (fewest containers, then least memory).
   */
  placement: Placement;
  /** Containers in start order. */
  containers: ContainerSpec[];
  /** The file it came from, if any. */
  file?: string;
  /** Folder URL its relative module paths resolved against (and those of spawned containers). */
  baseUrl: string;
  /** Links to other runtimes of the same application, when it has any. */
  transports?: TransportsSpec;
  /** Runtimes this one joins, by name. */
  hosts: Record<string, { address: string }>;
  /** The management API (`kraken start` serves it), when the topology has a `management:` block. */
  management?: ManagementSpec;
  /** Where the root's lease lives (a standby root takes over), when there is a `leadership:` block. */
  leadership?: LeadershipSpec;
  /**
   * The `schedule:` block: jobs the root runtime sends to a container on a clock, in the order
   * written (none when absent). See docs/schedules.md.
   */
  schedules?: ScheduleSpec[];
}

/** What a schedule does when it finds ticks in the past: `skip` them, or `run_once` for all. */
export type MissedTicks = "skip" | "run_once";

/**
 * One entry of `schedule:` (or of `rt.schedule`), validated: when it fires (exactly one of
 * `cron` and `every`) and the request each tick sends.
 */
export interface ScheduleSpec {
  /** Its name (unique among the schedules); part of every tick id (`name@ISO time`). */
  name: string;
  /** A cron expression of 5 fields, or 6 with seconds first (`0 * * * * *`: every minute). */
  cron?: string;
  /** With `cron`: the IANA time zone it is read in (default UTC). */
  timezone?: string;
  /** A fixed period in ms (at least 1000), ticks on multiples of it since the Unix epoch. */
  every?: number;
  /** The container each tick is sent to, as a request. */
  to: string;
  /** An entity of `to` the tick is addressed to, when it hosts entities. */
  entity?: string;
  /** The topic of the request. */
  topic: string;
  /** Its body (any msgpack-able value; absent: none). */
  body?: unknown;
  /** Ticks found in the past when the runtime wakes: `skip` (default) or `run_once`. */
  missed: MissedTicks;
}

/** One schedule as written by hand: `{ every: 10s, to: cleaner, topic: cleanup }`. */
export interface ScheduleInput {
  /** Cron expression, 5 or 6 fields (seconds first). */
  cron?: string;
  /** IANA time zone of `cron` (default UTC). */
  timezone?: string;
  /** A period: `10s`, `1m`, or ms (at least 1s). */
  every?: string | number;
  /** Target container. */
  to: string;
  /** Target entity of `to`. */
  entity?: string;
  /** Topic of the request each tick sends. */
  topic: string;
  /** Body of that request. */
  body?: unknown;
  /** `skip` (default) or `run_once`. */
  missed?: MissedTicks;
}

/** The `transports:` block: how this runtime links with the other runtimes of the application. */
export interface TransportsSpec {
  /** This runtime's name among its peers (default: the application's name). */
  name: string;
  /** Where it accepts links from other runtimes (`tcp://host:port`, `unix:///path`, …). */
  listen?: string;
  /**
   * The shared secret every link proves before any message, and every NATS message is signed
   * with (never logged). Required for direct links (`listen`, `hosts:`); empty when a runtime that
   * only uses `nats` has none (NATS permissions are then the whole trust boundary).
   */
  secret: string;
  /** TLS for `tcp://`: certificate and key files to listen with, a CA file to trust. */
  tls?: { cert?: string; key?: string; ca?: string };
  /** A peer silent this long (ms) is declared unreachable and its link re-dialed. */
  keepalive: number;
  /**
   * Largest frame a link between runtimes accepts, in bytes (default 16 MiB); every runtime of the
   * application should agree. A message larger than this is refused at its sender.
   */
  maxFrame: number;
  /**
   * NATS as the inter-runtime engine, when set (see docs/transports.md, "NATS"): the servers this
   * runtime connects to and how it logs in. Credentials are never logged.
   */
  nats?: {
    /** Server URLs (`nats://host:port`), several for a cluster; the client fails over among them. */
    servers: string[];
    /** User name (with `password`). */
    user?: string;
    /** Password (with `user`). */
    password?: string;
    /** Token authentication. */
    token?: string;
    /** Absolute path of a `.creds` file (JWT and NKey seed), resolved against the topology's folder. */
    creds?: string;
  };
}

/** The `leadership:` block: the root's lease on NATS JetStream key-value (docs/distribution.md). */
export interface LeadershipSpec {
  /** NATS servers with JetStream (`nats-server -js`). */
  servers: string[];
  /** The key-value bucket holding the lease (default `<application>_leader`). */
  bucket: string;
  /** The lease's TTL, ms: a lost root's standby takes over after about this long. */
  ttl: number;
}

/** The `management:` block: where the management API listens and the token it demands. */
export interface ManagementSpec {
  /**
   * `host:port` it listens on, normalised (`9090` and `:9090` become `127.0.0.1:9090`, an IPv6
   * host is bracketed: `[::1]:9090`). Default `127.0.0.1:9090`. Split it with
   * `parseListenAddress`.
   */
  listen: string;
  /** The bearer token every request must carry (usually `${KRAKEN_TOKEN}`). Never logged. */
  token: string;
  /**
   * Set when `token` reads an environment variable that is not set (then `token` is empty): the
   * runtime runs without a management API, and serving one fails with this message, which names
   * the file, line and variable.
   */
  tokenUnset?: string;
}

/** The shape of `DEFAULTS`. */
export interface Defaults {
  /** Root supervisor flags. */
  readonly supervisor: Readonly<Omit<SupervisorSpec, "backoff">> & {
    readonly backoff: Readonly<SupervisorSpec["backoff"]>;
  };
  /** Container fields. */
  readonly container: Readonly<
    Pick<
      ContainerSpec,
      "mode" | "replicas" | "balance" | "restart" | "shutdown" | "keepalive" | "buffer"
    >
  >;
  /** `transports:` fields. */
  readonly transports: Readonly<Pick<TransportsSpec, "keepalive" | "maxFrame">>;
  /** `management:` fields. */
  readonly management: { readonly listen: string };
  /** `placement:`. */
  readonly placement: Placement;
  /** A `schedule:` entry's fields. */
  readonly schedule: { readonly missed: MissedTicks };
}

/**
 * Where a remote container's replicas may go (`placement: spread`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SpreadSpec } from "./model.ts";
 * const spread: SpreadSpec = { hosts: ["a", "b"], maxPerHost: 2 };
 * assert.equal(spread.maxPerHost, 2);
 * ```
 */
export interface SpreadSpec {
  /** The agents (names from the top-level `hosts:`) it may use; all of them when absent. */
  hosts?: string[];
  /** At most this many of its replicas on one agent; no limit when absent. */
  maxPerHost?: number;
  /**
   * `auto`: when an agent links, replicas move to it one at a time until even (as
   * `kraken rebalance` does); absent (`manual`): only `kraken rebalance` moves them.
   */
  rebalance?: "auto";
}

/** How remote containers are placed on host agents. */
export type Placement = "spread" | "least_loaded";
/** A container as written by hand (YAML or object): durations may be strings, module a URL. */
export interface ContainerInput {
  /** Module path (relative to the topology's folder) or URL. */
  module: string | URL;
  /** Where it runs (default `worker`). */
  mode?: Mode;
  /** Instances (default 1). */
  replicas?: number;
  /** Balancing (default `round_robin`). */
  balance?: BalanceStrategy;
  /** Restart type (default `permanent`). */
  restart?: RestartType;
  /** Graceful stop timeout (default `5s`). */
  shutdown?: string | number;
  /** Heartbeat timeout (default `5s`). */
  keepalive?: string | number;
  /** Sandbox grant (default none). */
  permissions?: { [kind: string]: boolean | string | string[] };
  /** Deno unstable features its code needs, e.g. `["net"]` (default none). */
  unstable?: string[];
  /** `ctx.config`. */
  config?: Record<string, unknown>;
  /** Host agent, with `mode: remote`. */
  host?: string;
  /** `placement: spread` (`mode: remote`): each replica on its own choice of agent. */
  placement?: "spread";
  /** With `placement: spread`: the agents (from `hosts:`) it may use. */
  hosts?: string[];
  /** With `placement: spread`: at most this many of its replicas on one agent. */
  max_per_host?: number | string;
  /** With `placement: spread`: `auto` rebalances onto an agent as it links (default `manual`). */
  rebalance?: "auto" | "manual";
  /** With `mode: remote`: run as a `process` (default) or a `worker` on the agent. */
  runs_as?: "process" | "worker";
  /** Rules by error class: `{ match: "DbError", action: ["log", "resume"] }`. */
  on_error?: { match: string | string[]; action: string | string[] }[];
  /** Messages held per sender while it restarts (default 1000; 0 fails fast). */
  buffer?: number;
  /** Restart an instance using more memory than this: bytes, or `256MiB`, `1GiB` (worker, process). */
  max_memory?: number | string;
  /** Flags of the supervisor it is for `children`. */
  supervisor?: TopologyInput["supervisor"];
  /** Containers it supervises, in start order. */
  children?: Record<string, ContainerInput>;
  /** Serve a port from every replica: `8080`, or `{ port, hostname?, protocol?, websocket? }`. */
  serve?: number | string | {
    port: number | string;
    hostname?: string;
    protocol?: ServeProtocol;
    websocket?: boolean | string;
    /** With `websocket: true`: the largest incoming message, `64KiB` (default `1MiB`). */
    max_message?: number | string;
  };
  /** For a module made by `entities()`: idle time, store and the file store's folder. */
  entities?: {
    idle?: number | string;
    store?: "none" | "memory" | "file";
    dir?: string;
    max?: number | string;
    on_error?: "keep" | "deactivate";
  };
}

/** A topology as written by hand. */
export interface TopologyInput {
  /** Application name. */
  name?: string;
  /** Root supervisor flags. */
  supervisor?: {
    strategy?: Strategy;
    intensity?: number;
    period?: string | number;
    backoff?: { min?: string | number; max?: string | number; jitter?: number };
  };
  /** Containers, in start order. */
  containers: Record<string, ContainerInput>;
  /** How remote containers without `host:` are placed: `spread` (default) or `least_loaded`. */
  placement?: Placement;
  /** Links with the other runtimes of the application. */
  transports?: {
    name?: string;
    listen?: string;
    secret?: string;
    tls?: { cert?: string; key?: string; ca?: string };
    keepalive?: string | number;
    /** Largest frame a link accepts: bytes, or `64KiB`, `16MiB` (default 16 MiB). */
    max_frame?: string | number;
    /** NATS servers and credentials (usually `${VAR}`); with `secret`, NATS messages are signed. */
    nats?: {
      servers: string | string[];
      user?: string;
      password?: string;
      token?: string;
      creds?: string;
    };
  };
  /** The management API: `listen` (default `127.0.0.1:9090`) and the `token` it demands. */
  management?: { listen?: string | number; token: string };
  /** Runtimes this one joins: name → `{ address }`. */
  hosts?: Record<string, { address: string }>;
  /** The root's lease, for a standby root: NATS servers with JetStream, bucket, TTL. */
  leadership?: { nats?: string | string[]; bucket?: string; ttl?: string | number };
  /** Jobs on a clock: name → `{ cron | every, to, topic, body?, missed? }`. */
  schedule?: Record<string, ScheduleInput>;
}

/** A path to a key: map keys and list indexes, e.g. `["containers", "api", "on_error", 0]`. */
export type KeyPath = readonly (string | number)[];

/** Where the input came from and how to read it. */
export interface ValidateOptions {
  /** The file, for error messages. */
  file?: string;
  /** Folder URL relative module paths resolve against (ends with `/`). */
  baseUrl: string;
  /**
   * Line and column of a key path, where known: of the key itself (`"key"`), or of its value
   * (`"value"`, the default; the key when the value spans lines). A path that does not exist
   * locates its nearest ancestor.
   */
  locate?: (
    path: readonly (string | number)[],
    target?: "key" | "value",
  ) => { line: number; column: number } | undefined;
  /** Reads an environment variable for `${VAR}`. */
  env?: (name: string) => string | undefined;
  /**
   * The file system, to follow symbolic links when a child's grant is compared with its parent's
   * (without it, paths are compared collapsed but as written).
   */
  fs?: FileSystemView;
}
