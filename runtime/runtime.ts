/**
 * The runtime: starts a topology, routes messages to its containers by name, restarts what fails,
 * shows the live tree and shuts everything down without orphans. What reaches beyond this
 * runtime's own isolates (peer runtimes, NATS, host agents) is its distribution, built once
 * (`distribution/`).
 *
 * @module
 */
import { type Plan, planTopology } from "../config/plan.ts";
import type { ContainerInput, ContainerSpec, Topology, TopologyInput } from "../config/topology.ts";
import type { Distribution } from "../distribution/mod.ts";
import { RemoteFigures } from "./_remote_metrics.ts";
import {
  type Envelope,
  LOG_LEVEL_RANK,
  type LogLevel,
  type RouteTable,
} from "../protocol/envelope.ts";
import { routeDelta } from "../protocol/route_delta.ts";
import { TopologyError } from "../protocol/errors.ts";
import type {
  ContainerDefinition,
  ContainerRef,
  MessageMeta,
  SpawnOptions,
  StopMode,
} from "./container.ts";
import { applyPlan } from "./_apply.ts";
import { defaultLogger, RuntimeListeners } from "./_events.ts";
import { type ContainerMetrics, containerMetrics, metricsBook } from "./_metrics.ts";
import type { InstanceHandle } from "./_modes.ts";
import { Node } from "./_node.ts";
import { runPlaced } from "./_placed.ts";
import type { SpawnContext } from "./_startable.ts";
import type { Supervisor, SupervisorEvent, SupervisorSite } from "./_supervisor.ts";
import { instanceUsage, treeSnapshot } from "./_tree.ts";
import { NameClaims, takenNames } from "./_claims.ts";
import { ownPace, RoutePace } from "./_route_pace.ts";
import { speakerOf, Violations } from "./_violations.ts";
import type { TransportSet } from "../transports/transport_set.ts";
import type {
  LogEntry,
  RuntimeEvents,
  RuntimeOptions,
  ScheduleSnapshot,
  TreeSnapshot,
} from "./types.ts";
import type { ScheduleInput } from "../config/topology.ts";
import type { Schedules } from "./_schedules.ts";
import { auditLine, type AuditRecord } from "./audit.ts";
import { otelEnabled, startTracing } from "./_tracing.ts";
import { guarded } from "./_guard.ts";
import type * as Parts from "./_runtime_parts.ts";

/**
 * The runtime's parts. A container's isolate (its guard installed) imports this module through
 * `mod.ts` but never starts a runtime, so it never loads them; an application's isolate starts
 * loading them at once, while it goes on with its own start-up, and `Runtime.start` waits for them.
 */
let parts: typeof Parts;
let loadingParts: Promise<typeof Parts> | null = guarded() ? null : loadParts();

function loadParts(): Promise<typeof Parts> {
  const loading = import("./_runtime_parts.ts");
  loading.then((loaded) => (parts = loaded), () => (loadingParts = null));
  return loading;
}

export type { ContainerSnapshot, InstanceSnapshot, SlotState } from "./_supervisor.ts";
export type { PeerSnapshot } from "../distribution/mod.ts";
export type {
  LeakedWorker,
  LogEntry,
  RuntimeEvents,
  RuntimeOptions,
  ScheduleEvent,
  ScheduleSnapshot,
  TreeSnapshot,
} from "./types.ts";

/**
 * A running Kraken application.
 *
 * @example Start, ask, shut down
 * ```ts ignore
 * import { Runtime } from "jsr:@kraken/kraken";
 * const rt = await Runtime.start("./kraken.yaml");
 * const reply = await rt.ref("greeter").request("greet", { who: "ada" });
 * console.log(rt.tree());
 * await rt.shutdown();
 * ```
 */
