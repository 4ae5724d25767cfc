/**
 * The validator behind `validateTopology` and `validateContainer`: the topology's top level, its
 * `hosts:`, and the tree of containers (names unique across it, each child run where its parent
 * allows). The other blocks are read by their own files (`_read_*.ts`), values by
 * {@linkcode Reader}; every failure is a `TopologyError` naming the key path and, through
 * `locate`, the line.
 *
 * @module
 */
import { didYouMean } from "./_suggest.ts";
import {
  grantOutside,
  PERMISSION_KINDS,
  type Permissions,
  validatePermissions,
} from "./permissions.ts";
import { type UnstableFeature, validateUnstable } from "./_unstable.ts";
import {
  BALANCE_STRATEGIES,
  DEFAULTS,
  formatKeyPath,
  TOPOLOGY_KEYS,
  TOPOLOGY_VALUES,
} from "./_shape.ts";
import type { ContainerSpec, Mode, Topology } from "./model.ts";
import { describe, isMap } from "./_describe.ts";
import { NAME, NAME_RULE, type Path, Reader } from "./_reader.ts";
import { readErrorRules, readSupervisor } from "./_read_supervisor.ts";
import { readTransports } from "./_read_transports.ts";
import { readManagement } from "./_read_management.ts";
import { readLeadership } from "./_read_leadership.ts";
import { readSchedules } from "./_read_schedule.ts";
import { readListen } from "./_listen.ts";
import { readServe, withServeGrant, withServeUnstable } from "./_read_serve.ts";
import { readEntities } from "./_read_entities.ts";
import { readSpread } from "./_read_spread.ts";
import { overlaps, transportsAddress } from "./_ports.ts";
import type { ServeSpec } from "./model.ts";

const LOCAL_MODES = TOPOLOGY_VALUES.mode.filter((m) => m !== "remote");

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
export class Validator extends Reader {
  /** Container names seen so far, with where (names are unique across the whole tree). */
  readonly #names = new Map<string, Path>();
  #hosts: Record<string, { address: string }> = {};
  /** The containers that serve, in the order read, with where their `serve:` is. */
  readonly #serving: { name: string; path: Path; serve: ServeSpec; on: string }[] = [];

  /** The hosts a container alone (not a whole topology) may name. */
  knownHosts(hosts: Record<string, { address: string }>): void {
    this.#hosts = hosts;
  }

