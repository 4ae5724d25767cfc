/**
 * The runtime: starts a topology, routes messages to its containers by name, restarts what fails,
 * shows the live tree and shuts everything down without orphans.
 *
 * @module
 */
import { loadTopology } from "../config/load.ts";
import { type Plan, type PlanStep, planTopology } from "../config/plan.ts";
import {
  type ContainerInput,
  type ContainerSpec,
  type Topology,
  type TopologyInput,
  validateContainer,
} from "../config/topology.ts";
import {
  type Envelope,
  type ExitReason,
  LOG_LEVEL_RANK,
  type LogLevel,
} from "../protocol/envelope.ts";
import { SupervisorGaveUpError } from "../protocol/errors.ts";
import type {
  ContainerDefinition,
  ContainerRef,
  MessageMeta,
  SpawnOptions,
  StopMode,
} from "./container.ts";
import { assertCanRunProcess, assertWithinHost } from "./_grant.ts";
import { DENO_FS } from "../config/_deno_fs.ts";
import { InlineHandle, type InstanceHandle } from "./_modes.ts";
import { Node } from "./_node.ts";
import { containerOf, declaredNames, within } from "./_trust.ts";
import { NameClaims } from "./_claims.ts";
import { RoutePace } from "./_route_pace.ts";
import {
  type ContainerSnapshot,
  Supervisor,
  type SupervisorEvent,
  type SupervisorSite,
} from "./_supervisor.ts";
import { nestedWorkerSources } from "./_sources.ts";
import { Federation, type PeerSnapshot } from "./_federation.ts";
import type { NatsBridge } from "./_nats.ts";
import { AgentHost, type AgentOptions } from "./_agent.ts";
import { PlacementManager } from "./_placement.ts";
import { type ContainerMetrics, containerMetrics, metricsBook } from "./_metrics.ts";
import type { Transport } from "../transports/transport.ts";
import type { TransportSet } from "../transports/transport_set.ts";
import { transportsFor } from "./_transports.ts";

export type { ContainerSnapshot, InstanceSnapshot, SlotState } from "./_supervisor.ts";
export type { PeerSnapshot } from "./_federation.ts";

/** How long `Runtime.start` waits for host agents to take the remote containers, ms. */
const PLACEMENT_WAIT = 10_000;

/** A log line from the runtime or a container. */
export interface LogEntry {
  /** Severity. */
  level: LogLevel;
  /** The text. */
  message: string;
  /** `runtime`, or the instance id that logged it. */
  source: string;
}

/** Options of {@linkcode Runtime.start}. */
export interface RuntimeOptions {
  /** Lowest level logged (default `info`); `silent` logs nothing. */
  logLevel?: LogLevel | "silent";
  /** Where log lines go (default: stderr, one line each). */
  logger?: (entry: LogEntry) => void;
  /** Folder URL that relative module paths of an object topology resolve against (default: cwd). */
  baseUrl?: string;
  /**
   * Observers registered before anything starts, so they see the start itself (e.g. one `start`
   * event per instance, for progress); the same as calling {@linkcode Runtime.on} for each.
   */
  on?: { [K in keyof RuntimeEvents]?: (event: RuntimeEvents[K]) => void };
  /**
   * Makes this runtime a host agent (what `kraken node` runs): root runtimes that link to it may
   * place `mode: remote` containers on it, run from modules under `root`, within `maxPermissions`.
   */
  agent?: AgentOptions;
  /**
   * The transports this runtime listens and dials with, by URL scheme (default: `tcp()`,
   * `unix()`, `ws()` and `memory()`, see `defaultTransports()`). A transport of your own is one
   * more object in the list; `transports.listen` and every `hosts:` address need one.
   */
  transports?: readonly Transport[];
}

