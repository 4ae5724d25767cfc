/**
 * The validator behind `validateTopology` and `validateContainer`: one method per block, each
 * failing with a {@linkcode TopologyError} that names the key path and, through `locate`, the line.
 *
 * @module
 */
import { TopologyError } from "../protocol/errors.ts";
import { parseDuration } from "./duration.ts";
import { didYouMean } from "./_suggest.ts";
import {
  grantOutside,
  PERMISSION_KINDS,
  type Permissions,
  validatePermissions,
} from "./permissions.ts";
import { type UnstableFeature, validateUnstable } from "./_unstable.ts";
import { ERROR_ACTIONS, type ErrorAction, type ErrorRule } from "../supervisor/error_rules.ts";
import type { SupervisorSpec } from "../supervisor/spec.ts";
import { readListen } from "./_listen.ts";
import { MAX_REPLICAS, VALUE_ALIASES } from "./_limits.ts";
import {
  BALANCE_STRATEGIES,
  DEFAULTS,
  formatKeyPath,
  TOPOLOGY_KEYS,
  TOPOLOGY_PATTERNS,
  TOPOLOGY_VALUES,
  type TopologyBlock,
} from "./_shape.ts";
import type {
  ContainerSpec,
  ManagementSpec,
  Mode,
  Topology,
  TransportsSpec,
  ValidateOptions,
} from "./model.ts";

/** Byte multipliers of the size units. */
const UNITS: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };
const NAME = new RegExp(TOPOLOGY_PATTERNS.name);
const SIZE = new RegExp(TOPOLOGY_PATTERNS.size);
const URL_SCHEME = new RegExp(TOPOLOGY_PATTERNS.url);
const VARIABLE = new RegExp(TOPOLOGY_PATTERNS.variable, "g");
const LOCAL_MODES = TOPOLOGY_VALUES.mode.filter((m) => m !== "remote");
/** What a NATS subject token may not hold: whitespace, `.`, and the wildcards `*`, `>`. */
const NATS_TOKEN = /^[^\s.*>]+$/;
const NAME_RULE = `a letter, then letters, digits, "_" or "-"`;

/** Where a key belongs, for "unknown key here, it goes there" hints. */
const BLOCK_PLACES: Record<TopologyBlock | "permissions", string> = {
  topology: "at the top level",
  supervisor: "under supervisor:",
  backoff: "under supervisor.backoff:",
  container: "in a container",
  rule: "in an on_error: rule",
  transports: "under transports:",
  tls: "under transports.tls:",
  nats: "under transports.nats:",
  management: "under management:",
  host: "in a hosts: entry",
  permissions: "under permissions:",
};

/** Keys other tools use, with what to write here instead. */
const KEY_HINTS: Partial<Record<TopologyBlock, Record<string, string>>> = {
  management: Object.fromEntries(
    ["port", "host", "address", "bind", "hostname"].map((key) => [
      key,
      " (the address goes in listen:, e.g. listen: 127.0.0.1:9090)",
    ]),
  ),
  container: Object.fromEntries(
    ["instances", "count", "scale"].map((key) => [key, ' (did you mean "replicas"?)']),
  ),
};

type Path = (string | number)[];

/**
 * One validation: it remembers the container names seen (unique across the tree) and the hosts
 * declared, and throws at the first problem.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Validator } from "./_validate.ts";
 * const t = new Validator({ baseUrl: "file:///app/" }).topology({ containers: {} });
 * assert.equal(t.name, "kraken");
 * ```
 */
export class Validator {
  readonly #o: ValidateOptions;
  /** Container names seen so far, with where (names are unique across the whole tree). */
  readonly #names = new Map<string, Path>();
  #hosts: Record<string, { address: string }> = {};
  constructor(options: ValidateOptions) {
    this.#o = options;
  }

  /** The hosts a container alone (not a whole topology) may name. */
  knownHosts(hosts: Record<string, { address: string }>): void {
    this.#hosts = hosts;
  }