export class Runtime {
  #topology: Topology;
  readonly #hub: Node;
  readonly #root: Supervisor;
  readonly #dist: Distribution;
  /** `schedule:` and `rt.schedule`: fired here, in the root runtime only. */
  readonly #schedules: Schedules;
  readonly #handles = new Map<string, InstanceHandle>();
  /** The table last handed to the nodes, and the nodes started since (they get it whole). */
  #sentRoutes: RouteTable = {};
  readonly #fresh = new Set<string>();
  /** Direct channels between workers, made once two of them talk (see `_peer_ports.ts`). */
  readonly #peers = new parts.PeerPorts(this.#handles);
  /** Envelopes dropped per container because its isolate had no right to send them. */
  readonly #violations: Violations;
  /** What host agents report of the containers placed on them from here. */
  readonly #remoteFigures = new RemoteFigures();
  /** Every handle not yet gone, old incarnations still cleaning up included. */
  readonly #live = new Set<InstanceHandle>();
  readonly #leaked: { container: string; instance: string; at: number }[] = [];
  readonly #listeners = new RuntimeListeners();
  readonly #logLevel: LogLevel | "silent";
  readonly #logger: (entry: LogEntry) => void;
  readonly #baseUrl: string;
  /** Ports picked for `serve: { port: 0 }`, kept for the runtime's life. */
  readonly #ports = new parts.ServePorts();
  #nextNode = 1;
  readonly #transports: TransportSet;
  /** When the routing table goes out (paced for what children report: they may flood). */
  readonly #routePace = new RoutePace({
    update: () => this.#updateRoutes(),
    broadcast: () => this.#broadcastRoutes(),
    ownInterval: () => ownPace(this.#handles.size),
  });
  #state: "running" | "shutting_down" | "stopped" = "running";
  #shutdown: Promise<void> | null = null;
  #applying: Promise<unknown> = Promise.resolve();
  #closedResolve!: (error: Error | null) => void;
  #onRejection = (event: PromiseRejectionEvent) => this.#unhandledRejection(event);
  /** Settles when the runtime has shut down: with `null`, or the error that brought it down. */
  readonly closed: Promise<Error | null>;

  /** A host agent (`kraken node`), not a root. */
  readonly #agent: boolean;

  private constructor(topology: Topology, options: RuntimeOptions) {
    this.#topology = topology;
    this.#logLevel = options.logLevel ?? "info";
    this.#logger = options.logger ?? defaultLogger;
    this.#baseUrl = topology.baseUrl;
    this.#violations = new Violations((level, message, source) =>
      this.#log(level, message, source)
    );
    this.#transports = parts.transportsFor(topology, options.transports);
    this.closed = new Promise((resolve) => (this.#closedResolve = resolve));
    this.#hub = new Node("host", {
      onControl: (env, from) => this.#handles.get(from)?.control(env),
      onLog: (level, message, source, from, trace) =>
        this.#log(level, message, speakerOf(from, source, this.#hub, this.#handles), trace),
      onViolation: (from, what, logged) =>
        this.#violations.fromNode(from, what, logged, this.#handles),
      // The nodes below route around suspect peer links too: they get the marked table.
      onSuspicion: () => this.#publishRoutes(),
      onRelay: (from, to) => this.#peers.introduce(from, to),
      onSwitch: (from, to) => this.#peers.switched(from, to),
    }, { hub: true });
    // Built before anything can log: every log line may go to the root that placed a container.
    this.#dist = parts.createDistribution(topology, {
      hub: this.#hub,
      ownNames: () => this.#root.names(),
      ownRoutes: () => this.#root.routes(),
      changed: () => this.#publishRoutes(),
      log: (level, message, source, trace) => this.#log(level, message, source, trace),
      emit: (event) => this.#publish(event),
      run: (spec) => runPlaced(this.#root, spec),
      stop: async (name) => {
        if (this.#root.has(name)) await this.#root.remove(name);
      },
      replicas: () => this.#root.specs().reduce((n, s) => n + s.replicas, 0),
      figures: (names) => {
        const all = metricsBook(this.#hub).collect(this.#hub.heldCounts());
        const own = names.filter((name) => all.has(name)).map((name) => [name, all.get(name)]);
        return own.length > 0 ? Object.fromEntries(own) : undefined;
      },
      remoteFigures: (peer, figures, placedOn) => {
        if (!this.#remoteFigures.report(peer, figures, placedOn)) {
          this.#hub.reportRefused(`@${peer}`, "malformed figures in a keepalive answer");
        }
      },
      usage: () => instanceUsage(this.#root.snapshot()),
      // A root that lost its lease stops, as a root whose supervisor gave up: it exits failed.
      fail: (error) => {
        this.#shutdown ??= this.#stopAll(error);
      },
    }, { agent: options.agent, transports: this.#transports, standby: options.standby });
    this.#agent = !!options.agent;
    for (const [type, listener] of Object.entries(options.on ?? {})) {
      if (listener) this.#listeners.on(type as keyof RuntimeEvents, listener as () => void);
    }
    this.#root = new parts.Supervisor("root", topology.supervisor, this.#site());
    this.#root.onGiveUp = (error) => {
      this.#shutdown ??= this.#stopAll(error);
    };
    this.#schedules = new parts.Schedules(parts.scheduleSite({
      hub: this.#hub,
      emit: (event) => this.#emit("schedule", event),
      log: (level, message) => this.#log(level, message, "runtime"),
    }));
  }

  #site(): SupervisorSite {
    return {
      node: this.#hub,
      handles: this.#handles,
      peers: this.#peers,
      newNodeId: (mode) => `${mode === "worker" ? "w" : "p"}${this.#nextNode++}`,
      logLevel: this.#logLevel,
      log: (level, message, source) => this.#log(level, message, source),
      emit: (event) => this.#relay(event),
      changed: (reported) => this.#publishRoutes(reported),
      leaked: (container, instance) => {
        this.#leaked.push({ container, instance, at: performance.now() });
      },
      track: (handle) => {
        this.#fresh.add(handle.node);
        this.#live.add(handle);
        handle.gone.then(() => {
          this.#live.delete(handle);
          this.#fresh.delete(handle.node);
        });
      },
      sourceReads: (spec) =>
        parts.admitIsolate(spec, (message) => this.#log("warn", message, "runtime")),
      validate: (name, input, parent) =>
        this.#assertPortFree(parts.validateSpawn(name, input, { ...this.#spawnContext(), parent })),
      violation: (container, instance, what) => this.#violations.count(container, instance, what),
      claims: new NameClaims(),
      taken: () => this.#takenNames(),
      baseUrl: this.#baseUrl,
      ports: this.#ports,
    };
  }

  /**
   * Starts a topology: validates it, refuses any permission wider than this process's, then starts
   * the containers in order (replicas of one container in parallel; a few worker or process
   * containers boot at once, each after the ones before it began: see docs/supervision.md).
   *
   * @param topology A YAML file path or URL, or a topology object.
   * @param options Logging and base URL.
   * @returns The running runtime.
   * @throws {TopologyError} Invalid topology or a module that cannot be loaded.
   * @throws {PermissionEscalationError} A container asks for more than this process has, or is a
   *   `mode: process` container while this process may not run Deno (no `--allow-run`).
   */
  static async start(
    topology: string | URL | TopologyInput,
    options: RuntimeOptions = {},
  ): Promise<Runtime> {
    parts ??= await (loadingParts ??= loadParts());
    const validated = await parts.loadTopology(topology, { baseUrl: options.baseUrl });
    parts.assertGrantsWithinHost(validated.containers);
    // Deno's OpenTelemetry is on: every request becomes spans (nothing is loaded otherwise). An
    // application whose import map lacks the API still starts, untraced, and is told why.
    const untraced = otelEnabled() ? await startTracing().then(() => null, (e: Error) => e) : null;
    const rt = new Runtime(validated, options);
    if (untraced) {
      rt.#log(
        "warn",
        `OTEL_DENO is on but this runtime records no spans: @opentelemetry/api could not be ` +
          `loaded (${
            untraced.message.split("\n")[0]
          }); add "@opentelemetry/api": "npm:@opentelemetry/api@^1.9.0" ` +
          `to the imports of your deno.json`,
        "runtime",
      );
    }
    await rt.#boot();
    return rt;
  }

  async #boot(): Promise<void> {
    if (parts.hasInline(this.#topology.containers)) {
      globalThis.addEventListener("unhandledrejection", this.#onRejection);
    }
    this.#publishRoutes();
    const remote = this.#topology.containers.filter((c) => c.mode === "remote");
    const local = this.#topology.containers.filter((c) => c.mode !== "remote");
    const count = this.#topology.containers.length;
    const started = () =>
      this.#log(
        "info",
        `started ${this.#topology.name}: ${count} container${count === 1 ? "" : "s"}`,
        "runtime",
      );
    // A root with a lease runs its own containers only while it leads: a standby is cold, so its
    // links claim no name the leading root's containers hold (agents would refuse them).
    const leased = !!this.#topology.leadership && !this.#agent;
    let booted = false;
    try {
      if (!leased) await this.#root.start(local);
      await this.#dist.start(
        remote,
        leased
          ? async () => {
            await this.#root.start(local);
            if (booted) started(); // a standby taking over
          }
          : undefined,
      );
      booted = true;
      await this.#schedules.set(this.#topology.schedules ?? []);
    } catch (error) {
      await this.shutdown();
      throw error;
    }
    for (const warning of parts.servingWarnings(this.#topology)) {
      this.#log("warn", warning, "runtime");
    }
    if (!this.standingBy) return started();
    this.#log(
      "info",
      `standing by: ${this.#topology.name}: ${count} container${
        count === 1 ? "" : "s"
      } start once this root leads (local ones too: a cold standby)`,
      "runtime",
    );
  }

  /**
   * Whether this root stands by: started with `standby` and a `leadership:` block while another
   * root leads, it runs and places none of the topology's containers until it takes over.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Runtime } from "jsr:@kraken/kraken";
   * const rt = await Runtime.start({ name: "shop", containers: {} }, { logLevel: "silent" });
   * assert.equal(rt.standingBy, false);
   * await rt.shutdown();
   * ```
   */
  get standingBy(): boolean {
    return this.#dist.standingBy();
  }

  // ---- public API ------------------------------------------------------------------------------

  /**
   * A handle to container `name`; type it with the container module's default export.
   *
   * @example
   * ```ts ignore
   * import type greeter from "./containers/greeter.ts";
   * const reply = await rt.ref<typeof greeter>("greeter").request("greet", { who: "ada" });
   * ```
   */
  ref<D extends ContainerDefinition = ContainerDefinition>(name: string): ContainerRef<D> {
    return this.#hub.ref(name) as unknown as ContainerRef<D>;
  }

  /** Publishes `body` to every subscriber of `topic` in the application. */
  publish(topic: string, body?: unknown): void {
    this.#hub.publish(topic, body);
  }

  /**
   * Subscribes the host to `topic`.
   * @returns A function that unsubscribes.
   */
  subscribe(topic: string, listener: (body: unknown, meta: MessageMeta) => void): () => void {
    return this.#hub.subscribe(topic, listener);
  }

  /**
   * Records a change asked of this runtime from outside (the management API does, for every
   * change a client asks for): an `audit` event and an `info` log line (`audit: …`).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { Runtime } from "jsr:@kraken/kraken";
   * const rt = await Runtime.start({ name: "shop", containers: {} }, { logLevel: "silent" });
   * const seen: string[] = [];
   * rt.on("audit", (record) => seen.push(`${record.action} by ${record.by.via}`));
   * rt.audit({ action: "shutdown", ok: true, by: { via: "cli", client: "token:3f2a9c1e" } });
   * assert.deepEqual(seen, ["shutdown by cli"]);
   * await rt.shutdown();
   * ```
   */
  audit(record: AuditRecord): void {
    this.#log("info", auditLine(record), "runtime");
    if (this.#listeners.has("audit")) this.#emit("audit", { ...record, time: Date.now() });
  }

  /**
   * Observes runtime events (`start`, `exit`, `restart`, `unresponsive`, `escalate`, `log`, `apply`,
   * `audit`).
   * @returns A function that stops observing.
   */
  on<K extends keyof RuntimeEvents>(
    type: K,
    listener: (event: RuntimeEvents[K]) => void,
  ): () => void {
    return this.#listeners.on(type, listener);
  }

  /**
   * Starts a new container under the root supervisor (or, with `parent`, under an inline
   * container), as if it were written in the topology. Relative module paths resolve against the
   * topology's folder.
   *
   * @example
   * ```ts ignore
   * await rt.spawn("cache", { module: "./cache.ts", mode: "worker", replicas: 2 });
   * await rt.spawn("cache", { module: "./cache_v2.ts" }, { replace: true });
   * ```
   * @throws {Error} When a container of that name exists and `replace` is not set.
   * @throws {TopologyError} A bad spec (named by key).
   * @throws {PermissionEscalationError} A grant wider than this process's, or `mode: process`
   *   without `--allow-run`.
   */
  async spawn(
    name: string,
    spec: ContainerInput,
    options: SpawnOptions & { parent?: string } = {},
  ): Promise<void> {
    this.#assertRunning();
    const supervisor = options.parent ? this.#supervisorOf(options.parent) : this.#root;
    const remote = this.#remoteSpec(name) !== undefined;
    const validated = parts.validateSpawn(name, spec, {
      ...this.#spawnContext(),
      replacing: supervisor.has(name) || remote,
    });
    this.#assertPortFree(validated);
    if (validated.mode === "remote") {
      if (remote && !options.replace) {
        throw new Error(
          `a container named "${name}" already exists; pass { replace: true } to replace it`,
        );
      }
      await this.#dist.place(validated);
      return this.#refreshTopology();
    }
    await supervisor.spawn(validated, options);
    this.#refreshTopology();
  }

  /** A container spawned later (rt.spawn, ctx.spawn) may not serve where another listener does. */
  #assertPortFree(spec: ContainerSpec): ContainerSpec {
    return parts.assertPortFree(spec, this.#topology, (other) => this.serving(other)?.port);
  }

  /**
   * Stops container `name` (every replica) and removes it from the tree.
   *
   * @param options `mode`: `graceful`, `kill` or `graceful-then-kill` (default).
   * @example
   * ```ts ignore
   * await rt.stop("cache", { mode: "kill" });
   * ```
   */
  async stop(name: string, options: { mode?: StopMode } = {}): Promise<void> {
    this.#assertRunning();
    if (this.#remoteSpec(name)) await this.#dist.unplace(name);
    else await this.#owner(name).remove(name, options.mode);
    this.#refreshTopology();
  }

  /**
   * Starts every replica of container `name` again (not counted toward intensity). By default
   * the restart is rolling: one replica at a time, a new instance runs before an old one stops
   * taking messages, drains what it holds and stops (with `mode`), so requests keep being
   * answered throughout; never more than replicas + 1 instances run. `rolling: false` stops every
   * replica, then starts them all (a gap in service). A remote container is placed again, which
   * its agent does without a gap either way.
   *
   * @param options `mode`: how old instances stop (`graceful-then-kill` by default); `rolling`:
   *   `false` for all at once.
   * @throws {RolloutError} A new replica after the first could not start (the ones that started
   *   run; the old ones left keep running). If the first cannot start, its start error is thrown
   *   and the old replicas keep running.
   * @example
   * ```ts ignore
   * await rt.restart("cache");                      // rolling
   * await rt.restart("cache", { rolling: false });  // every replica at once
   * ```
   */
  async restart(
    name: string,
    options: { mode?: StopMode; rolling?: boolean } = {},
  ): Promise<void> {
    this.#assertRunning();
    const remote = this.#remoteSpec(name);
    // A remote container is placed again (a new epoch): its agent replaces it without a gap.
    if (remote) return await this.#dist.place(remote);
    await this.#owner(name).restart(name, options.mode, { rolling: options.rolling });
  }

  /**
   * Changes how many replicas of `name` run: new ones start, surplus ones stop (last first).
   *
   * @example
   * ```ts ignore
   * await rt.scale("greeter", 4);
   * ```
   * @throws {PermissionEscalationError} A new process replica this process may no longer start.
   */
  async scale(name: string, replicas: number): Promise<void> {
    this.#assertRunning();
    if (!Number.isInteger(replicas) || replicas < 0) {
      throw new RangeError(`replicas must be a whole number >= 0, got ${replicas}`);
    }
    const remote = this.#remoteSpec(name);
    if (remote) await this.#dist.place({ ...remote, replicas });
    else {
      const owner = this.#owner(name);
      // Refused before the group changes: permissions may have been revoked since it started.
      const spec = owner.specs().find((s) => s.name === name);
      if (spec) parts.assertStartableHere(spec);
      await owner.scale(name, replicas);
    }
    this.#refreshTopology();
  }

  /**
   * Moves the replicas of a `placement: spread` remote container toward even over the agents
   * linked now (a returning or new agent takes some back), one replica at a time: each starts on
   * the agent with the fewest and serves before one on the agent with the most is stopped, so no
   * request is lost. Resolves with the moves made (none when already even).
   *
   * @example
   * ```ts ignore
   * const moves = await rt.rebalance("api"); // [{ from: "node-b", to: "node-c" }]
   * ```
   * @throws {TopologyError} `name` is not a remote container placed with `placement: spread`.
   */
  async rebalance(name: string): Promise<{ from: string; to: string }[]> {
    this.#assertRunning();
    const remote = this.#remoteSpec(name);
    if (!remote?.spread) {
      throw new TopologyError(
        `container "${name}" is not placed with placement: spread; expected a remote container whose replicas are spread over agents`,
        { key: `containers.${name}.placement` },
      );
    }
    const moves: { from: string; to: string }[] = [];
    // Bounded: each step narrows the spread, so there are at most `replicas` of them.
    for (let i = 0; i < remote.replicas; i++) {
      const move = await this.#dist.rebalance(name);
      if (!move) break;
      moves.push(move);
    }
    return moves;
  }

  /**
   * Reconciles the running application with an edited topology, without touching what did not
   * change. Computes the plan ({@linkcode planTopology}) and, unless `dryRun`, applies it in a
   * safe order: supervisor flags; then additions, replacements, scaling and in-place updates in
   * the new topology's order; then removals in reverse order. A replacement (module, mode,
   * permissions, config… changed) starts the new incarnations beside the old ones, switches
   * traffic once they all run, then drains and stops the old ones: no request is lost. Applies
   * run one at a time; progress is reported as `apply` events.
   *
   * @param source A YAML file path or URL, or a topology object (relative modules resolve
   *   against this runtime's folder).
   * @param options `dryRun`: only plan.
   * @returns The plan (applied, unless `dryRun`).
   * @throws {TopologyError} An invalid topology (nothing is applied).
   * @throws {PermissionEscalationError} A grant wider than this process's, or `mode: process`
   *   without `--allow-run` (nothing is applied).
   * @example
   * ```ts ignore
   * import { formatPlan } from "jsr:@kraken/kraken";
   * console.log(formatPlan(await rt.apply("./kraken.yaml", { dryRun: true })));
   * await rt.apply("./kraken.yaml");
   * ```
   */
  apply(source: string | URL | TopologyInput, options: { dryRun?: boolean } = {}): Promise<Plan> {
    const run = this.#applying.catch(() => {}).then(() => this.#apply(source, options));
    this.#applying = run;
    return run;
  }

  async #apply(
    source: string | URL | TopologyInput,
    options: { dryRun?: boolean },
  ): Promise<Plan> {
    this.#assertRunning();
    const isObject = typeof source === "object" && !(source instanceof URL);
    const next = await parts.loadTopology(source, isObject ? { baseUrl: this.#baseUrl } : {});
    parts.assertGrantsWithinHost(next.containers);
    const plan = planTopology(this.#topology, next);
    if (options.dryRun) return plan;
    try {
      await applyPlan(plan, next, {
        root: this.#root,
        distribution: this.#dist,
        owner: (name) => this.#owner(name),
        supervisorOf: (parent) => this.#supervisorOf(parent),
        remoteSpec: (name) => this.#remoteSpec(name),
        assertRunning: () => this.#assertRunning(),
        emit: (event) => this.#emit("apply", event),
        log: (level, message) => this.#log(level, message, "runtime"),
      });
    } finally {
      // Schedules follow the file whatever happened to the containers: one kept unchanged keeps
      // its last tick (never fired twice), a changed one is planned anew.
      await this.#schedules.set(next.schedules ?? []);
      // What runs now, whatever happened: the next plan starts from the truth.
      this.#topology = { ...this.#topology, placement: next.placement };
      this.#refreshTopology(next.containers.map((c) => c.name));
    }
    this.#emit("apply", { phase: "done", plan });
    return plan;
  }

  /**
   * Rebuilds `rt.topology` from what runs (after apply, scale, spawn, stop): the next plan, e.g.
   * of `kraken reload`, starts from the truth, not from the file as it was at start.
   */
  #refreshTopology(order = this.#topology.containers.map((c) => c.name)): void {
    const running = [...this.#root.specs(), ...this.#dist.snapshot().remote.map((p) => p.spec)];
    const rank = (name: string) => order.indexOf(name) === -1 ? Infinity : order.indexOf(name);
    this.#topology = {
      ...this.#topology,
      supervisor: this.#root.spec,
      containers: running.sort((a, b) => rank(a.name) - rank(b.name)),
      schedules: this.#schedules.specs(),
    };
  }

  /** The spec of remote container `name`, if it is one. */
  #remoteSpec(name: string): ContainerSpec | undefined {
    return this.#dist.snapshot().remote.find((p) => p.name === name)?.spec;
  }

  /** Where this runtime accepts links from its peers (`transports.listen`, real port), if it does. */
  get listening(): URL | null {
    return this.#dist.snapshot().listening;
  }

  /**
   * The address container `name` serves (`serve:`), port 0 resolved to the port picked for it;
   * `undefined` when it serves none (or is unknown).
   *
   * @example
   * ```ts ignore
   * const { port } = rt.serving("api")!;
   * const res = await fetch(`http://127.0.0.1:${port}/`);
   * ```
   */
  serving(name: string): { hostname: string; port: number; protocol: "http" | "tcp" } | undefined {
    const serve = this.#root.find(name)?.serving(name) ?? this.#remoteSpec(name)?.serve;
    return serve && { hostname: serve.hostname, port: serve.port, protocol: serve.protocol };
  }

  /**
   * Adds schedule `name` (or replaces it; given unchanged, it keeps its state): each tick sends
   * one request to its target, from this runtime only, whatever the target's replicas. With
   * `entity`, the tick goes to that entity of `to` (a container made by `entities()`), on the
   * replica owning its id, which activates it if need be. Validated like an entry of `schedule:`
   * (see docs/schedules.md).
   *
   * @example
   * ```ts ignore
   * await rt.schedule("cleanup", { every: "10s", to: "cleaner", topic: "cleanup" });
   * await rt.schedule("report", { cron: "0 * * * * *", timezone: "Europe/Paris", to: "reports", topic: "run" });
   * // To one entity: its handler `tick(body, meta)` sees `meta.tick` and `meta.entity`.
   * await rt.schedule("room-1", { every: "1s", to: "rooms", entity: "room-1", topic: "tick" });
   * rt.unschedule("cleanup");
   * ```
   * @throws {TopologyError} A bad entry, named by key with its value (an unknown target, a cron
   *   expression the parser refuses, both or neither of `cron` and `every`…).
   */
  async schedule(name: string, spec: ScheduleInput): Promise<void> {
    this.#assertRunning();
    const validated = await parts.validateScheduleHere(name, spec, {
      baseUrl: this.#baseUrl,
      topology: this.#topology,
      names: Object.keys(this.#hub.routes),
    });
    await this.#schedules.put(validated);
    this.#refreshTopology();
  }

  /**
   * Removes schedule `name` (a tick already on its way still arrives).
   * @returns `false` when there was none.
   */
  unschedule(name: string): boolean {
    const removed = this.#schedules.remove(name);
    this.#refreshTopology();
    return removed;
  }

  /** Every schedule with its next tick and the outcome of its last one. */
  schedules(): ScheduleSnapshot[] {
    return this.#schedules.snapshot();
  }

  /** The topology this runtime runs (the latest one applied). */
  get topology(): Topology {
    return this.#topology;
  }

  /** A snapshot of the live supervision tree. */
  tree(): TreeSnapshot {
    const now = performance.now();
    return treeSnapshot(this.#topology, this.#state, {
      own: this.#root.snapshot(now),
      outside: this.#dist.snapshot(now),
      hub: this.#hub,
      leaked: this.#leaked,
      now,
      schedules: this.#schedules.snapshot(),
    });
  }

  /**
   * Per-container figures, one entry per container of the tree (children after their parent):
   * messages in and out, requests, handler errors, restarts, recent handler times (sampled; the
   * upper bound of a ~9% bucket, over the union of the replicas' recent windows), queue depth
   * (handlers in flight + messages the host holds while it restarts) and, in process mode, RSS.
   * Counters count since the runtime started, across restarts; a worker's or process's figures
   * come with its heartbeat answer, so they are at most one heartbeat (keepalive / 4, at most
   * 250 ms) old.
   *
   * @example
   * ```ts ignore
   * const api = rt.metrics().find((m) => m.container === "api");
   * console.log(api?.requests, api?.errors, api?.handlerP99Ms, api?.queueDepth);
   * ```
   */
  metrics(): ContainerMetrics[] {
    const figures = metricsBook(this.#hub).collect(this.#hub.heldCounts());
    // Remote containers' figures come from their agents, labelled with the agent's name.
    const remote = this.#remoteFigures.entries(this.#dist.snapshot().remote, figures);
    return containerMetrics(
      [...this.#root.snapshot(), ...remote],
      figures,
      this.#violations.counts,
    );
  }

  /**
   * Stops every container in reverse start order (graceful within each one's `shutdown:`, then
   * killed) and releases every worker, process and timer. Safe to call more than once.
   */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#stopAll(null);
    return this.#shutdown;
  }

  // ---- internals -------------------------------------------------------------------------------

  #assertRunning(): void {
    if (this.#state !== "running") throw new Error(`the runtime is ${this.#state}`);
  }

  /** The supervisor (root, or an inline container's) that has child `name`. */
  #owner(name: string): Supervisor {
    const owner = this.#root.find(name);
    if (owner) return owner;
    throw new RangeError(
      this.#hub.routes[name]
        ? `container "${name}" runs under a worker or process container: manage it from there (ctx.stop/ctx.spawn)`
        : `no container named "${name}" (known: ${
          Object.keys(this.#hub.routes).join(", ") || "none"
        })`,
    );
  }

  #supervisorOf(parent: string): Supervisor {
    const owner = this.#owner(parent);
    const sub = owner.childSupervisor(parent);
    if (!sub) {
      throw new RangeError(
        `container "${parent}" is not inline: spawn its children from inside it (ctx.spawn)`,
      );
    }
    return sub;
  }

  #spawnContext(): SpawnContext {
    return {
      // A name a child holds for a container it spawned is not taken: the application's wins.
      exists: (name) => this.#takenNames()(name),
      baseUrl: this.#baseUrl,
      hosts: this.#topology.hosts,
    };
  }

  /** An event of this runtime's own supervisors: observed here, and sent on to a placer. */
  #relay(event: SupervisorEvent): void {
    this.#dist.forward(event);
    this.#publish(event);
  }

  /** A supervision event to this runtime's observers. */
  #publish(event: SupervisorEvent): void {
    this.#listeners.supervision(event, (message) => this.#log("error", message, "runtime"));
  }

  /**
   * Routes change as instances come and go; every node gets the new table once per turn (paced
   * when the change came from what a child reported: see `_route_pace.ts`).
   */
  #publishRoutes(reported = false): void {
    this.#routePace.changed(reported);
  }

  /** The names no child may hold for a container it spawned (see `takenNames`). */
  #takenNames(): (name: string) => boolean {
    return takenNames(this.#topology, this.#root, this.#dist);
  }

  /** The hub's own table: this runtime's routes over the peers' and placements'. */
  #updateRoutes(): void {
    // Peers' containers first: this runtime's own entries win on a name both claim.
    this.#hub.setRoutes(this.#dist.overlay(this.#root.routes()));
  }

  /**
   * Every node below the hub, and every peer runtime, gets the table. Not the nodes while this
   * runtime shuts down: each container that stops would otherwise send the whole table to every
   * node still running (quadratic in the containers: minutes for hundreds), and what they need to
   * know — that a node is gone — each already gets as a `down` (see `_supervisor.ts`), after which
   * a request to the stopped container fails fast at the hub.
   */
  #broadcastRoutes(): void {
    if (this.#state === "shutting_down") return this.#dist.announce();
    const routes = this.#hub.routes;
    const full: Envelope = { k: "routes", r: routes };
    // A node already running gets what changed since the last table; one started since then
    // (its init carried the table of that moment, possibly newer) gets the whole table.
    const { r, g } = routeDelta(this.#sentRoutes, routes);
    const delta: Envelope | null = g.length > 0 || Object.keys(r).length > 0
      ? { k: "routes_delta", r, g }
      : null;
    for (const id of this.#handles.keys()) {
      if (this.#fresh.has(id)) {
        this.#hub.sendTo(id, full);
        this.#fresh.delete(id);
      } else if (delta) this.#hub.sendTo(id, delta);
    }
    // A node tracked but not yet a handle here (still spawning) keeps its claim to a whole table:
    // its init's table may be older than what this delta was taken against.
    this.#sentRoutes = routes;
    this.#dist.announce();
  }

  #unhandledRejection(event: PromiseRejectionEvent): void {
    const stack = event.reason instanceof Error ? event.reason.stack ?? "" : "";
    for (const handle of this.#live) {
      if (handle instanceof parts.InlineHandle && handle.running && handle.owns(stack)) {
        // Traced to an inline container: it fails like any other; the host lives on.
        event.preventDefault();
        handle.fail(event.reason);
        return;
      }
    }
  }

  async #stopAll(error: Error | null): Promise<void> {
    if (this.#state === "stopped") return;
    this.#state = "shutting_down";
    this.#schedules.close();
    await this.#dist.close();
    await this.#root.stopAll("runtime shutdown");
    // Old incarnations still stopping after a failure: they are bounded by their own timeouts.
    await Promise.all([...this.#live].map((handle) => handle.gone));
    this.#hub.close(error ? `the runtime stopped: ${error.message}` : "the runtime has shut down");
    this.#routePace.close();
    globalThis.removeEventListener("unhandledrejection", this.#onRejection);
    this.#state = "stopped";
    if (this.#leaked.length > 0) {
      this.#log(
        "warn",
        `${this.#leaked.length} worker thread(s) stopped answering and may still be spinning (${
          this.#leaked.map((l) => l.instance).join(", ")
        }); this process cannot exit by itself until they stop: call Deno.exit()`,
        "runtime",
      );
    }
    this.#closedResolve(error);
  }

  #emit<K extends keyof RuntimeEvents>(type: K, event: RuntimeEvents[K]): void {
    this.#listeners.emit(type, event, (message) => this.#log("error", message, "runtime"));
  }

  #log(level: LogLevel, message: string, source: string, trace?: string): void {
    this.#dist.forward(
      trace === undefined
        ? { type: "log", level, message, source }
        : { type: "log", level, message, source, trace },
    );
    if (LOG_LEVEL_RANK[level] < LOG_LEVEL_RANK[this.#logLevel]) return;
    this.#logger(
      trace === undefined ? { level, message, source } : { level, message, source, trace },
    );
    if (this.#listeners.has("log")) {
      this.#emit("log", { level, message, source, time: Date.now() });
    }
  }
}