/** Events a runtime emits (from every supervisor in the tree, nested ones included). */
export interface RuntimeEvents {
  /** An instance started (first time or after a restart). */
  start: { container: string; instance: string; incarnation: number };
  /** An instance ended, with why. */
  exit: { container: string; instance: string; incarnation: number; reason: ExitReason };
  /** A failed instance was started again, after `delay` ms of backoff. */
  restart: { container: string; instance: string; incarnation: number; delay: number };
  /** An instance missed its heartbeats and was replaced. */
  unresponsive: { container: string; instance: string; silentFor: number };
  /**
   * A supervisor gave up (too many restarts, or a child's `on_error: escalate`) and handed the
   * failure to its parent; `root` giving up shuts the runtime down.
   */
  escalate: { supervisor: string; child?: string; error: SupervisorGaveUpError };
  /** A log line (the runtime's own, and what containers log or print), at or above `logLevel`. */
  log: LogEntry & { time: number };
  /**
   * Progress of {@linkcode Runtime.apply}: `start` with the plan, `step` after each step, then
   * `done`, or `failed` with the step that failed and why.
   */
  apply: {
    phase: "start" | "step" | "done" | "failed";
    plan: Plan;
    step?: PlanStep;
    error?: string;
  };
}

/** A worker thread that was terminated while unresponsive: it may still be spinning. */
export interface LeakedWorker {
  /** Its container. */
  container: string;
  /** The instance it was. */
  instance: string;
  /** Milliseconds since it was terminated. */
  since: number;
}

/** The live supervision tree. */
export interface TreeSnapshot {
  /** Application name. */
  name: string;
  /** The root supervisor's strategy and state. */
  supervisor: {
    strategy: string;
    intensity: number;
    period: number;
    state: "running" | "shutting_down" | "stopped";
  };
  /** Containers in start order, each with its children when it supervises any. */
  containers: ContainerSnapshot[];
  /** Messages the host relayed between two containers outside it (worker ↔ worker goes direct). */
  relayed: number;
  /**
   * Input the host refused at its edges — from its workers and processes, peer runtimes and NATS:
   * envelopes of a kind, shape or body that breaks the rule (docs/transports.md, "What a link
   * accepts"), and frames that hold no envelopes. None reached a container; each was logged (at
   * most one line a second), and a refused request was answered with a `FrameError`.
   */
  refused: number;
  /** Peer runtimes of the same application (see `transports:` and `hosts:`). */
  peers: PeerSnapshot[];
  /**
   * Workers terminated while unresponsive. `terminate()` cannot stop a thread in a busy loop: such
   * a thread keeps a core until the process exits (`kraken start` exits the process after
   * shutdown; a program embedding the runtime should call `Deno.exit()` when this is not empty).
   */
  leaked: LeakedWorker[];
}

