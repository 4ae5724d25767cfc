/**
 * The runtime: starts a topology, routes messages to its containers by name, restarts what fails,
 * shows the live tree and shuts everything down without orphans.
 *
 * @module
 */
import { loadTopology } from "../config/load.ts";
import type { ContainerSpec, Topology, TopologyInput } from "../config/topology.ts";
import {
  type Envelope,
  type ExitReason,
  LOG_LEVEL_RANK,
  type LogLevel,
  type RouteTable,
} from "../protocol/envelope.ts";
import { SupervisorGaveUpError } from "../protocol/errors.ts";
import {
  backoffDelay,
  recordRestart,
  shouldRestart,
  stablePeriod,
} from "../supervisor/restart_policy.ts";
import type { ContainerDefinition, ContainerRef, MessageMeta } from "./container.ts";
import { assertWithinHost } from "./_grant.ts";
import { createHandle, InlineHandle, type InstanceHandle, WorkerHandle } from "./_modes.ts";
import { Node } from "./_node.ts";

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
}

/** Events a runtime emits. */
export interface RuntimeEvents {
  /** An instance started (first time or after a restart). */
  start: { container: string; instance: string; incarnation: number };
  /** An instance ended, with why. */
  exit: { container: string; instance: string; reason: ExitReason };
  /** A failed instance was started again. */
  restart: { container: string; instance: string; incarnation: number; delay: number };
  /** An instance missed its heartbeats and was replaced. */
  unresponsive: { container: string; instance: string; silentFor: number };
  /** The root supervisor gave up; the runtime shuts down. */
  escalate: { supervisor: string; error: SupervisorGaveUpError };
}

/** One instance in the tree. */
export interface InstanceSnapshot {
  /** Instance id, `name#replica.incarnation`. */
  id: string;
  /** Replica index. */
  replica: number;
  /** Incarnation (1 for the first start). */
  incarnation: number;
  /** `starting`, `running`, `restarting`, `stopping`, `stopped`. */
  state: SlotState;
  /** Node it lives in: `host`, `w<n>`, `p<n>`. */
  node: string;
  /** Restarts of this replica so far. */
  restarts: number;
  /** Milliseconds since it last started (0 when not running). */
  uptime: number;
  /** Why it last ended, if it has. */
  lastExit?: ExitReason;
}

/** One container in the tree. */
export interface ContainerSnapshot {
  /** Container name. */
  name: string;
  /** Where it runs. */
  mode: ContainerSpec["mode"];
  /** The host it runs on (`local` for this runtime). */
  host: string;
  /** Replicas wanted. */
  replicas: number;
  /** Running instances. */
  running: number;
  /** Restarts across its replicas. */
  restarts: number;
  /** Its instances. */
  instances: InstanceSnapshot[];
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
  /** Containers in start order. */
  containers: ContainerSnapshot[];
  /** Messages the host relayed between two containers outside it (worker ↔ worker goes direct). */
  relayed: number;
}

/** Where an instance is in its life. */
export type SlotState = "starting" | "running" | "restarting" | "stopping" | "stopped";

interface Slot {
  replica: number;
  incarnation: number;
  state: SlotState;
  handle: InstanceHandle | null;
  restarts: number;
  consecutive: number;
  startedAt: number;
  lastExit?: ExitReason;
  timer?: ReturnType<typeof setTimeout>;
}

interface Group {
  spec: ContainerSpec;
  slots: Slot[];
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
  readonly #topology: Topology;
  readonly #groups = new Map<string, Group>();
  readonly #hub: Node;
  readonly #handles = new Map<string, InstanceHandle>();
  /** Every handle not yet gone, old incarnations still cleaning up included. */
  readonly #live = new Set<InstanceHandle>();
  readonly #listeners = new Map<keyof RuntimeEvents, Set<(event: never) => void>>();
  readonly #logLevel: LogLevel | "silent";
  readonly #logger: (entry: LogEntry) => void;
  #restartHistory: number[] = [];
  #nextNode = 1;
  #routesQueued = false;
  #state: "running" | "shutting_down" | "stopped" = "running";
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #shutdown: Promise<void> | null = null;
  #closedResolve!: (error: Error | null) => void;
  #onRejection = (event: PromiseRejectionEvent) => this.#unhandledRejection(event);
  /** Settles when the runtime has shut down: with `null`, or the error that brought it down. */
  readonly closed: Promise<Error | null>;