  fail(path: Path, message: string, target: "key" | "value" = "value"): never {
    const at = this.#o.locate?.(path, target);
    throw new TopologyError(message, {
      file: this.#o.file,
      line: at?.line,
      column: at?.column,
      key: formatKeyPath(path),
    });
  }

  /** A block with a fixed set of keys. */
  block(value: unknown, path: Path, block: TopologyBlock): Record<string, unknown> {
    const keys: readonly string[] = TOPOLOGY_KEYS[block];
    if (!isMap(value)) {
      this.fail(path, `expected a map with keys ${keys.join(", ")}, got ${describe(value)}`);
    }
    for (const key of Object.keys(value)) {
      if (keys.includes(key)) continue;
      const places = (Object.keys(BLOCK_PLACES) as (keyof typeof BLOCK_PLACES)[])
        .filter((b) =>
          b !== block &&
          (b === "permissions" ? PERMISSION_KINDS : TOPOLOGY_KEYS[b] as readonly string[])
            .includes(key)
        )
        .map((b) => BLOCK_PLACES[b]);
      const hint = KEY_HINTS[block]?.[key] ??
        (places.length > 0 ? ` here (it belongs ${places.join(" or ")})` : didYouMean(key, keys));
      this.fail(
        [...path, key],
        `unknown key "${key}"${hint}; expected one of ${keys.join(", ")}`,
        "key",
      );
    }
    return value;
  }

  /** A map whose keys are names the user chose: containers, children, hosts. */
  named(value: unknown, path: Path, what: string): Record<string, unknown> {
    if (!isMap(value)) this.fail(path, `expected a map of ${what}, got ${describe(value)}`);
    return value;
  }