function defaultLogger(entry: LogEntry): void {
  console.error(
    `${new Date().toISOString()} ${
      entry.level.toUpperCase().padEnd(5)
    } [${entry.source}] ${entry.message}`,
  );
}

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
  readonly #handles = new Map<string, InstanceHandle>();
  /** Envelopes dropped per container because its isolate had no right to send them. */
  readonly #violations = new Map<string, number>();
  /** Every handle not yet gone, old incarnations still cleaning up included. */
  readonly #live = new Set<InstanceHandle>();
  readonly #leaked: { container: string; instance: string; at: number }[] = [];
  readonly #listeners = new Map<keyof RuntimeEvents, Set<(event: never) => void>>();
  readonly #logLevel: LogLevel | "silent";
  readonly #logger: (entry: LogEntry) => void;
  readonly #baseUrl: string;
  #nextNode = 1;
  #federation: Federation | null = null;
  #nats: NatsBridge | null = null;
  #placement: PlacementManager | null = null;
  #agent: AgentHost | null = null;
  readonly #agentOptions: AgentOptions | undefined;
  readonly #transports: TransportSet;
  /** When the routing table goes out (paced for what children report: they may flood). */
  readonly #routePace = new RoutePace({
    update: () => this.#updateRoutes(),
    broadcast: () => this.#broadcastRoutes(),
  });
  #state: "running" | "shutting_down" | "stopped" = "running";
  #shutdown: Promise<void> | null = null;
  #applying: Promise<unknown> = Promise.resolve();
  readonly #appliedSteps = new Set<PlanStep>();
  #closedResolve!: (error: Error | null) => void;
  #onRejection = (event: PromiseRejectionEvent) => this.#unhandledRejection(event);
  /** Settles when the runtime has shut down: with `null`, or the error that brought it down. */
  readonly closed: Promise<Error | null>;

  private constructor(topology: Topology, options: RuntimeOptions) {
    this.#topology = topology;
    this.#logLevel = options.logLevel ?? "info";
    this.#logger = options.logger ?? defaultLogger;
    this.#baseUrl = topology.baseUrl;
    this.#agentOptions = options.agent;
    this.#transports = transportsFor(topology, options.transports);
    this.closed = new Promise((resolve) => (this.#closedResolve = resolve));
    this.#hub = new Node("host", {
      onControl: (env, from) => this.#handles.get(from)?.control(env),
      onLog: (level, message, source, from) =>
        this.#log(level, message, this.#speaker(from, source)),
      onViolation: (from, what, logged) => this.#violation(from, what, logged),
    }, { hub: true });
    for (const [type, listener] of Object.entries(options.on ?? {})) {
      if (!listener) continue;
      const key = type as keyof RuntimeEvents;
      let set = this.#listeners.get(key);
      if (!set) this.#listeners.set(key, set = new Set());
      set.add(listener as (event: never) => void);
    }
    this.#root = new Supervisor("root", topology.supervisor, this.#site());
    this.#root.onGiveUp = (error) => {
      this.#shutdown ??= this.#stopAll(error);
    };
  }

  #site(): SupervisorSite {
    const sources = new Map<string, string[]>();
    return {
      node: this.#hub,
      handles: this.#handles,
      newNodeId: (mode) => `${mode === "worker" ? "w" : "p"}${this.#nextNode++}`,
      logLevel: this.#logLevel,
      log: (level, message, source) => this.#log(level, message, source),
      emit: (event) => this.#relay(event),
      changed: (reported) => this.#publishRoutes(reported),
      leaked: (container, instance) => {
        this.#leaked.push({ container, instance, at: performance.now() });
      },
      track: (handle) => {
        this.#live.add(handle);
        handle.gone.then(() => this.#live.delete(handle));
      },
      sourceReads: (spec) => nestedWorkerSources(spec, sources),
      validate: (name, input, parent) => this.#validateSpawn(name, input, parent),
      violation: (container, instance, what) => this.#violated(container, instance, what),
      claims: new NameClaims(),
      taken: () => this.#takenNames(),
      baseUrl: this.#baseUrl,
    };
  }

  /**
   * Starts a topology: validates it, refuses any permission wider than this process's, then starts
   * the containers in order (replicas of one container in parallel).
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
    const validated = await loadTopology(topology, { baseUrl: options.baseUrl });
    assertGrantsWithinHost(validated.containers, true);
    const rt = new Runtime(validated, options);
    await rt.#boot();
    return rt;
  }

  async #boot(): Promise<void> {
    if (hasInline(this.#topology.containers)) {
      globalThis.addEventListener("unhandledrejection", this.#onRejection);
    }
    this.#publishRoutes();
    const remote = this.#topology.containers.filter((c) => c.mode === "remote");
    try {
      await this.#root.start(this.#topology.containers.filter((c) => c.mode !== "remote"));
      const transports = this.#topology.transports;
      if (transports) {
        if (this.#agentOptions) this.#agent = this.#agentHost(this.#agentOptions);
        this.#placement = new PlacementManager(
          this.#placementSite(),
          this.#topology.placement ?? "spread",
          transports.keepalive,
          transports.name,
        );
        const placement = this.#placement;
        const agent = this.#agent;
        this.#federation = new Federation(this.#hub, transports, this.#topology.hosts, {
          transports: this.#transports,
          ownNames: () => this.#root.names(),
          ownRoutes: () => this.#root.routes(),
          changed: () => this.#publishRoutes(),
          log: (level, message) => this.#log(level, message, "runtime"),
          unreachable: (container, instance, silentFor) =>
            this.#emit("unresponsive", { container, instance, silentFor }),
          joinExtra: () => agent?.joinExtra() ?? {},
          joined: (peer, join) => placement.joined(peer, join),
          lost: (peer, lastSeen) => {
            placement.lost(peer, lastSeen);
            agent?.lost(peer);
          },
          control: (peer, env) => {
            placement.control(peer, env);
            agent?.control(peer, env);
          },
          sharedName: (name) => placement.has(name) || (agent?.names().includes(name) ?? false),
          acceptsRoute: (peer, name) => placement.acceptsRoute(peer, name),
        });
        await this.#federation.start();
        if (transports.nats) {
          // Loaded only here: a runtime without NATS (and every container isolate) never loads it.
          const { NatsBridge } = await import("./_nats.ts");
          const nats = { ...transports, nats: transports.nats };
          this.#nats = new NatsBridge(this.#hub, nats, this.#topology.name, {
            ownRoutes: () => this.#root.routes(),
            changed: () => this.#publishRoutes(),
            log: (level, message) => this.#log(level, message, "runtime"),
            unreachable: (container, instance, silentFor) =>
              this.#emit("unresponsive", { container, instance, silentFor }),
          });
          await this.#nats.start();
        }
        // Remote containers: placed as agents link; start waits a while for that.
        if (remote.length > 0) {
          // Every agent that is up gets a say (spread), not just the first to answer.
          await this.#federation.contacted(PLACEMENT_WAIT);
          await placement.add(remote, PLACEMENT_WAIT);
        }
      }
    } catch (error) {
      await this.shutdown();
      throw error;
    }
    this.#log(
      "info",
      `started ${this.#topology.name}: ${this.#topology.containers.length} container${
        this.#topology.containers.length === 1 ? "" : "s"
      }`,
      "runtime",
    );
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
   * Observes runtime events (`start`, `exit`, `restart`, `unresponsive`, `escalate`, `log`).
   * @returns A function that stops observing.
   */
  on<K extends keyof RuntimeEvents>(
    type: K,
    listener: (event: RuntimeEvents[K]) => void,
  ): () => void {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, set = new Set());
    set.add(listener as (event: never) => void);
    return () => set.delete(listener as (event: never) => void);
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
    const validated = this.#validateSpawn(
      name,
      spec,
      null,
      supervisor.has(name) || !!this.#placement?.has(name),
    );
    if (validated.mode === "remote") {
      if (this.#placement?.has(name) && !options.replace) {
        throw new Error(
          `a container named "${name}" already exists; pass { replace: true } to replace it`,
        );
      }
      await this.#placement!.update(validated);
      return this.#refreshTopology();
    }
    await supervisor.spawn(validated, options);
    this.#refreshTopology();
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
    if (this.#placement?.has(name)) await this.#placement.remove(name);
    else await this.#owner(name).remove(name, options.mode);
    this.#refreshTopology();
  }

  /**
   * Stops and starts container `name` again (every replica; not counted toward intensity).
   *
   * @example
   * ```ts ignore
   * await rt.restart("cache");
   * ```
   */
  async restart(name: string, options: { mode?: StopMode } = {}): Promise<void> {
    this.#assertRunning();
    const remote = this.#remoteSpec(name);
    // A remote container is placed again (a new epoch): its agent replaces it without a gap.
    if (remote) return await this.#placement!.update(remote);
    await this.#owner(name).restart(name, options.mode);
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
    if (remote) await this.#placement!.update({ ...remote, replicas });
    else {
      const owner = this.#owner(name);
      // Refused before the group changes: permissions may have been revoked since it started.
      const spec = owner.specs().find((s) => s.name === name);
      if (spec) assertStartableHere(spec);
      await owner.scale(name, replicas);
    }
    this.#refreshTopology();
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
    const next = await loadTopology(source, isObject ? { baseUrl: this.#baseUrl } : {});
    assertGrantsWithinHost(next.containers, true);
    const plan = planTopology(this.#topology, next);
    if (options.dryRun) return plan;
    this.#emit("apply", { phase: "start", plan });
    for (const refused of plan.refused) {
      this.#log("warn", `apply: not applied: ${refused}`, "runtime");
    }
    try {
      for (const step of plan.steps) {
        this.#assertRunning();
        await this.#applyStep(step, next);
        this.#emit("apply", { phase: "step", plan, step });
        this.#log("info", `apply: ${describeStep(step)}`, "runtime");
      }
      this.#settleOrder(next.containers, this.#root);
    } catch (error) {
      const failed = plan.steps.find((s) => !this.#appliedSteps.has(s));
      this.#emit("apply", {
        phase: "failed",
        plan,
        step: failed,
        error: (error as Error).message,
      });
      this.#log(
        "error",
        `apply stopped${failed ? ` at "${describeStep(failed)}"` : ""}: ${
          (error as Error).message
        }`,
        "runtime",
      );
      throw error;
    } finally {
      // What runs now, whatever happened: the next plan starts from the truth.
      this.#topology = { ...this.#topology, placement: next.placement };
      this.#refreshTopology(next.containers.map((c) => c.name));
      this.#appliedSteps.clear();
    }
    this.#emit("apply", { phase: "done", plan });
    return plan;
  }

  /**
   * Rebuilds `rt.topology` from what runs (after apply, scale, spawn, stop): the next plan, e.g.
   * of `kraken reload`, starts from the truth, not from the file as it was at start.
   */
  #refreshTopology(order = this.#topology.containers.map((c) => c.name)): void {
    const running = [
      ...this.#root.specs(),
      ...(this.#placement?.snapshot().map((p) => p.spec) ?? []),
    ];
    const rank = (name: string) => order.indexOf(name) === -1 ? Infinity : order.indexOf(name);
    this.#topology = {
      ...this.#topology,
      supervisor: this.#root.spec,
      containers: running.sort((a, b) => rank(a.name) - rank(b.name)),
    };
  }

  /** The spec of remote container `name`, if it is one. */
  #remoteSpec(name: string): ContainerSpec | undefined {
    return this.#placement?.snapshot().find((p) => p.name === name)?.spec;
  }

  async #applyStep(step: PlanStep, next: Topology): Promise<void> {
    const spec = step.name === null ? undefined : findSpec(next.containers, step.name);
    if (step.name !== null && (spec?.mode === "remote" || this.#remoteSpec(step.name))) {
      // Remote containers are placed, not supervised here: a change is a new placement (same
      // agent unless host: moved it), a removal stops it on its agent.
      if (step.op === "remove") await this.#placement!.remove(step.name);
      else if (spec?.mode === "remote") {
        // The new copy first, then the old one goes: no moment without a route.
        await this.#placement!.update(spec);
        if (this.#owns(step.name)) await this.#owner(step.name).remove(step.name);
      } else {
        await this.#root.spawn(spec!);
        await this.#placement!.remove(step.name);
      }
      this.#appliedSteps.add(step);
      return;
    }
    switch (step.op) {
      case "supervisor":
        if (step.name === null) this.#root.setFlags(next.supervisor);
        else this.#owner(step.name).update(spec!);
        break;
      case "add": {
        const supervisor = step.parent ? this.#supervisorOf(step.parent) : this.#root;
        await supervisor.spawn(spec!);
        break;
      }
      case "remove":
        await this.#owner(step.name).remove(step.name);
        break;
      case "scale":
        await this.#owner(step.name).scale(step.name, step.to);
        break;
      case "replace":
        await this.#owner(step.name).replace(spec!);
        break;
      case "update":
        this.#owner(step.name).update(spec!);
        break;
    }
    this.#appliedSteps.add(step);
  }

  /** After an apply: start order as written, and inline parents restart with their new children. */
  #settleOrder(specs: readonly ContainerSpec[], supervisor: Supervisor): void {
    supervisor.reorder(specs.map((s) => s.name));
    for (const spec of specs) {
      if (spec.mode !== "inline" || !supervisor.has(spec.name)) continue;
      supervisor.update(spec);
      if (spec.children.length === 0) continue;
      let sub: Supervisor | undefined;
      try {
        sub = supervisor.childSupervisor(spec.name);
      } catch {
        continue; // restarting: it starts its children from its (updated) spec
      }
      if (sub) this.#settleOrder(spec.children, sub);
    }
  }

  /** Where this runtime accepts links from its peers (`transports.listen`, real port), if it does. */
  get listening(): URL | null {
    return this.#federation?.listening ?? null;
  }

  /** The topology this runtime runs (the latest one applied). */
  get topology(): Topology {
    return this.#topology;
  }

  /** A snapshot of the live supervision tree. */
  tree(): TreeSnapshot {
    const now = performance.now();
    const s = this.#topology.supervisor;
    return {
      name: this.#topology.name,
      supervisor: {
        strategy: s.strategy,
        intensity: s.intensity,
        period: s.period,
        state: this.#state,
      },
      containers: [...this.#root.snapshot(now), ...this.#remoteSnapshot(now)],
      relayed: this.#hub.relayed,
      refused: this.#hub.refused,
      peers: [...(this.#federation?.snapshot(now) ?? []), ...(this.#nats?.snapshot(now) ?? [])],
      leaked: this.#leaked.map((l) => ({
        container: l.container,
        instance: l.instance,
        since: Math.round(now - l.at),
      })),
    };
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
    return containerMetrics(
      this.#root.snapshot(),
      metricsBook(this.#hub).collect(this.#hub.heldCounts()),
      this.#violations,
    );
  }

  /**
   * Who a log line from node `from` is by: the instance it names when that node may speak for it
   * (its own, or one below it), else that node's own instance — a container cannot put words in
   * another's mouth (nor, on an agent, send lines to another root).
   */
  #speaker(from: string, source: string): string {
    if (from === this.#hub.id) return source;
    const handle = this.#handles.get(from);
    if (!handle) return `node ${from}`;
    if (source === handle.instance) return source;
    const container = containerOf(source);
    const entry = container !== null ? this.#hub.routes[container] : undefined;
    const below = (i: { i: string; n: string }) => i.i === source && within(i.n, from);
    if (entry && (entry.instances.some(below) || entry.x?.some(below))) return source;
    return handle.instance;
  }

  /** Node `from` sent something it had no right to: count it against its container, log it. */
  #violation(from: string, what: string, logged: boolean): void {
    const handle = this.#handles.get(from.split("/")[0]);
    this.#violated(handle?.container ?? from, handle?.instance ?? `node ${from}`, what, logged);
  }

  /** Counts a violation against `container` and logs it (bounded: it may be a flood). */
  #violated(container: string, instance: string, what: string, logged = false): void {
    const n = (this.#violations.get(container) ?? 0) + 1;
    this.#violations.set(container, n);
    // A hostile container could flood the log: the first few, then one line per thousand.
    if (!logged && (n <= 5 || n % 1000 === 0)) {
      this.#log(
        "warn",
        `dropped from ${instance} (it speaks only for itself): ${what}${
          n > 5 ? ` (${n} dropped so far)` : ""
        }`,
        instance.startsWith("node ") ? "runtime" : instance,
      );
    }
  }

  /** Remote containers as the tree shows them: on their agent, with the instances it routes. */
  #remoteSnapshot(now: number): ContainerSnapshot[] {
    return (this.#placement?.snapshot(now) ?? []).map((p) => {
      const routed = this.#federation?.routes()[p.name]?.instances ?? [];
      return {
        name: p.name,
        mode: "remote",
        host: p.host ?? "-",
        replicas: p.spec.replicas,
        running: p.state === "running" ? routed.length : 0,
        restarts: p.restarts,
        held: p.state === "held",
        placement: { state: p.state, epoch: p.epoch, ...(p.why ? { why: p.why } : {}) },
        instances: routed.map((i) => ({
          id: i.i,
          replica: Number(i.i.split("#")[1]?.split(".")[0] ?? 0),
          incarnation: Number(i.i.split(".").pop() ?? 0),
          state: "running" as const,
          node: i.n,
          restarts: 0,
          uptime: p.state === "running" ? p.since : 0,
        })),
      };
    });
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

  /** Whether a supervisor of this runtime has container `name`. */
  #owns(name: string): boolean {
    return this.#root.find(name) !== undefined;
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

  #validateSpawn(
    name: string,
    input: ContainerInput,
    parent: ContainerSpec | null,
    replacing = false,
  ): ContainerSpec {
    // A name a child holds for a container it spawned is not taken: the application's wins.
    if (!replacing && this.#takenNames()(name)) {
      throw new Error(
        `a container named "${name}" already exists; pass { replace: true } to replace it`,
      );
    }
    const spec = validateContainer(name, input, {
      baseUrl: this.#baseUrl,
      env: (key) => Deno.env.get(key),
      parent: parent ?? undefined,
      hosts: this.#topology.hosts,
      fs: DENO_FS,
    });
    if (!parent || parent.mode === "inline") assertStartableHere(spec);
    return spec;
  }

  #relay(event: SupervisorEvent): void {
    // A host agent reports what happens to a placed container to the runtime that placed it
    // (remote supervision: restarted here, seen there).
    const placedBy = this.#agent && event.type !== "escalate" && "container" in event
      ? this.#agent.placerOf(event.container)
      : undefined;
    if (placedBy) {
      const { type, container, instance, incarnation } = event as {
        type: string;
        container: string;
        instance: string;
        incarnation: number;
      };
      this.#federation?.send(placedBy, {
        k: "event",
        e: {
          type,
          container,
          instance,
          incarnation,
          ...("reason" in event ? { reason: event.reason } : {}),
          ...("delay" in event ? { delay: event.delay } : {}),
        },
      });
    }
    if (event.type === "escalate") {
      const { supervisor, intensity, period, why, child, failure } = event;
      const error = new SupervisorGaveUpError(supervisor, intensity, period, {
        child,
        failure,
        why,
      });
      return this.#emit("escalate", { supervisor, child, error });
    }
    // The other events carry exactly the fields of their RuntimeEvents entry.
    const { type, ...fields } = event;
    this.#emit(type, fields as RuntimeEvents[typeof type]);
  }

  /** Routes change as instances come and go; every node gets the new table once per turn. */
  #placementSite() {
    return {
      send: (peer: string, env: Envelope) => this.#federation?.send(peer, env) ?? false,
      liveInstances: (name: string) => this.#federation?.routes()[name]?.instances.length ?? 0,
      changed: () => this.#publishRoutes(),
      log: (level: "info" | "warn" | "error", message: string) =>
        this.#log(level, message, "runtime"),
      logFrom: (level: LogLevel, message: string, source: string) =>
        this.#log(level, message, source),
      emit: (event: SupervisorEvent) => this.#relay(event),
    };
  }

  /** This runtime as a host agent: it runs what root runtimes place on it. */
  #agentHost(options: AgentOptions): AgentHost {
    const agent: AgentHost = new AgentHost(options, {
      run: async (spec) => {
        const current = this.#root.specs().find((s) => s.name === spec.name);
        if (!current) await this.#root.spawn(spec);
        else if (current.replicas !== spec.replicas && sameButReplicas(current, spec)) {
          await this.#root.scale(spec.name, spec.replicas); // a scale keeps running replicas
        } else await this.#root.replace(spec); // changed, or the same again: a restart
        for (const peer of agent.placers()) this.#federation?.send(peer, this.#load());
      },
      stop: async (name) => {
        if (this.#root.has(name)) await this.#root.remove(name);
      },
      // No `${VAR}` expansion: a root must not read this host's environment through a spec (an
      // expanded value would come back in an error message). The agent checks the grant itself.
      validate: (name, input) =>
        validateContainer(name, input, {
          baseUrl: this.#baseUrl,
          env: () => undefined,
          fs: DENO_FS,
        }),
      send: (peer, env) => this.#federation?.send(peer, env) ?? false,
      log: (level, message) => this.#log(level, message, "agent"),
    });
    return agent;
  }

  /** How loaded this host is, for a root's least_loaded placement. */
  #load(): Envelope {
    const specs = this.#root.specs();
    return {
      k: "load",
      c: specs.reduce((n, s) => n + s.replicas, 0),
      m: Deno.memoryUsage().rss,
    };
  }

  #publishRoutes(reported = false): void {
    this.#routePace.changed(reported);
  }

  // ---- claims and routes (issue 11: a child's claims, and what it can make the host hold) ------

  /**
   * The names no child may hold for a container it spawned, as things are now: declared in the
   * topology, supervised in this runtime, a peer runtime's (even while it is away, or gone),
   * placed from here or placed on this agent.
   */
  #takenNames(): (name: string) => boolean {
    const names = declaredNames(this.#topology.containers, new Set(this.#root.names()));
    declaredNames(this.#root.specs(), names);
    for (const placed of this.#placement?.snapshot() ?? []) names.add(placed.name);
    for (const name of this.#agent?.names() ?? []) names.add(name);
    for (const peer of [...this.#federation?.snapshot() ?? [], ...this.#nats?.snapshot() ?? []]) {
      for (const name of peer.containers) names.add(name);
    }
    for (const name in this.#nats?.routes() ?? {}) names.add(name);
    return (name) => names.has(name);
  }

  /** The hub's own table: this runtime's routes over the peers' and placements'. */
  #updateRoutes(): void {
    const own = this.#root.routes();
    // Peers' containers first: this runtime's own entries win on a name both claim.
    // Remote containers not serving now are held for; an agent's live routes replace that.
    this.#hub.setRoutes(
      this.#federation
        ? {
          ...this.#nats?.routes(),
          ...this.#placement?.routes(),
          ...this.#federation.routes(),
          ...own,
        }
        : own,
    );
  }

  /** Every node below the hub, and every peer runtime, gets the table. */
  #broadcastRoutes(): void {
    const env: Envelope = { k: "routes", r: this.#hub.routes };
    for (const id of this.#handles.keys()) this.#hub.sendTo(id, env);
    this.#federation?.publishOwn();
    this.#nats?.publishOwn();
  }

  #unhandledRejection(event: PromiseRejectionEvent): void {
    const stack = event.reason instanceof Error ? event.reason.stack ?? "" : "";
    for (const handle of this.#live) {
      if (handle instanceof InlineHandle && handle.running && handle.owns(stack)) {
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
    this.#placement?.close();
    await this.#federation?.close();
    await this.#nats?.close();
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
    for (const listener of this.#listeners.get(type) ?? []) {
      try {
        (listener as (event: RuntimeEvents[K]) => void)(event);
      } catch (error) {
        // A log listener that throws is not logged about: that would call it again.
        if (type === "log") continue;
        this.#log("error", `a "${type}" listener threw: ${(error as Error).message}`, "runtime");
      }
    }
  }

  #log(level: LogLevel, message: string, source: string): void {
    // On a host agent, what a placed container logs goes to the runtime that placed it too.
    const placer = this.#agent?.placerOf(source.split("#")[0]);
    if (placer) this.#federation?.send(placer, { k: "log", l: level, m: message, c: source });
    if (LOG_LEVEL_RANK[level] < LOG_LEVEL_RANK[this.#logLevel]) return;
    this.#logger({ level, message, source });
    if (this.#listeners.get("log")?.size) {
      this.#emit("log", { level, message, source, time: Date.now() });
    }
  }
}

/**
 * Refuses a grant wider than this process's, and a process container this process may not start,
 * for every container the host itself starts.
 */
function assertGrantsWithinHost(specs: readonly ContainerSpec[], hostSide: boolean): void {
  for (const spec of specs) {
    // Children of an inline container start from the host; deeper ones are checked against
    // their parent's grant when the topology is validated.
    if (hostSide) assertStartableHere(spec);
    assertGrantsWithinHost(spec.children, hostSide && spec.mode === "inline");
  }
}

/** What this process must hold to start `spec` itself: its grant, and Deno for a process. */
function assertStartableHere(spec: ContainerSpec): void {
  // A remote container's grant is its agent's to check (against its own limits and paths).
  if (spec.mode === "remote") return;
  assertWithinHost(spec.name, spec.permissions);
  if (spec.mode === "process") assertCanRunProcess(spec.name);
}

/** Whether two specs differ at most in their replica count (a scale, not a replacement). */
function sameButReplicas(a: ContainerSpec, b: ContainerSpec): boolean {
  return JSON.stringify({ ...a, replicas: 0 }) === JSON.stringify({ ...b, replicas: 0 });
}

/** Container `name` anywhere in `specs` (nested children included). */
function findSpec(specs: readonly ContainerSpec[], name: string): ContainerSpec | undefined {
  for (const spec of specs) {
    if (spec.name === name) return spec;
    const found = findSpec(spec.children, name);
    if (found) return found;
  }
  return undefined;
}

function hasInline(specs: readonly ContainerSpec[]): boolean {
  return specs.some((s) => s.mode === "inline" || hasInline(s.children));
}

/** One plan step in a log line. */
function describeStep(step: PlanStep): string {
  switch (step.op) {
    case "add":
      return `added ${step.name} (${step.mode}, ${step.replicas} replica${
        step.replicas === 1 ? "" : "s"
      })`;
    case "remove":
      return `removed ${step.name}`;
    case "scale":
      return `scaled ${step.name} ${step.from} → ${step.to}`;
    case "replace":
      return `replaced ${step.name} (${step.changes.join("; ")})`;
    case "update":
      return `updated ${step.name} in place (${step.changes.join("; ")})`;
    case "supervisor":
      return `supervisor ${step.name ?? "root"}: ${step.changes.join("; ")}`;
  }
}