  private constructor(topology: Topology, options: RuntimeOptions) {
    this.#topology = topology;
    this.#logLevel = options.logLevel ?? "info";
    this.#logger = options.logger ?? defaultLogger;
    this.closed = new Promise((resolve) => (this.#closedResolve = resolve));
    this.#hub = new Node("host", {
      onControl: (env, from) => this.#handles.get(from)?.control(env),
      onLog: (level, message, source) => this.#log(level, message, source),
    }, { hub: true });
  }

  /**
   * Starts a topology: validates it, refuses any permission wider than this process's, then starts
   * the containers in order (replicas of one container in parallel).
   *
   * @param topology A YAML file path or URL, or a topology object.
   * @param options Logging and base URL.
   * @returns The running runtime.
   * @throws {TopologyError} Invalid topology or a module that cannot be loaded.
   * @throws {PermissionEscalationError} A container asks for more than this process has.
   */
  static async start(
    topology: string | URL | TopologyInput,
    options: RuntimeOptions = {},
  ): Promise<Runtime> {
    const validated = await loadTopology(topology, { baseUrl: options.baseUrl });
    for (const spec of validated.containers) assertWithinHost(spec.name, spec.permissions);
    const rt = new Runtime(validated, options);
    await rt.#boot();
    return rt;
  }