  /** A whole topology, `${VAR}` expanded first. */
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
    const supervisor = readSupervisor(this, top.supervisor, ["supervisor"]);
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
    const transports = readTransports(this, top.transports, { appName: name, hosts: this.#hosts });
    const management = readManagement(this, top.management);
    const leadership = readLeadership(this, top.leadership, name, transports);
    this.ports(management?.listen, transports?.listen);
    const placement = this.oneOf(
      top.placement,
      ["placement"],
      TOPOLOGY_VALUES.placement,
      DEFAULTS.placement,
    );
    // A schedule may address a peer runtime's container only when there are peers.
    const schedules = readSchedules(this, top.schedule, {
      names: [...this.#names.keys()],
      strict: transports === undefined && Object.keys(this.#hosts).length === 0,
    });
    return {
      name,
      supervisor,
      placement,
      containers: specs,
      schedules,
      file: this.options.file,
      baseUrl: this.options.baseUrl,
      hosts: this.#hosts,
      ...(transports ? { transports } : {}),
      ...(management ? { management } : {}),
      ...(leadership ? { leadership } : {}),
    };
  }

  /** `hosts:`, the runtimes (host agents) this one links to, by name. */
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

  /** One container and, depth first, its children; `parent` is `null` at the top level. */
  container(name: string, input: unknown, path: Path, parent: ContainerSpec | null): ContainerSpec {
    if (!NAME.test(name)) {
      this.fail(path, `container name "${name}" is not valid; expected ${NAME_RULE}`, "key");
    }
    const seen = this.#names.get(name);
    if (seen !== undefined) {
      const at = this.options.locate?.(seen, "key");
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
    const spread = readSpread(this, c, { path, mode, host, known: Object.keys(this.#hosts) });
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
      mode === "remote" ? null : decodeURIComponent(new URL(".", this.options.baseUrl).pathname),
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
    const serve = readServe(this, c.serve, [...path, "serve"]);
    if (serve && parent) this.servesInParent(parent, path);
    // Where it listens: this runtime's machine, or the agent of a remote container's host: (one
    // placed by placement: could be on any, so it is left out).
    const on = mode === "remote" ? (host === undefined ? null : `host ${host}`) : "local";
    if (serve && on !== null) this.#serving.push({ name, path: [...path, "serve"], serve, on });
    if (parent) this.nested(parent, mode, perms.value, path);
    if (parent) this.sharedFlags(parent, unstable.value, path);
    // What serving takes follows from `serve:`: the grant to listen there (port 0: once picked),
    // and `reusePort`, so every replica listens on the same port.
    const permissions = serve && serve.port !== 0
      ? withServeGrant(perms.value, serve)
      : perms.value;
    const entities = readEntities(this, c.entities, [...path, "entities"], {
      mode,
      grant: permissions,
      base: mode === "remote"
        ? null
        : decodeURIComponent(new URL(".", this.options.baseUrl).pathname),
    });
    const spec: ContainerSpec = {
      name,
      module,
      mode,
      replicas: this.replicas(c.replicas, [...path, "replicas"], d.replicas),
      balance: this.oneOf(c.balance, [...path, "balance"], BALANCE_STRATEGIES, d.balance),
      restart: this.oneOf(c.restart, [...path, "restart"], TOPOLOGY_VALUES.restart, d.restart),
      shutdown: this.duration(c.shutdown, [...path, "shutdown"], d.shutdown),
      keepalive: this.duration(c.keepalive, [...path, "keepalive"], d.keepalive),
      permissions,
      unstable: serve ? withServeUnstable(unstable.value) : unstable.value,
      config,
      host,
      ...(spread ? { spread } : {}),
      ...(runsAs ? { runsAs } : {}),
      onError: readErrorRules(this, c.on_error, [...path, "on_error"]),
      buffer: this.buffer(c.buffer, [...path, "buffer"], d.buffer),
      ...this.maxMemory(c.max_memory, mode, [...path, "max_memory"]),
      supervisor: readSupervisor(this, c.supervisor, [...path, "supervisor"]),
      children: [],
      ...(serve ? { serve } : {}),
      ...(entities ? { entities } : {}),
    };
    if (spread) this.spreadFits(spread, spec.replicas, path);
    if (c.children !== undefined) {
      const children = this.named(c.children, [...path, "children"], "child names to containers");
      for (const [cname, raw] of Object.entries(children)) {
        spec.children.push(this.container(cname, raw, [...path, "children", cname], spec));
      }
    }
    return spec;
  }

  /**
   * Two listeners on one port (same TCP port, hostnames equal or either a wildcard; port 0 is
   * picked and never collides): two `serve:` would split the traffic silently, and one on the
   * management or transports port fails late. Failed at the later container's `serve`.
   */
  ports(management: string | undefined, transports: string | undefined): void {
    const others: { owner: string; hostname: string; port: number; on: string }[] = [];
    const at = (path: Path) => {
      const where = this.options.locate?.(path, "value");
      return `${formatKeyPath(path)}${where ? ` (line ${where.line})` : ""}`;
    };
    if (management !== undefined) {
      const read = readListen(management);
      if (!("problem" in read)) {
        others.push({ owner: at(["management", "listen"]), on: "local", ...read });
      }
    }
    const link = transports === undefined ? null : transportsAddress(transports);
    if (link) others.push({ owner: at(["transports", "listen"]), on: "local", ...link });
    for (const { name, path, serve, on } of this.#serving) {
      const other = others.find((o) => o.on === on && overlaps(o, serve));
      if (other) {
        this.fail(
          path,
          `container "${name}" serves ${serve.hostname}:${serve.port}, where ${other.owner} already listens (${other.hostname}:${other.port}); two listeners on one port would split its connections or fail to start: expected a port of its own (or hostnames that differ, neither a wildcard)`,
        );
      }
      others.push({ owner: `container "${name}" at ${at(path)}`, on, ...serve });
    }
  }

  /**
   * A serving child listens from its parent's isolate: under a worker or process parent, that
   * isolate's sandbox and flags are the parent's, which would need the listening grant and
   * `net` too; only the runtime's own isolate (an inline parent) takes it as it is.
   */
  servesInParent(parent: ContainerSpec, path: Path): void {
    if (parent.mode === "inline") return;
    this.fail(
      [...path, "serve"],
      `a child of ${parent.mode} container "${parent.name}" cannot serve a port: expected serve: only on a top-level container or under an inline parent`,
    );
  }

  /** A local container's module, resolved against the topology's folder. */
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
      return new URL(raw, this.options.baseUrl).href;
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

  /** `replicas:` fits where `placement: spread` may put them (`hosts:` × `max_per_host:`). */
  spreadFits(spread: NonNullable<ContainerSpec["spread"]>, replicas: number, path: Path): void {
    const agents = spread.hosts?.length ?? Object.keys(this.#hosts).length;
    if (spread.maxPerHost === undefined || replicas <= agents * spread.maxPerHost) return;
    this.fail(
      [...path, "replicas"],
      `${replicas} replicas do not fit on ${agents} agents with max_per_host: ${spread.maxPerHost}; expected at most ${
        agents * spread.maxPerHost
      }`,
    );
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
    const outside = grantOutside(grant, parent.permissions, { fs: this.options.fs });
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
}
