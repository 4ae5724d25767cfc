/**
 * The topology: what an application is made of. One validated type shared by the YAML file and the
 * programmatic API; one validator that can be called without starting anything.
 *
 * Pure: no `Deno.*`, no YAML library. The loader passes in where each key sits in the file
 * (`locate`) and how to read the environment (`env`), so every error names file, line and key.
 *
 * @module
 */
import { TopologyError } from "../protocol/errors.ts";
import { parseDuration } from "./duration.ts";
import { didYouMean } from "./_suggest.ts";
import { grantOutside, type Permissions, validatePermissions } from "./permissions.ts";
import { ERROR_ACTIONS, type ErrorAction, type ErrorRule } from "../supervisor/error_rules.ts";
import type { RestartType, Strategy, SupervisorSpec } from "../supervisor/spec.ts";

/** How a container's replicas share its messages. */
export type BalanceStrategy = "round_robin" | "random" | "key_hash";
/** Every balance strategy. */
export const BALANCE_STRATEGIES: readonly BalanceStrategy[] = ["round_robin", "random", "key_hash"];
/** Where a container runs. */
export type Mode = "inline" | "worker" | "process" | "remote";
export type { RestartType, Strategy, SupervisorSpec };

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
  /** Handed to the container as `ctx.config`. */
  config: Record<string, unknown>;
  /** The host agent it is placed on (`mode: remote`). */
  host?: string;
  /** `on_error:` rules, first match wins (the built-in rules apply after them). */
  onError: ErrorRule[];
  /** Messages held for it per sending node while it restarts; beyond that senders fail fast. */
  buffer: number;
  /** Flags of the supervisor it is for its children. */
  supervisor: SupervisorSpec;
  /** Containers it supervises, in start order; they run inside its isolate (see docs). */
  children: ContainerSpec[];
}

/** A whole application. */
export interface Topology {
  /** Application name. */
  name: string;
  /** The root supervisor. */
  supervisor: SupervisorSpec;
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
}

/** The `transports:` block: how this runtime links with the other runtimes of the application. */
export interface TransportsSpec {
  /** This runtime's name among its peers (default: the application's name). */
  name: string;
  /** Where it accepts links from other runtimes (`tcp://host:port`, `unix:///path`, …). */
  listen?: string;
  /** The shared secret every link proves before any message (never logged). */
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
}

/** The shape of {@linkcode DEFAULTS}. */
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
}

/** Every default in one place. */
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
});

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
  /** `ctx.config`. */
  config?: Record<string, unknown>;
  /** Host agent, with `mode: remote`. */
  host?: string;
  /** Rules by error class: `{ match: "DbError", action: ["log", "resume"] }`. */
  on_error?: { match: string | string[]; action: string | string[] }[];
  /** Messages held per sender while it restarts (default 1000; 0 fails fast). */
  buffer?: number;
  /** Flags of the supervisor it is for `children`. */
  supervisor?: TopologyInput["supervisor"];
  /** Containers it supervises, in start order. */
  children?: Record<string, ContainerInput>;
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
  /** Links with the other runtimes of the application. */
  transports?: {
    name?: string;
    listen?: string;
    secret?: string;
    tls?: { cert?: string; key?: string; ca?: string };
    keepalive?: string | number;
    /** Largest frame a link accepts: bytes, or `64KiB`, `16MiB` (default 16 MiB). */
    max_frame?: string | number;
  };
  /** Runtimes this one joins: name → `{ address }`. */
  hosts?: Record<string, { address: string }>;
}

/** Where the input came from and how to read it. */
export interface ValidateOptions {
  /** The file, for error messages. */
  file?: string;
  /** Folder URL relative module paths resolve against (ends with `/`). */
  baseUrl: string;
  /** Line and column of a key path, where known. */
  locate?: (path: readonly (string | number)[]) => { line: number; column: number } | undefined;
  /** Reads an environment variable for `${VAR}`. */
  env?: (name: string) => string | undefined;
}

/** Byte multipliers of the size units. */
const UNITS: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };

const TOP_KEYS = ["name", "supervisor", "containers", "transports", "management", "hosts"];
const SUPERVISOR_KEYS = ["strategy", "intensity", "period", "backoff"];
const BACKOFF_KEYS = ["min", "max", "jitter"];
const CONTAINER_KEYS = [
  "module",
  "mode",
  "replicas",
  "balance",
  "restart",
  "shutdown",
  "keepalive",
  "permissions",
  "config",
  "host",
  "supervisor",
  "children",
  "on_error",
  "buffer",
];
const RULE_KEYS = ["match", "action"];
const MODES: readonly Mode[] = ["inline", "worker", "process", "remote"];
const RESTARTS: readonly RestartType[] = ["permanent", "transient", "temporary"];
const STRATEGIES: readonly Strategy[] = ["one_for_one", "one_for_all", "rest_for_one"];
const NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;

type Path = (string | number)[];

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
 * import { validateTopology } from "./topology.ts";
 * const t = validateTopology({ containers: { a: { module: "./a.ts", mode: "inline" } } }, { baseUrl: "file:///app/" });
 * console.assert(t.containers[0].module === "file:///app/a.ts");
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
 * import { validateContainer } from "./topology.ts";
 * const spec = validateContainer("cache", { module: "./cache.ts" }, { baseUrl: "file:///app/" });
 * console.assert(spec.mode === "worker" && spec.replicas === 1);
 * ```
 */
export function validateContainer(
  name: string,
  input: unknown,
  options: ValidateOptions & { parent?: ContainerSpec },
): ContainerSpec {
  return new Validator(options).container(name, input, [name], options.parent ?? null);
}

class Validator {
  readonly #o: ValidateOptions;
  readonly #names = new Map<string, string>();
  constructor(options: ValidateOptions) {
    this.#o = options;
  }

  fail(path: Path, message: string): never {
    const at = this.#o.locate?.(path);
    throw new TopologyError(message, {
      file: this.#o.file,
      line: at?.line,
      column: at?.column,
      key: path.join("."),
    });
  }

  map(value: unknown, path: Path, keys: readonly string[]): Record<string, unknown> {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      this.fail(path, `expected a map, got ${describe(value)}`);
    }
    for (const key of Object.keys(value)) {
      if (!keys.includes(key)) {
        this.fail(
          [...path, key],
          `unknown key "${key}"${didYouMean(key, keys)}; expected one of ${keys.join(", ")}`,
        );
      }
    }
    return value as Record<string, unknown>;
  }

  expand(value: unknown, path: Path): unknown {
    if (typeof value !== "string" || !value.includes("${")) return value;
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const found = this.#o.env?.(name);
      if (found === undefined) this.fail(path, `environment variable \${${name}} is not set`);
      return found;
    });
  }

  oneOf<T extends string>(value: unknown, path: Path, allowed: readonly T[], fallback: T): T {
    value = this.expand(value, path);
    if (value === undefined) return fallback;
    if (typeof value !== "string" || !allowed.includes(value as T)) {
      const hint = typeof value === "string" ? didYouMean(value, allowed) : "";
      this.fail(path, `expected one of ${allowed.join(", ")}, got ${describe(value)}${hint}`);
    }
    return value as T;
  }

  duration(value: unknown, path: Path, fallback: number): number {
    value = this.expand(value, path);
    if (value === undefined) return fallback;
    const ms = parseDuration(value);
    if (ms === undefined) {
      this.fail(path, `expected a duration such as 250ms, 5s or 2m, got ${describe(value)}`);
    }
    return ms;
  }

  /** A size in bytes: a whole number, or one with a unit (`64KiB`, `16MiB`, `1GiB`, `512B`). */
  size(value: unknown, path: Path, fallback: number): number {
    value = this.expand(value, path);
    if (value === undefined) return fallback;
    const m = typeof value === "number"
      ? [String(value), String(value), ""]
      : typeof value === "string"
      ? /^(\d+)\s*(B|KiB|MiB|GiB)?$/.exec(value.trim())
      : null;
    const n = m ? Number(m[1]) * (UNITS[m[2] || "B"] ?? NaN) : NaN;
    if (!Number.isSafeInteger(n) || n < 1024 || n > 2 ** 31) {
      this.fail(
        path,
        `expected a size between 1KiB and 2GiB such as 65536, 64KiB or 16MiB, got ${
          describe(value)
        }`,
      );
    }
    return n;
  }

  integer(value: unknown, path: Path, fallback: number, min: number): number {
    value = this.expand(value, path);
    if (value === undefined) return fallback;
    const n = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
    if (typeof n !== "number" || !Number.isInteger(n) || n < min) {
      this.fail(path, `expected a whole number >= ${min}, got ${describe(value)}`);
    }
    return n;
  }

  /** `${VAR}` is replaced in every string of the input, `config:` blocks included. */
  expandAll(value: unknown, path: Path): unknown {
    if (typeof value === "string") return this.expand(value, path);
    if (Array.isArray(value)) return value.map((item, i) => this.expandAll(item, [...path, i]));
    if (
      typeof value === "object" && value !== null &&
      Object.getPrototypeOf(value) === Object.prototype
    ) {
      return Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, this.expandAll(v, [...path, k])]),
      );
    }
    return value;
  }

  topology(input: unknown): Topology {
    const top = this.map(this.expandAll(input, []), [], TOP_KEYS);
    const name = this.expand(top.name ?? "kraken", ["name"]);
    if (typeof name !== "string" || name === "") {
      this.fail(["name"], `expected a non-empty string, got ${describe(name)}`);
    }
    for (const key of ["management"]) {
      if (top[key] !== undefined) {
        this.fail(
          [key],
          `"${key}" is not supported by this version of Kraken yet (links between runtimes and the management API come later)`,
        );
      }
    }
    const supervisor = this.supervisor(top.supervisor, ["supervisor"]);
    if (top.containers === undefined) {
      this.fail(["containers"], "expected a map of containers, but the key is missing");
    }
    const containers = this.map(top.containers, ["containers"], Object.keys(top.containers ?? {}));
    const specs: ContainerSpec[] = [];
    for (const [cname, raw] of Object.entries(containers)) {
      specs.push(this.container(cname, raw, ["containers", cname], null));
    }
    const hosts = this.hosts(top.hosts);
    const transports = this.transports(top.transports, name, Object.keys(hosts).length > 0);
    return {
      name,
      supervisor,
      containers: specs,
      file: this.#o.file,
      baseUrl: this.#o.baseUrl,
      hosts,
      ...(transports ? { transports } : {}),
    };
  }

  url(value: unknown, path: Path): string {
    if (typeof value !== "string" || !/^[a-z][a-z0-9+.-]*:\/\//.test(value)) {
      this.fail(path, `expected a URL such as tcp://127.0.0.1:7070, got ${describe(value)}`);
    }
    return value;
  }

  hosts(input: unknown): Record<string, { address: string }> {
    if (input === undefined) return {};
    const hosts = this.map(input, ["hosts"], Object.keys(input ?? {}));
    const out: Record<string, { address: string }> = {};
    for (const [name, raw] of Object.entries(hosts)) {
      const host = this.map(raw, ["hosts", name], ["address"]);
      out[name] = { address: this.url(host.address, ["hosts", name, "address"]) };
    }
    return out;
  }

  transports(input: unknown, appName: string, joins: boolean): TransportsSpec | undefined {
    if (input === undefined) {
      if (joins) {
        this.fail(["transports"], "hosts: needs a transports: block with the shared secret");
      }
      return undefined;
    }
    const t = this.map(input, ["transports"], [
      "name",
      "listen",
      "secret",
      "tls",
      "keepalive",
      "max_frame",
    ]);
    if (typeof t.secret !== "string" || t.secret === "") {
      this.fail(
        ["transports", "secret"],
        "links between runtimes need a shared secret (e.g. secret: ${KRAKEN_SECRET})",
      );
    }
    const name = t.name ?? appName;
    if (typeof name !== "string" || !NAME.test(name)) {
      this.fail(["transports", "name"], `expected a runtime name, got ${describe(name)}`);
    }
    const tls = t.tls === undefined
      ? undefined
      : this.map(t.tls, ["transports", "tls"], ["cert", "key", "ca"]) as TransportsSpec["tls"];
    const dir = new URL(".", this.#o.baseUrl);
    const file = (v: unknown, key: string) => {
      if (v === undefined) return undefined;
      if (typeof v !== "string") {
        this.fail(["transports", "tls", key], `expected a file path, got ${describe(v)}`);
      }
      return decodeURIComponent(new URL(v, dir).pathname);
    };
    return {
      name,
      ...(t.listen === undefined ? {} : { listen: this.url(t.listen, ["transports", "listen"]) }),
      secret: t.secret,
      ...(tls
        ? {
          tls: Object.fromEntries(
            Object.entries({
              cert: file(tls.cert, "cert"),
              key: file(tls.key, "key"),
              ca: file(tls.ca, "ca"),
            })
              .filter(([, v]) => v !== undefined),
          ),
        }
        : {}),
      keepalive: this.duration(t.keepalive, ["transports", "keepalive"], 5_000),
      maxFrame: this.size(t.max_frame, ["transports", "max_frame"], 16 * 1024 * 1024),
    };
  }

  supervisor(input: unknown, path: Path): SupervisorSpec {
    const d = DEFAULTS.supervisor;
    if (input === undefined) return { ...d, backoff: { ...d.backoff } };
    const s = this.map(input, path, SUPERVISOR_KEYS);
    const b = s.backoff === undefined
      ? {}
      : this.map(s.backoff, [...path, "backoff"], BACKOFF_KEYS);
    const jitter = b.jitter ?? d.backoff.jitter;
    if (typeof jitter !== "number" || jitter < 0 || jitter > 1) {
      this.fail(
        [...path, "backoff", "jitter"],
        `expected a number from 0 to 1, got ${describe(jitter)}`,
      );
    }
    const backoff = {
      min: this.duration(b.min, [...path, "backoff", "min"], d.backoff.min),
      max: this.duration(b.max, [...path, "backoff", "max"], d.backoff.max),
      jitter,
    };
    if (backoff.max < backoff.min) {
      this.fail([...path, "backoff", "max"], `must not be below backoff.min (${backoff.min} ms)`);
    }
    return {
      strategy: this.oneOf(s.strategy, [...path, "strategy"], STRATEGIES, d.strategy),
      intensity: this.integer(s.intensity, [...path, "intensity"], d.intensity, 0),
      period: this.duration(s.period, [...path, "period"], d.period),
      backoff,
    };
  }

  container(name: string, input: unknown, path: Path, parent: ContainerSpec | null): ContainerSpec {
    if (!NAME.test(name)) {
      this.fail(
        path,
        `container name "${name}" must start with a letter and hold only letters, digits, "_" and "-"`,
      );
    }
    const seen = this.#names.get(name);
    if (seen !== undefined) {
      this.fail(
        path,
        `container name "${name}" is already used at ${seen}; names are unique across the whole topology, children included`,
      );
    }
    this.#names.set(name, path.join("."));
    const c = this.map(input, path, CONTAINER_KEYS);
    const d = DEFAULTS.container;
    const moduleRaw = this.expand(c.module instanceof URL ? c.module.href : c.module, [
      ...path,
      "module",
    ]);
    if (typeof moduleRaw !== "string" || moduleRaw === "") {
      this.fail([...path, "module"], `expected a module path or URL, got ${describe(moduleRaw)}`);
    }
    let module: string;
    try {
      module = new URL(moduleRaw, this.#o.baseUrl).href;
    } catch {
      this.fail([...path, "module"], `"${moduleRaw}" is not a valid module path or URL`);
    }
    const mode = this.oneOf(c.mode, [...path, "mode"], MODES, d.mode);
    if (mode === "remote") {
      this.fail(
        [...path, "mode"],
        `mode "remote" needs host agents, which this version of Kraken does not have yet; use inline, worker or process`,
      );
    }
    const perms = validatePermissions(c.permissions, new URL(".", this.#o.baseUrl).pathname);
    if (!perms.ok) {
      this.fail(
        [...path, "permissions", ...(perms.issue.key ? [perms.issue.key] : [])],
        perms.issue.message,
      );
    }
    const config = c.config ?? {};
    if (typeof config !== "object" || config === null || Array.isArray(config)) {
      this.fail([...path, "config"], `expected a map, got ${describe(config)}`);
    }
    const host = this.expand(c.host, [...path, "host"]);
    if (host !== undefined && typeof host !== "string") {
      this.fail([...path, "host"], `expected a host name, got ${describe(host)}`);
    }
    if (parent) this.nested(parent, mode, perms.value, path);
    const spec: ContainerSpec = {
      name,
      module,
      mode,
      replicas: this.integer(c.replicas, [...path, "replicas"], d.replicas, 0),
      balance: this.oneOf(c.balance, [...path, "balance"], BALANCE_STRATEGIES, d.balance),
      restart: this.oneOf(c.restart, [...path, "restart"], RESTARTS, d.restart),
      shutdown: this.duration(c.shutdown, [...path, "shutdown"], d.shutdown),
      keepalive: this.duration(c.keepalive, [...path, "keepalive"], d.keepalive),
      permissions: perms.value,
      config: config as Record<string, unknown>,
      host,
      onError: this.rules(c.on_error, [...path, "on_error"]),
      buffer: this.integer(c.buffer, [...path, "buffer"], d.buffer, 0),
      supervisor: this.supervisor(c.supervisor, [...path, "supervisor"]),
      children: [],
    };
    if (c.children !== undefined) {
      const children = this.map(
        c.children,
        [...path, "children"],
        Object.keys(c.children ?? {}),
      );
      for (const [cname, raw] of Object.entries(children)) {
        spec.children.push(this.container(cname, raw, [...path, "children", cname], spec));
      }
    }
    return spec;
  }

  /** Where a child may run, given its parent: inside the parent's isolate, within its grant. */
  nested(parent: ContainerSpec, mode: Mode, grant: Permissions, path: Path): void {
    if (mode === "process" && parent.mode !== "inline") {
      this.fail(
        [...path, "mode"],
        `a process child cannot run under a ${parent.mode} container ("${parent.name}"): starting a process needs the "run" permission, which would let a sandboxed container escape its grant; make "${parent.name}" inline, or move this child up`,
      );
    }
    if (parent.mode === "inline") return; // its children start from the host, checked there
    const outside = grantOutside(grant, parent.permissions);
    if (outside) {
      this.fail(
        [...path, "permissions", outside.kind],
        `asks for ${outside.kind}${
          outside.value === true ? "" : ` "${outside.value}"`
        }, which its parent "${parent.name}" does not have; a child runs inside its parent's sandbox and can never be granted more`,
      );
    }
  }

  rules(input: unknown, path: Path): ErrorRule[] {
    if (input === undefined) return [];
    if (!Array.isArray(input)) {
      this.fail(
        path,
        `expected a list of rules like { match: DbError, action: restart }, got ${describe(input)}`,
      );
    }
    return input.map((raw, i): ErrorRule => {
      const rule = this.map(raw, [...path, i], RULE_KEYS);
      const match = typeof rule.match === "string" ? [rule.match] : rule.match;
      if (
        !Array.isArray(match) || match.length === 0 ||
        match.some((m) => typeof m !== "string" || m === "")
      ) {
        this.fail(
          [...path, i, "match"],
          `expected an error class name or a list of them (e.g. TypeError, or "*" for any), got ${
            describe(rule.match)
          }`,
        );
      }
      const actions = typeof rule.action === "string" ? [rule.action] : rule.action;
      const allowed = [...ERROR_ACTIONS, "log"];
      if (!Array.isArray(actions) || actions.length === 0) {
        this.fail(
          [...path, i, "action"],
          `expected one of ${allowed.join(", ")} or a list such as [log, resume], got ${
            describe(rule.action)
          }`,
        );
      }
      let action: ErrorAction | undefined;
      for (const a of actions) {
        if (typeof a !== "string" || !allowed.includes(a)) {
          this.fail(
            [...path, i, "action"],
            `expected one of ${allowed.join(", ")}, got ${describe(a)}${
              typeof a === "string" ? didYouMean(a, allowed) : ""
            }`,
          );
        }
        if (a === "log") continue;
        if (action !== undefined) {
          this.fail(
            [...path, i, "action"],
            `combines "${action}" and "${a}": a rule takes one of ${
              ERROR_ACTIONS.join(", ")
            }, plus log`,
          );
        }
        action = a as ErrorAction;
      }
      return {
        match: match as string[],
        action: action ?? "restart",
        log: actions.includes("log"),
      };
    });
  }
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "string") return `"${value}"`;
  return typeof value === "object" ? "a map" : `${typeof value} ${String(value)}`;
}