  async #boot(): Promise<void> {
    for (const spec of this.#topology.containers) {
      this.#groups.set(spec.name, { spec, slots: [] });
    }
    if (this.#topology.containers.some((spec) => spec.mode === "inline")) {
      globalThis.addEventListener("unhandledrejection", this.#onRejection);
    }
    this.#publishRoutes();
    const keepalives = this.#topology.containers.filter((s) => s.mode !== "inline").map((s) =>
      s.keepalive
    );
    if (keepalives.length > 0) {
      const every = Math.max(10, Math.min(250, Math.min(...keepalives) / 4));
      this.#heartbeat = setInterval(() => this.#checkHeartbeats(), every);
    }
    try {
      for (const group of this.#groups.values()) {
        const starts: Promise<void>[] = [];
        for (let replica = 0; replica < group.spec.replicas; replica++) {
          const slot: Slot = {
            replica,
            incarnation: 0,
            state: "starting",
            handle: null,
            restarts: 0,
            consecutive: 0,
            startedAt: 0,
          };
          group.slots.push(slot);
          starts.push(this.#startSlot(group, slot));
        }
        const results = await Promise.allSettled(starts);
        const failed = results.find((r) => r.status === "rejected");
        if (failed) throw (failed as PromiseRejectedResult).reason;
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
   * Observes runtime events (`start`, `exit`, `restart`, `unresponsive`, `escalate`).
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

  /** A snapshot of the live supervision tree. */
  tree(): TreeSnapshot {
    const now = performance.now();
    const containers: ContainerSnapshot[] = [];
    for (const group of this.#groups.values()) {
      const instances = group.slots.map((slot): InstanceSnapshot => ({
        id: this.#instanceId(group, slot),
        replica: slot.replica,
        incarnation: slot.incarnation,
        state: slot.state,
        node: slot.handle?.node ?? "-",
        restarts: slot.restarts,
        uptime: slot.state === "running" ? Math.round(now - slot.startedAt) : 0,
        ...(slot.lastExit ? { lastExit: slot.lastExit } : {}),
      }));
      containers.push({
        name: group.spec.name,
        mode: group.spec.mode,
        host: "local",
        replicas: group.spec.replicas,
        running: instances.filter((i) => i.state === "running").length,
        restarts: instances.reduce((sum, i) => sum + i.restarts, 0),
        instances,
      });
    }
    const s = this.#topology.supervisor;
    return {
      name: this.#topology.name,
      supervisor: {
        strategy: s.strategy,
        intensity: s.intensity,
        period: s.period,
        state: this.#state,
      },
      containers,
      relayed: this.#hub.relayed,
    };
  }

  /**
   * Stops every container in reverse start order (graceful within each one's `shutdown:`, then
   * killed) and releases every worker, process and timer. Safe to call more than once.
   */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#stopAll(null);
    return this.#shutdown;
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  #instanceId(group: Group, slot: Slot): string {
    return `${group.spec.name}#${slot.replica}.${slot.incarnation}`;
  }

  async #startSlot(group: Group, slot: Slot): Promise<void> {
    slot.incarnation++;
    slot.state = "starting";
    const spec = group.spec;
    const node = spec.mode === "inline"
      ? this.#hub.id
      : `${spec.mode === "worker" ? "w" : "p"}${this.#nextNode++}`;
    const handle = createHandle({
      spec,
      instance: this.#instanceId(group, slot),
      node,
      hub: this.#hub,
      logLevel: this.#logLevel,
      log: (level, message, source) => this.#log(level, message, source),
    }, () => this.#routeTable());
    slot.handle = handle;
    this.#live.add(handle);
    handle.gone.then(() => {
      this.#live.delete(handle);
      if (this.#handles.get(node) === handle) this.#handles.delete(node);
    });
    if (node !== this.#hub.id) this.#handles.set(node, handle);
    handle.onExit = (reason) => this.#exited(group, slot, handle, reason);
    try {
      await handle.start();
    } catch (error) {
      if (slot.handle === handle) slot.handle = null;
      throw error;
    }
    if (slot.handle !== handle || this.#state !== "running") return;
    slot.state = "running";
    slot.startedAt = performance.now();
    this.#connectWorkers(handle);
    this.#publishRoutes();
    this.#emit("start", {
      container: spec.name,
      instance: this.#instanceId(group, slot),
      incarnation: slot.incarnation,
    });
  }

  #exited(group: Group, slot: Slot, handle: InstanceHandle, reason: ExitReason): void {
    if (slot.handle !== handle) return;
    const instance = this.#instanceId(group, slot);
    const wasRunning = slot.state === "running";
    slot.lastExit = reason;
    this.#forgetNode(handle);
    this.#publishRoutes();
    if (slot.state === "stopping" || this.#state !== "running") {
      slot.state = "stopped";
      return;
    }
    this.#emit("exit", { container: group.spec.name, instance, reason });
    this.#log(
      reason.kind === "error" || reason.kind === "crashed" ? "warn" : "info",
      `${instance} exited: ${reason.message}`,
      "runtime",
    );
    // The isolate may still be cleaning up; make sure it goes.
    if (reason.kind !== "stopped" && reason.kind !== "normal") handle.stop(reason);
    slot.handle = null;
    this.#decide(group, slot, reason, wasRunning);
  }

  /** The supervisor's decision for an instance that ended: leave it, restart it, or give up. */
  #decide(group: Group, slot: Slot, reason: ExitReason, wasRunning: boolean): void {
    if (!shouldRestart(group.spec.restart, reason)) {
      slot.state = "stopped";
      return;
    }
    const supervisor = this.#topology.supervisor;
    const now = performance.now();
    const recorded = recordRestart(this.#restartHistory, now, supervisor);
    this.#restartHistory = recorded.history;
    if (recorded.exceeded) {
      slot.state = "stopped";
      const error = new SupervisorGaveUpError("root", supervisor.intensity, supervisor.period);
      this.#log(
        "error",
        `${error.message}; last failure: ${group.spec.name}: ${reason.message}`,
        "runtime",
      );
      this.#emit("escalate", { supervisor: "root", error });
      this.#shutdown ??= this.#stopAll(error);
      return;
    }
    slot.consecutive = wasRunning && now - slot.startedAt > stablePeriod(supervisor.backoff)
      ? 1
      : slot.consecutive + 1;
    const delay = backoffDelay(slot.consecutive, supervisor.backoff, Math.random());
    slot.state = "restarting";
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      if (this.#state !== "running" || slot.state !== "restarting") return;
      slot.restarts++;
      this.#startSlot(group, slot).then(
        () => {
          this.#emit("restart", {
            container: group.spec.name,
            instance: this.#instanceId(group, slot),
            incarnation: slot.incarnation,
            delay,
          });
        },
        (error: Error) => {
          if (this.#state !== "running") return;
          // A failed restart is a failure like any other: it counts toward intensity.
          const failure: ExitReason = {
            kind: "error",
            message: `restart failed: ${error.message}`,
            error: { name: error.name, message: error.message, stack: error.stack, kind: "remote" },
          };
          slot.lastExit = failure;
          this.#emit("exit", {
            container: group.spec.name,
            instance: this.#instanceId(group, slot),
            reason: failure,
          });
          this.#decide(group, slot, failure, false);
        },
      );
    }, delay);
  }

  #forgetNode(handle: InstanceHandle): void {
    if (handle.node === this.#hub.id) return;
    for (const id of this.#handles.keys()) {
      if (id !== handle.node) this.#hub.sendTo(id, { k: "down", n: handle.node });
    }
  }

  /** Gives a newly ready worker a direct MessageChannel to every other ready worker. */
  #connectWorkers(handle: InstanceHandle): void {
    const mine = handle instanceof WorkerHandle ? handle.portLink : null;
    if (!mine) return;
    for (const [id, other] of this.#handles) {
      const theirs = other instanceof WorkerHandle && other !== handle ? other.portLink : null;
      if (!theirs || !this.#isReady(id)) continue;
      const channel = new MessageChannel();
      mine.handOver(id, channel.port1);
      theirs.handOver(handle.node, channel.port2);
    }
  }

  #isReady(node: string): boolean {
    for (const group of this.#groups.values()) {
      for (const slot of group.slots) {
        if (slot.handle?.node === node) return slot.state === "running";
      }
    }
    return false;
  }

  #routeTable(): RouteTable {
    const table: RouteTable = {};
    for (const group of this.#groups.values()) {
      table[group.spec.name] = {
        balance: group.spec.balance,
        instances: group.slots
          .filter((slot) => slot.state === "running" && slot.handle)
          .map((slot) => ({ i: this.#instanceId(group, slot), n: slot.handle!.node })),
      };
    }
    return table;
  }

  /** Routes change as instances come and go; every node gets the new table once per turn. */
  #publishRoutes(): void {
    this.#hub.setRoutes(this.#routeTable());
    if (this.#routesQueued) return;
    this.#routesQueued = true;
    queueMicrotask(() => {
      this.#routesQueued = false;
      // The hub's table is already current (set on every change): send that one.
      const env: Envelope = { k: "routes", r: this.#hub.routes };
      for (const id of this.#handles.keys()) this.#hub.sendTo(id, env);
    });
  }

  #checkHeartbeats(): void {
    const now = performance.now();
    for (const group of this.#groups.values()) {
      for (const slot of group.slots) {
        if (slot.state !== "running" || !slot.handle) continue;
        const silent = slot.handle.heartbeat(now);
        if (silent > group.spec.keepalive) {
          const instance = this.#instanceId(group, slot);
          this.#emit("unresponsive", {
            container: group.spec.name,
            instance,
            silentFor: Math.round(silent),
          });
          slot.handle.kill({
            kind: "unresponsive",
            message: `no heartbeat for ${Math.round(silent)} ms`,
          });
        }
      }
    }
  }

  #unhandledRejection(event: PromiseRejectionEvent): void {
    const stack = event.reason instanceof Error ? event.reason.stack ?? "" : "";
    for (const group of this.#groups.values()) {
      if (group.spec.mode !== "inline") continue;
      for (const slot of group.slots) {
        const handle = slot.handle;
        if (slot.state === "running" && handle instanceof InlineHandle && handle.owns(stack)) {
          // Traced to an inline container: it fails like any other; the host lives on.
          event.preventDefault();
          handle.fail(event.reason);
          return;
        }
      }
    }
  }

  async #stopAll(error: Error | null): Promise<void> {
    if (this.#state === "stopped") return;
    this.#state = "shutting_down";
    clearInterval(this.#heartbeat);
    for (const group of [...this.#groups.values()].reverse()) {
      const stops: Promise<void>[] = [];
      for (const slot of group.slots) {
        clearTimeout(slot.timer);
        const handle = slot.handle;
        if (!handle || slot.state === "stopped") {
          slot.state = "stopped";
          continue;
        }
        slot.state = "stopping";
        stops.push(
          handle.stop({ kind: "stopped", message: "runtime shutdown" }).then(() => {
            slot.state = "stopped";
          }),
        );
      }
      await Promise.all(stops);
    }
    // Old incarnations still stopping after a failure: they are bounded by their own timeouts.
    await Promise.all([...this.#live].map((handle) => handle.gone));
    this.#hub.close(error ? `the runtime stopped: ${error.message}` : "the runtime has shut down");
    globalThis.removeEventListener("unhandledrejection", this.#onRejection);
    this.#state = "stopped";
    this.#closedResolve(error);
  }

  #emit<K extends keyof RuntimeEvents>(type: K, event: RuntimeEvents[K]): void {
    for (const listener of this.#listeners.get(type) ?? []) {
      try {
        (listener as (event: RuntimeEvents[K]) => void)(event);
      } catch (error) {
        this.#log("error", `a "${type}" listener threw: ${(error as Error).message}`, "runtime");
      }
    }
  }

  #log(level: LogLevel, message: string, source: string): void {
    if (LOG_LEVEL_RANK[level] < LOG_LEVEL_RANK[this.#logLevel]) return;
    this.#logger({ level, message, source });
  }
}