  /** `${VAR}` is replaced in every string of the input, `config:` blocks included, once. */
  expandAll(value: unknown, path: Path): unknown {
    if (typeof value === "string") {
      return value.replace(VARIABLE, (ref: string) => {
        const name = ref.slice(2, -1);
        const found = this.#o.env?.(name);
        if (found === undefined) this.fail(path, `environment variable ${ref} is not set`);
        return found;
      });
    }
    if (Array.isArray(value)) return value.map((item, i) => this.expandAll(item, [...path, i]));
    if (isMap(value)) {
      return Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, this.expandAll(v, [...path, k])]),
      );
    }
    return value;
  }

  /**
   * `${VAR}` in a container spec given in code (`rt.spawn`, `ctx.spawn`): every key but `config`,
   * which is the caller's own data and may hold `${…}` meant for something else.
   */
  expandSpec(value: unknown, path: Path): unknown {
    if (!isMap(value)) return this.expandAll(value, path);
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        k === "config" ? v : k === "children" && isMap(v)
          ? Object.fromEntries(
            Object.entries(v).map(([n, c]) => [n, this.expandSpec(c, [...path, k, n])]),
          )
          : this.expandAll(v, [...path, k]),
      ]),
    );
  }

  oneOf<T extends string>(value: unknown, path: Path, allowed: readonly T[], fallback: T): T {
    if (value === undefined) return fallback;
    if (typeof value !== "string" || !allowed.includes(value as T)) {
      const alias = typeof value === "string" ? VALUE_ALIASES[value.toLowerCase()] : undefined;
      const hint = alias !== undefined && (allowed as readonly string[]).includes(alias)
        ? ` (did you mean "${alias}"?)`
        : typeof value === "string"
        ? didYouMean(value, allowed)
        : "";
      this.fail(path, `expected one of ${allowed.join(", ")}, got ${describe(value)}${hint}`);
    }
    return value as T;
  }

  duration(value: unknown, path: Path, fallback: number): number {
    if (value === undefined) return fallback;
    const ms = parseDuration(value);
    if (ms === undefined) {
      this.fail(
        path,
        `expected a duration such as 250ms, 5s or 2m (or a number of milliseconds), got ${
          describe(value)
        }`,
      );
    }
    return ms;
  }

  /** A size in bytes: a whole number, or one with a unit (`64KiB`, `16MiB`, `1GiB`, `512B`). */
  size(value: unknown, path: Path, fallback: number): number {
    if (value === undefined) return fallback;
    const m = typeof value === "number"
      ? [String(value), String(value), ""]
      : typeof value === "string"
      ? SIZE.exec(value)
      : null;
    const n = m ? Number(m[1]) * (UNITS[m[2] || "B"] ?? NaN) : NaN;
    if (!Number.isSafeInteger(n) || n < 1024 || n > 2 ** 31) {
      this.fail(
        path,
        `expected a size from 1KiB to 2GiB such as 65536, 64KiB or 16MiB, got ${describe(value)}`,
      );
    }
    return n;
  }

  /** A whole number; a string of digits counts (it may come from `${VAR}`). */
  integer(value: unknown, path: Path, fallback: number, min: number): number {
    if (value === undefined) return fallback;
    const n = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
    if (typeof n !== "number" || !Number.isSafeInteger(n) || n < min) {
      this.fail(path, `expected a whole number >= ${min}, got ${describe(value)}`);
    }
    return n;
  }

  /** A number of replicas: a whole number from 0 to {@linkcode MAX_REPLICAS}. */
  replicas(value: unknown, path: Path, fallback: number): number {
    const n = this.integer(value, path, fallback, 0);
    if (n > MAX_REPLICAS) {
      this.fail(
        path,
        `expected at most ${MAX_REPLICAS} replicas (each is a worker thread or a process), got ${n}`,
      );
    }
    return n;
  }

  /** A non-empty string. */
  string(value: unknown, path: Path, what: string): string {
    if (typeof value !== "string" || value === "") {
      this.fail(path, `expected ${what}, got ${describe(value)}`);
    }
    return value;
  }

  /**
   * A block holding a secret, given a plain value instead of a map (`management: ${KRAKEN_TOKEN}`):
   * refused without echoing what may be the secret itself.
   */
  notSecret(value: unknown, path: Path, block: TopologyBlock): void {
    if (!isMap(value)) {
      this.fail(
        path,
        `expected a map with keys ${TOPOLOGY_KEYS[block].join(", ")}, got ${describeSecret(value)}`,
      );
    }
  }

  /** A required key that is absent: the message says what it should hold. */
  missing(path: Path, expected: string): never {
    this.fail(path, `missing; expected ${expected}`);
  }

  topology(input: unknown): Topology {
    if (input === undefined || input === null) {
      this.fail([], "the topology is empty; expected a map with at least containers:");
    }
    const top = this.block(this.expandAll(input, []), [], "topology");
    const name = top.name === undefined ? "kraken" : this.string(
      top.name,
      ["name"],
      "the application's name, a non-empty string",
    );
    this.#hosts = this.hosts(top.hosts);
    const supervisor = this.supervisor(top.supervisor, ["supervisor"]);
    if (top.containers === undefined) {
      this.missing(
        ["containers"],
        "a map of containers, e.g. containers: { api: { module: ./api.ts } }",
      );
    }
    const containers = this.named(top.containers, ["containers"], "container names to containers");
    const specs: ContainerSpec[] = [];
    for (const [cname, raw] of Object.entries(containers)) {
      specs.push(this.container(cname, raw, ["containers", cname], null));
    }
    const transports = this.transports(top.transports, name);
    const management = this.management(top.management);
    const placement = this.oneOf(
      top.placement,
      ["placement"],
      TOPOLOGY_VALUES.placement,
      DEFAULTS.placement,
    );
    return {
      name,
      supervisor,
      placement,
      containers: specs,
      file: this.#o.file,
      baseUrl: this.#o.baseUrl,
      hosts: this.#hosts,
      ...(transports ? { transports } : {}),
      ...(management ? { management } : {}),
    };
  }

  url(value: unknown, path: Path, example: string): string {
    if (typeof value !== "string" || !URL_SCHEME.test(value)) {
      this.fail(path, `expected a URL such as ${example}, got ${describe(value)}`);
    }
    return value;
  }

  hosts(input: unknown): Record<string, { address: string }> {
    if (input === undefined) return {};
    const hosts = this.named(input, ["hosts"], "runtime names to { address: … }");
    const out: Record<string, { address: string }> = {};
    for (const [name, raw] of Object.entries(hosts)) {
      const path = ["hosts", name];
      if (!NAME.test(name)) {
        this.fail(path, `host name "${name}" is not a runtime name; expected ${NAME_RULE}`, "key");
      }
      const host = this.block(raw, path, "host");
      if (host.address === undefined) {
        this.missing(
          [...path, "address"],
          "the URL that runtime listens on, such as tcp://10.0.0.2:7070",
        );
      }
      out[name] = { address: this.url(host.address, [...path, "address"], "tcp://10.0.0.2:7070") };
    }
    return out;
  }

  transports(input: unknown, appName: string): TransportsSpec | undefined {
    const path = ["transports"];
    if (input === undefined) {
      if (Object.keys(this.#hosts).length > 0) {
        this.missing(
          path,
          "a transports: block with the shared secret, since hosts: joins other runtimes",
        );
      }
      return undefined;
    }
    this.notSecret(input, path, "transports");
    const t = this.block(input, path, "transports");
    const nats = t.nats === undefined ? undefined : this.nats(t.nats, [...path, "nats"], appName);
    // The secret authenticates direct links and signs NATS messages; a runtime that only uses NATS
    // may have none (NATS permissions are then its whole trust boundary).
    const linked = t.listen !== undefined || Object.keys(this.#hosts).length > 0;
    if (t.secret === undefined && nats && !linked) {
      // Nothing to prove: NATS does its own authentication.
    } else if (t.secret === undefined) {
      this.missing(
        [...path, "secret"],
        nats
          ? `the shared secret direct links prove, since ${
            t.listen !== undefined ? "listen:" : "hosts:"
          } is set (e.g. secret: \${KRAKEN_SECRET}); NATS alone needs none`
          : "the shared secret links between runtimes prove (e.g. secret: ${KRAKEN_SECRET})",
      );
    } else if (typeof t.secret !== "string" || t.secret === "") {
      this.fail(
        [...path, "secret"],
        `expected a non-empty string, got ${describeSecret(t.secret)}`,
      );
    }
    if (t.name === undefined && !NAME.test(appName)) {
      this.missing(
        [...path, "name"],
        `a runtime name (${NAME_RULE}): the default, the application's name "${appName}", is not one`,
      );
    }
    const name = t.name ?? appName;
    if (typeof name !== "string" || !NAME.test(name)) {
      this.fail([...path, "name"], `expected a runtime name (${NAME_RULE}), got ${describe(name)}`);
    }
    const tls = t.tls === undefined ? undefined : this.block(t.tls, [...path, "tls"], "tls");
    const dir = new URL(".", this.#o.baseUrl);
    const file = (key: "cert" | "key" | "ca") => {
      const v = tls?.[key];
      if (v === undefined) return undefined;
      return decodeURIComponent(
        new URL(this.string(v, [...path, "tls", key], "a file path"), dir).pathname,
      );
    };
    const d = DEFAULTS.transports;
    return {
      name,
      ...(t.listen === undefined
        ? {}
        : { listen: this.url(t.listen, [...path, "listen"], "tcp://127.0.0.1:7070") }),
      secret: (t.secret as string | undefined) ?? "",
      ...(tls
        ? {
          tls: Object.fromEntries(
            (["cert", "key", "ca"] as const).map((k) => [k, file(k)]).filter(([, v]) => v),
          ),
        }
        : {}),
      keepalive: this.duration(t.keepalive, [...path, "keepalive"], d.keepalive),
      maxFrame: this.size(t.max_frame, [...path, "max_frame"], d.maxFrame),
      ...(nats ? { nats } : {}),
    };
  }

  /** `transports.nats:` servers and credentials; credentials are never echoed. */
  nats(input: unknown, path: Path, appName: string): NonNullable<TransportsSpec["nats"]> {
    this.notSecret(input, path, "nats");
    const n = this.block(input, path, "nats");
    if (!NATS_TOKEN.test(appName)) {
      this.fail(
        ["name"],
        `expected an application name usable in NATS subjects (no spaces, ".", "*" or ">"), since transports.nats is set; got ${
          describe(appName)
        }`,
      );
    }
    const spath = [...path, "servers"];
    if (n.servers === undefined) {
      this.missing(spath, "a list of NATS server URLs, such as [nats://127.0.0.1:4222]");
    }
    // One string may list several, comma-separated, as NATS tools take them (NATS_URL).
    const list = typeof n.servers === "string"
      ? n.servers.split(",").map((url) => url.trim())
      : n.servers;
    if (!Array.isArray(list) || list.length === 0) {
      this.fail(
        spath,
        `expected a NATS server URL or a list of them, such as [nats://127.0.0.1:4222], got ${
          Array.isArray(list) ? "an empty list" : describe(n.servers)
        }`,
      );
    }
    const servers = list.map((v, i) =>
      this.natsServer(v, typeof n.servers === "string" ? spath : [...spath, i])
    );
    const credential = (key: "user" | "password" | "token") => {
      const v = n[key];
      if (v !== undefined && (typeof v !== "string" || v === "")) {
        this.fail([...path, key], `expected a non-empty string, got ${describeSecret(v)}`);
      }
      return v as string | undefined;
    };
    const user = credential("user");
    const password = credential("password");
    const token = credential("token");
    if (user !== undefined && password === undefined) {
      this.missing([...path, "password"], "the password of user (e.g. password: ${NATS_PASSWORD})");
    }
    if (password !== undefined && user === undefined) {
      this.missing([...path, "user"], "the user the password belongs to (e.g. user: ${NATS_USER})");
    }
    const creds = n.creds === undefined ? undefined : decodeURIComponent(
      new URL(
        this.string(n.creds, [...path, "creds"], "a .creds file path"),
        new URL(".", this.#o.baseUrl),
      ).pathname,
    );
    const ways = [user && "user", token && "token", creds && "creds"].filter(Boolean) as string[];
    if (ways.length > 1) {
      this.fail(
        [...path, ways[1]],
        `combines ${ways[1]} with ${
          ways[0]
        }; expected one way to log in: user and password, token, or creds`,
        "key",
      );
    }
    return {
      servers,
      ...(user !== undefined ? { user, password } : {}),
      ...(token !== undefined ? { token } : {}),
      ...(creds !== undefined ? { creds } : {}),
    };
  }

  /** One NATS server URL: `nats://host[:port]`, without credentials (they would be logged). */
  natsServer(value: unknown, path: Path): string {
    if (typeof value === "string" && /^[^/]*\/\/[^/]*@/.test(value)) {
      this.fail(
        path,
        "expected nats://host:port without credentials in it (URLs are logged); put them in transports.nats: user and password, or token",
      );
    }
    let url: URL | null = null;
    try {
      url = typeof value === "string" ? new URL(value) : null;
    } catch {
      // reported below
    }
    if (
      !url || url.protocol !== "nats:" || url.hostname === "" || !/^\/?$/.test(url.pathname) ||
      url.search !== "" || url.hash !== ""
    ) {
      this.fail(path, `expected a URL such as nats://127.0.0.1:4222, got ${describe(value)}`);
    }
    return value as string;
  }

  management(input: unknown): ManagementSpec | undefined {
    if (input === undefined) return undefined;
    const path = ["management"];
    this.notSecret(input, path, "management");
    const m = this.block(input, path, "management");
    let listen: string = DEFAULTS.management.listen;
    if (m.listen !== undefined) {
      const read = readListen(m.listen);
      if ("problem" in read) this.fail([...path, "listen"], read.problem);
      listen = read.listen;
    }
    if (m.token === undefined) {
      this.missing(
        [...path, "token"],
        "the token every request to the management API must carry (e.g. token: ${KRAKEN_TOKEN})",
      );
    }
    // The token is a secret: what it holds never appears in a message, only what kind of value.
    if (typeof m.token !== "string" || m.token === "") {
      this.fail(
        [...path, "token"],
        `expected a non-empty string (e.g. token: \${KRAKEN_TOKEN}), got ${
          describeSecret(m.token)
        }`,
      );
    }
    return { listen, token: m.token };
  }

  supervisor(input: unknown, path: Path): SupervisorSpec {
    const d = DEFAULTS.supervisor;
    if (input === undefined) return { ...d, backoff: { ...d.backoff } };
    const s = this.block(input, path, "supervisor");
    const strategy = this.oneOf(
      s.strategy,
      [...path, "strategy"],
      TOPOLOGY_VALUES.strategy,
      d.strategy,
    );
    const intensity = this.integer(s.intensity, [...path, "intensity"], d.intensity, 0);
    const period = this.duration(s.period, [...path, "period"], d.period);
    const bpath = [...path, "backoff"];
    const b = s.backoff === undefined ? {} : this.block(s.backoff, bpath, "backoff");
    const min = this.duration(b.min, [...bpath, "min"], d.backoff.min);
    const max = this.duration(b.max, [...bpath, "max"], d.backoff.max);
    if (max < min) {
      this.fail(
        [...bpath, "max"],
        `expected a duration >= backoff.min (${min} ms), got ${describe(b.max ?? max)}`,
      );
    }
    const jitterRaw = typeof b.jitter === "string" && b.jitter.trim() !== "" &&
        Number.isFinite(Number(b.jitter))
      ? Number(b.jitter)
      : b.jitter ?? d.backoff.jitter;
    if (typeof jitterRaw !== "number" || !(jitterRaw >= 0 && jitterRaw <= 1)) {
      this.fail([...bpath, "jitter"], `expected a number from 0 to 1, got ${describe(b.jitter)}`);
    }
    return { strategy, intensity, period, backoff: { min, max, jitter: jitterRaw } };
  }

  container(name: string, input: unknown, path: Path, parent: ContainerSpec | null): ContainerSpec {
    if (!NAME.test(name)) {
      this.fail(path, `container name "${name}" is not valid; expected ${NAME_RULE}`, "key");
    }
    const seen = this.#names.get(name);
    if (seen !== undefined) {
      const at = this.#o.locate?.(seen, "key");
      this.fail(
        path,
        `container name "${name}" is already used at ${formatKeyPath(seen)}${
          at ? ` (line ${at.line})` : ""
        }; names are unique across the whole topology, children included`,
        "key",
      );
    }
    this.#names.set(name, path);
    if (!isMap(input) && (TOPOLOGY_KEYS.container as readonly string[]).includes(name)) {
      // `containers: { module: ./a.ts }`: the level with the container's name was left out.
      this.fail(
        path,
        `expected a container name here, but "${name}" is a container key; write containers: { <name>: { ${name}: … } }`,
        "key",
      );
    }
    const c = this.block(input, path, "container");
    const d = DEFAULTS.container;
    const mode: Mode = c.mode === "remote"
      ? "remote"
      : this.oneOf(c.mode, [...path, "mode"], LOCAL_MODES, d.mode);
    if (mode === "remote") this.remote(parent, c, path);
    const host = this.host(c.host, [...path, "host"], mode);
    const module = mode === "remote"
      ? this.agentModule(c.module, [...path, "module"])
      : this.module(c.module, [...path, "module"]);
    const runsAs = c.runs_as === undefined ? undefined : mode !== "remote"
      ? this.fail(
        [...path, "runs_as"],
        `runs_as says how an agent runs a remote container; expected it only with mode: remote`,
      )
      : this.oneOf(c.runs_as, [...path, "runs_as"], ["process", "worker"] as const, "process");
    // A remote container's relative paths name places on its agent: the agent resolves them.
    const perms = validatePermissions(
      c.permissions,
      mode === "remote" ? null : decodeURIComponent(new URL(".", this.#o.baseUrl).pathname),
    );
    if (!perms.ok) {
      // The issue's key is `kind` or `kind[i]`: a path step, then maybe a list index.
      const m = /^([^[]*)(?:\[(\d+)\])?$/.exec(perms.issue.key);
      const steps = m && m[1] ? [m[1], ...(m[2] ? [Number(m[2])] : [])] : [];
      const unknownKind = m?.[1] && !m[2] &&
        !(PERMISSION_KINDS as readonly string[]).includes(m[1]);
      this.fail(
        [...path, "permissions", ...steps],
        perms.issue.message,
        unknownKind ? "key" : "value",
      );
    }
    const unstable = validateUnstable(c.unstable);
    if (!unstable.ok) {
      const at = unstable.issue.index;
      this.fail([...path, "unstable", ...(at === undefined ? [] : [at])], unstable.issue.message);
    }
    const config = c.config ?? {};
    if (!isMap(config)) {
      this.fail(
        [...path, "config"],
        `expected a map (handed to the container as ctx.config), got ${describe(config)}`,
      );
    }
    if (parent) this.nested(parent, mode, perms.value, path);
    if (parent) this.sharedFlags(parent, unstable.value, path);
    const spec: ContainerSpec = {
      name,
      module,
      mode,
      replicas: this.replicas(c.replicas, [...path, "replicas"], d.replicas),
      balance: this.oneOf(c.balance, [...path, "balance"], BALANCE_STRATEGIES, d.balance),
      restart: this.oneOf(c.restart, [...path, "restart"], TOPOLOGY_VALUES.restart, d.restart),
      shutdown: this.duration(c.shutdown, [...path, "shutdown"], d.shutdown),
      keepalive: this.duration(c.keepalive, [...path, "keepalive"], d.keepalive),
      permissions: perms.value,
      unstable: unstable.value,
      config,
      host,
      ...(runsAs ? { runsAs } : {}),
      onError: this.rules(c.on_error, [...path, "on_error"]),
      buffer: this.integer(c.buffer, [...path, "buffer"], d.buffer, 0),
      supervisor: this.supervisor(c.supervisor, [...path, "supervisor"]),
      children: [],
    };
    if (c.children !== undefined) {
      const children = this.named(c.children, [...path, "children"], "child names to containers");
      for (const [cname, raw] of Object.entries(children)) {
        spec.children.push(this.container(cname, raw, [...path, "children", cname], spec));
      }
    }
    return spec;
  }

  module(value: unknown, path: Path): string {
    if (value === undefined) {
      this.missing(
        path,
        "a module path (relative to the topology's folder) or URL, such as ./api.ts",
      );
    }
    const raw = this.string(
      value instanceof URL ? value.href : value,
      path,
      "a module path (relative to the topology's folder) or URL",
    );
    try {
      return new URL(raw, this.#o.baseUrl).href;
    } catch {
      this.fail(path, `expected a module path or URL, got "${raw}", which is neither`);
    }
  }

  /**
   * `mode: remote`: placed on a host agent (`kraken node`) among `hosts:`. Only at the top level
   * (the root runtime places it), without children (they would have to run on the agent too).
   */
  remote(parent: ContainerSpec | null, c: Record<string, unknown>, path: Path): void {
    if (parent !== null) {
      this.fail(
        [...path, "mode"],
        `a remote container is placed by the root runtime; expected mode: remote only under containers:, not under children:`,
      );
    }
    if (c.children !== undefined) {
      this.fail(
        [...path, "children"],
        `a remote container runs alone on its agent; expected no children: with mode: remote`,
      );
    }
    if (Object.keys(this.#hosts).length === 0) {
      this.fail(
        [...path, "mode"],
        `mode: remote places the container on a host agent; expected at least one agent under hosts: (started with kraken node)`,
      );
    }
  }

  /**
   * The module of a remote container, as the agent will resolve it: a path relative to the
   * agent's --root, or a jsr:/npm: specifier. Code is never shipped; a local path or URL is refused.
   */
  agentModule(value: unknown, path: Path): string {
    if (value === undefined) {
      this.missing(path, "a module path relative to the agent's --root, such as ./api.ts");
    }
    const raw = this.string(value, path, "a module path relative to the agent's --root");
    if (/^(jsr|npm):/.test(raw)) return raw;
    if (!/^\.\.?\//.test(raw) || raw.split("/").includes("..")) {
      this.fail(
        path,
        `a remote container's module is run from the agent's own --root; expected ./path/in/root.ts (no "..") or a jsr:/npm: specifier, got "${raw}"`,
      );
    }
    return raw;
  }

  /** `host:` names one of `hosts:`; it places the container there, which needs `mode: remote`. */
  host(value: unknown, path: Path, mode: Mode): string | undefined {
    if (value === undefined) return undefined;
    const known = Object.keys(this.#hosts);
    const host = this.string(value, path, `a host name from hosts:`);
    if (!known.includes(host)) {
      this.fail(
        path,
        `unknown host "${host}"${didYouMean(host, known)}; expected ${
          known.length > 0
            ? `one of the hosts: ${known.join(", ")}`
            : "a host declared under hosts:, and there is none"
        }`,
      );
    }
    if (mode !== "remote") {
      this.fail(
        path,
        `host "${host}" would place this container on a host agent, which needs mode: remote; expected no host: with mode: ${mode}`,
      );
    }
    return host;
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
    const outside = grantOutside(grant, parent.permissions, { fs: this.#o.fs });
    if (outside) {
      const resolved = outside.resolved === undefined
        ? ""
        : outside.resolved === null
        ? " (symbolic links that loop)"
        : ` (which is ${outside.resolved})`;
      this.fail(
        [...path, "permissions", outside.kind],
        `asks for ${outside.kind}${
          outside.value === true ? "" : ` "${outside.value}"${resolved}`
        }, which its parent "${parent.name}" does not have; a child runs inside its parent's sandbox and can never be granted more`,
      );
    }
  }

  /**
   * A child runs in its parent's process (an inline parent's is the runtime's, checked when it
   * starts): its unstable features must be among the parent's, whose process was started with them.
   */
  sharedFlags(parent: ContainerSpec, unstable: readonly UnstableFeature[], path: Path): void {
    if (parent.mode === "inline") return;
    const i = unstable.findIndex((f) => !parent.unstable.includes(f));
    if (i < 0) return;
    this.fail(
      [...path, "unstable", i],
      `needs unstable feature "${
        unstable[i]
      }", which its parent "${parent.name}" does not list; a child runs in its parent's process and shares its Deno flags: add it to the parent's unstable:`,
    );
  }

  rules(input: unknown, path: Path): ErrorRule[] {
    if (input === undefined) return [];
    if (!Array.isArray(input)) {
      this.fail(
        path,
        `expected a list of rules like [{ match: DbError, action: restart }], got ${
          describe(input)
        }`,
      );
    }
    const allowed = TOPOLOGY_VALUES.action;
    return input.map((raw, i): ErrorRule => {
      const rule = this.block(raw, [...path, i], "rule");
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
        if (typeof a !== "string" || !(allowed as readonly string[]).includes(a)) {
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

/** A plain map: what YAML gives for a mapping and `{…}` gives in code (not a URL, not a list). */
function isMap(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null (an empty value)";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "string") return value === "" ? "an empty string" : `"${value}"`;
  if (value instanceof URL) return `URL ${value.href}`;
  return typeof value === "object" ? "a map" : `${typeof value} ${String(value)}`;
}

/** What kind of value a secret is, never the value itself. */
function describeSecret(value: unknown): string {
  if (value === null) return "null (an empty value)";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "string") return value === "" ? "an empty string" : "a string";
  return typeof value === "object" ? "a map" : `a ${typeof value}`;
}
