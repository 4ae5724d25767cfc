/**
 * One supervisor at work in an isolate: the state machine of `supervisor/machine.ts` (every
 * decision) driven by `supervisor/runner.ts` (every effect), with this isolate's clock and timers,
 * and instances made by the modes (`_modes.ts`). The same class runs at the root of the host and
 * inside any worker or process whose container has `children:` — a supervisor never reaches across
 * an isolate boundary except through the messages of its children's links.
 *
 * What is left here is the runtime's part: making instances (node ids, handles, an inline
 * container's own children), what their isolates report, and the public calls.
 *
 * @module
 */
import type {
  ContainerInput,
  ContainerSpec,
  ServeSpec,
  SupervisorSpec,
} from "../config/topology.ts";
import type { Envelope, LogLevel, RouteTable } from "../protocol/envelope.ts";
import type { SupervisorGaveUpError } from "../protocol/errors.ts";
import type { SupervisorEvent } from "../supervisor/events.ts";
import { type Clock, type Launching, SupervisorRunner } from "../supervisor/runner.ts";
import type { StopMode } from "../supervisor/spec.ts";
import { type Child, instanceId, instanceKey, slotState } from "../supervisor/state.ts";
import { routeViews } from "../supervisor/views.ts";
import { Incarnation } from "./_incarnation.ts";
import type { PeerPorts } from "./_peer_ports.ts";
import { createHandle, type InstanceHandle } from "./_modes.ts";
import type { Node } from "./_node.ts";
import { type Reports, routesOf, snapshotOf, type ViewSources } from "./_supervisor_view.ts";
import type { ContainerSnapshot } from "./snapshots.ts";
import type { SpawnOptions } from "./container.ts";
import { sanitizeEvent } from "../supervisor/event_check.ts";
import { declaredNames, sanitizeSubtree } from "./_trust.ts";
import { ChildReports, type Claimant, claimRoutes, type NameClaims } from "./_claims.ts";
import { within } from "../protocol/routes.ts";
import { ServePorts } from "./_serve_ports.ts";

export type { SupervisorEvent } from "../supervisor/events.ts";
export type { SlotState } from "../supervisor/state.ts";
export type { ContainerSnapshot, InstanceSnapshot } from "./snapshots.ts";

/** What a supervisor needs from the isolate it works in. */
export interface SupervisorSite {
  /** This isolate's node: children's links attach to it, inline children live in it. */
  readonly node: Node;
  /** Handles of the child nodes of this isolate, by node id (control envelopes find them here). */
  readonly handles: Map<string, InstanceHandle>;
  /** The hub's direct channels between workers: who must hear that a node is gone. */
  readonly peers?: PeerPorts;
  /** A fresh node id for a worker or process child. */
  newNodeId(mode: "worker" | "process"): string;
  /** Lowest log level forwarded. */
  readonly logLevel: LogLevel | "silent";
  /** Logs a line. */
  log(level: LogLevel, message: string, source: string): void;
  /** Reports a supervision event. */
  emit(event: SupervisorEvent): void;
  /**
   * Routes or the tree changed (coalesce: called often). `reported`: a child's report changed
   * them — a hostile child may report in a flood, so those changes may be paced.
   */
  changed(reported?: boolean): void;
  /** Container definitions already loaded in this isolate, by module URL. */
  readonly definitions?: ReadonlyMap<string, unknown>;
  /** A worker was terminated while unresponsive: its thread may still be spinning. */
  leaked?(container: string, instance: string): void;
  /**
   * Checks what worker or process `spec`'s isolate will load (see `_sources.ts`), then gives the
   * extra `read` grant it needs so workers can be nested in it; rejects to refuse its start.
   */
  sourceReads?(spec: ContainerSpec): string[] | Promise<string[]>;
  /** Sees every handle created (to wait for all of them at shutdown). */
  track?(handle: InstanceHandle): void;
  /** Validates a spawned child of `parent` (module, grant within the parent's, unique name). */
  validate(name: string, input: ContainerInput, parent: ContainerSpec | null): ContainerSpec;
  /** Folder URL relative modules of a spawned child resolve against. */
  readonly baseUrl?: string;
  /** A child's report was cut to what it may speak for: count it against it, log it. */
  violation?(container: string, instance: string, what: string): void;
  /** Which child holds which name it spawned (one registry per isolate: see `NameClaims`). */
  readonly claims: NameClaims;
  /**
   * The names no child may hold, as things are now: declared, or served here by anything but a
   * child's claim. Asked once per report and per routes computed (it may be a snapshot).
   */
  taken(): (name: string) => boolean;
  /** The ports picked for `serve: { port: 0 }` (one book per runtime; one of its own without). */
  readonly ports?: ServePorts;
}

/**
 * How many worker or process containers boot at once when a supervisor starts its list: one per
 * core (2 to 16). Booting is mostly the new isolate's own work on its own thread, so a few at a time
 * keep the cores busy where one at a time left them waiting on each other; more than the cores
 * starved the running ones (400 workers, 4 at a time on 2 cores: dozens of them silent for 7 s,
 * declared unresponsive; 2 at a time: none).
 */
export const START_AHEAD: number = Math.min(
  16,
  Math.max(2, (globalThis.navigator?.hardwareConcurrency as number | undefined) ?? 1),
);

/** This isolate's clock and timers. */
const SYSTEM_CLOCK: Clock = {
  now: () => performance.now(),
  setTimer: (fire, ms) => setTimeout(fire, ms),
  clearTimer: (timer) => clearTimeout(timer as number),
};

type Runner = SupervisorRunner<ContainerSpec, Incarnation<Supervisor>>;

/** A supervisor of an ordered list of containers. */
export class Supervisor {
  /** `root`, or the name of the container whose children these are. */
  readonly name: string;
  readonly #site: SupervisorSite;
  readonly #runner: Runner;
  /** What each replica's isolate reported about its own children, by child id and replica. */
  readonly #reports: ChildReports;
  readonly #views: ViewSources;
  readonly #ports: ServePorts;
  /** Called once when it gives up (its children are stopped by then). */
  onGiveUp: (error: SupervisorGaveUpError) => void = () => {};

  constructor(name: string, spec: SupervisorSpec, site: SupervisorSite) {
    this.name = name;
    this.#site = site;
    this.#ports = site.ports ?? new ServePorts();
    this.#reports = new ChildReports(site.claims);
    const source = name === "root" ? "runtime" : `supervisor ${name}`;
    this.#runner = new SupervisorRunner(name, spec, {
      launch: (child, launching) => this.#launch(child, launching),
      log: (level, message) => site.log(level, message, source),
      emit: (event) => site.emit(event),
      changed: () => site.changed(),
      gaveUp: (error) => this.onGiveUp(error),
    }, { clock: SYSTEM_CLOCK, random: Math.random });
    const runner = this.#runner;
    this.#views = {
      node: (key) => {
        const incarnation = runner.instance(key);
        return incarnation?.handle ? incarnation.node : undefined;
      },
      pid: (key) => runner.instance(key)?.handle?.pid,
      usage: (key) => runner.instance(key)?.handle?.usage?.(),
      entities: (key, name) => runner.instance(key)?.handle?.figures()?.[name]?.a,
      children: (key) => runner.instance(key)?.children ?? null,
      reports: (child, replica) => this.#reports.get(child, replica),
      serving: (spec) => this.#ports.resolved(spec),
    };
  }

  /** `running`, `stopping`, `stopped` or `gave_up`. */
  get state(): string {
    return this.#runner.state.status;
  }

  /** Its flags (change them with {@linkcode Supervisor.setFlags}). */
  get spec(): SupervisorSpec {
    const flags = this.#runner.state.flags;
    return { ...flags, backoff: { ...flags.backoff } };
  }

  /** Whether it supervises container `name` (not counting deeper levels). */
  has(name: string): boolean {
    return this.#runner.state.children.some((c) => c.spec.name === name);
  }

  /** The supervisor (this one, or one below it in this isolate) that has child `name`. */
  find(name: string): Supervisor | undefined {
    if (this.has(name)) return this;
    for (const incarnation of this.#incarnations()) {
      const found = incarnation.children?.find(name);
      if (found) return found;
    }
    return undefined;
  }

  /** The supervisor of inline container `name`'s children (created on first use), if inline. */
  childSupervisor(name: string): Supervisor | undefined {
    const child = this.#child(name);
    if (child.spec.mode !== "inline") return undefined;
    const slot = child.slots.find((s) => s.phase.state === "running");
    const incarnation = slot && this.#runner.instance(instanceKey(slot.phase));
    if (!incarnation) throw new Error(`container "${name}" is not running`);
    return this.#childrenOf(incarnation, child.id);
  }

  /** Names of every container at or below this supervisor in this isolate. */
  names(): string[] {
    const out: string[] = [];
    for (const child of this.#runner.state.children) {
      out.push(child.spec.name);
      for (const slot of child.slots) {
        const children = this.#runner.instance(instanceKey(slot.phase))?.children;
        if (children) out.push(...children.names());
      }
    }
    return out;
  }

  /**
   * Starts containers in order (the replicas of one in parallel), booting up to
   * {@linkcode START_AHEAD} worker or process containers at once: each begins once those before it
   * have begun and are in the routing table (as starting: what is sent to one is held until it
   * runs). An inline container starts alone: after everything before it is running, and before
   * anything after it begins. Rejects with the failure of the first container (in order) that
   * could not start, once the others under way have started or failed; what did start keeps
   * running (the caller decides whether to stop everything).
   */
  async start(specs: readonly ContainerSpec[]): Promise<void> {
    const underway = new Set<Promise<void>>();
    const failures: { index: number; error: unknown }[] = [];
    const settle = async () => {
      if (underway.size > 0) await Promise.race(underway);
    };
    for (const [index, spec] of specs.entries()) {
      const alone = spec.mode === "inline";
      while (underway.size >= (alone ? 1 : START_AHEAD)) await settle();
      // Stopped meanwhile, or one failed: start no more.
      if (this.state !== "running" || failures.length > 0) break;
      const adding: Promise<void> = this.#runner.add(spec).catch((error) => {
        failures.push({ index, error });
      }).finally(() => underway.delete(adding));
      underway.add(adding);
      if (alone) await adding;
      // One turn, so the routing table (updated at the end of the turn) lists it as starting
      // before the next one's isolate gets its table.
      else await null;
    }
    while (underway.size > 0) await settle();
    if (failures.length > 0) throw failures.toSorted((a, b) => a.index - b.index)[0].error;
  }

  /** Adds and starts one container (the runtime manager's spawn). */
  async spawn(spec: ContainerSpec, options: SpawnOptions = {}): Promise<void> {
    if (this.state !== "running") throw new Error(`supervisor "${this.name}" is ${this.state}`);
    if (this.has(spec.name)) {
      if (!options.replace) {
        throw new Error(
          `container "${spec.name}" already exists; pass { replace: true } to replace it`,
        );
      }
      await this.remove(spec.name, options.mode);
    }
    await this.#runner.add(spec);
  }

  /** Stops container `name` (all replicas) and removes it. */
  remove(name: string, mode: StopMode = "graceful-then-kill"): Promise<void> {
    return this.#runner.remove(name, mode);
  }

  /**
   * Starts every replica of `name` again (not counted toward intensity). Rolling (the default):
   * the container is replaced by itself one replica at a time (see {@linkcode Supervisor.replace}):
   * a new replica runs (and listens, if it serves) before an old one stops taking messages, drains
   * and stops with `mode`, so no request and no connection finds it gone. With `rolling: false`,
   * or when no replica runs (nothing to keep serving), every replica stops with `mode`, then all
   * start again.
   */
  restart(
    name: string,
    mode: StopMode = "graceful-then-kill",
    options: { rolling?: boolean } = {},
  ): Promise<void> {
    const child = this.#child(name);
    const serving = child.slots.some((slot) => slot.phase.state === "running");
    if (options.rolling !== false && serving) {
      return this.#runner.replace(child.spec, { mode, restart: true });
    }
    return this.#runner.restart(name, mode);
  }

  /** Changes how many replicas `name` runs (new ones start, surplus ones stop, last first). */
  scale(name: string, replicas: number): Promise<void> {
    return this.#runner.scale(name, replicas);
  }

  /**
   * Replaces container `spec.name` with `spec` without a gap in service, one replica at a time
   * (never more than N + 1 instances): new replica 0 starts beside the old ones (no traffic yet);
   * once it runs, traffic switches to the new container and the old instances leave the routes as
   * draining (replies to what they hold still reach their requesters, their listeners keep
   * serving); then each old replica finishes its in-flight work within `shutdown:` and stops
   * before the next new one starts. If new replica 0 fails to start, the old ones keep serving and
   * its error is thrown; a later one failing throws a `RolloutError` (see docs/supervision.md).
   */
  replace(spec: ContainerSpec): Promise<void> {
    return this.#runner.replace(spec);
  }

  /**
   * Takes the fields only a supervisor reads (restart, shutdown, keepalive, buffer, balance,
   * on_error; for an inline container also its children's supervisor flags and list, which the
   * caller reconciles) from `spec`, without restarting anything.
   */
  update(spec: ContainerSpec): void {
    const child = this.#child(spec.name);
    const fields: Partial<ContainerSpec> = {
      restart: spec.restart,
      shutdown: spec.shutdown,
      keepalive: spec.keepalive,
      buffer: spec.buffer,
      balance: spec.balance,
      onError: spec.onError,
    };
    // Its children run under its own supervisor in this isolate: later (re)starts use these.
    const inline = child.spec.mode === "inline" && spec.mode === "inline";
    if (inline) Object.assign(fields, { supervisor: spec.supervisor, children: spec.children });
    const running = this.#incarnations(child);
    // In place too: instances already started read the new shutdown when they stop.
    for (const incarnation of running) Object.assign(incarnation.spec, fields);
    this.#runner.update({ ...child.spec, ...fields });
    if (inline) {
      for (const incarnation of running) {
        incarnation.children?.setFlags(spec.supervisor);
      }
    }
  }

  /** Changes this supervisor's strategy, intensity, period and backoff from now on. */
  setFlags(spec: SupervisorSpec): void {
    this.#runner.setFlags(spec);
  }

  /** The address container `name` serves (port 0 resolved once picked), if it serves one. */
  serving(name: string): ServeSpec | undefined {
    const spec = this.specs().find((s) => s.name === name);
    return spec && this.#ports.resolved(spec);
  }

  /** The specs of its containers as they run now, in start order. */
  specs(): ContainerSpec[] {
    return this.#runner.state.children.filter((c) => !c.removed).map((c) => c.spec);
  }

  /** Puts its containers in the order of `names` (start order, and reverse stop order). */
  reorder(names: readonly string[]): void {
    this.#runner.reorder(names);
  }

  /** Stops every child in reverse start order; resolves when all are gone. */
  stopAll(message: string): Promise<void> {
    return this.#runner.shutdown(message);
  }

  /**
   * Routes of every live instance at or below this supervisor. A name a child announced as one it
   * spawned is left out, and let go, once it is declared or served elsewhere.
   */
  routes(): RouteTable {
    this.#prune();
    this.#dropTaken(this.#site.taken());
    return routesOf(this.#runner.state, this.#views);
  }

  /**
   * Lets go of the names children here and below (in this isolate) announced as spawned that are
   * now declared or served elsewhere, and leaves their routes out; whether there were any.
   */
  recheckClaims(): boolean {
    let dropped = this.#dropTaken(this.#site.taken());
    for (const incarnation of this.#incarnations()) {
      if (incarnation.children?.recheckClaims()) dropped = true;
    }
    return dropped;
  }

  /** The live tree below this supervisor. */
  snapshot(now = performance.now()): ContainerSnapshot[] {
    return snapshotOf(this.#runner.state, this.#views, now);
  }

  // ---- instances -------------------------------------------------------------------------------

  /** Makes one incarnation: its node, its handle (once its inline children run), its reports. */
  #launch(spec: ContainerSpec, at: Launching): Incarnation<Supervisor> {
    const site = this.#site;
    const node = spec.mode === "inline" ? site.node.id : site.newNodeId(spec.mode as "worker");
    // A replica's first start forgets what an earlier replica of that index reported; every start
    // waits for a fresh subtree.
    if (at.incarnation === 1) this.#reports.forget(at.child, at.replica);
    const reports = this.#reports.of(at.child, at.replica);
    reports.subTree = null;
    // Its isolate's extra read grant, once admitted (see `SupervisorSite.sourceReads`).
    let reads: string[] | undefined;
    const sourceReads = site.sourceReads?.bind(site);
    const incarnation: Incarnation<Supervisor> = new Incarnation({
      spec,
      instance: at.instance,
      node,
      admit: sourceReads && (spec.mode === "worker" || spec.mode === "process")
        ? async () => void (reads = await sourceReads(spec))
        : undefined,
      supervisor: () => new Supervisor(spec.name, spec.supervisor, site),
      ended: (handle) => this.#forgetNode(handle),
      leaked: () => site.leaked?.(spec.name, at.instance),
      createHandle: () => {
        const handle = createHandle({
          // Port 0 becomes the port picked for it, with the grant to listen there.
          spec: this.#ports.launchSpec(spec),
          instance: at.instance,
          node,
          hub: site.node,
          logLevel: site.logLevel,
          log: (level, message, source) => site.log(level, message, source),
          definition: site.definitions?.get(spec.module),
          manager: {
            spawn: (name, input, options) =>
              this.#childrenOf(incarnation, at.child).spawn(
                site.validate(name, input, spec),
                options,
              ),
            stop: (name, mode) => this.#childrenOf(incarnation, at.child).remove(name, mode),
          },
          baseUrl: site.baseUrl,
          reads,
          owned: this.#owned(spec),
        }, () => site.node.routes);
        site.track?.(handle);
        if (node !== site.node.id) site.handles.set(node, handle);
        handle.gone.then(() => {
          if (site.handles.get(node) === handle) site.handles.delete(node);
        });
        handle.onReport = (env) => this.#report(at, incarnation, env);
        return handle;
      },
    });
    return incarnation;
  }

  /** The supervisor of an inline instance's children (named children need a single replica). */
  #childrenOf(incarnation: Incarnation<Supervisor>, child: number): Supervisor {
    const spec = this.#byId(child)?.spec ?? incarnation.spec;
    if (spec.replicas > 1) {
      throw new Error(
        `container "${spec.name}" has ${spec.replicas} replicas: only a single-replica container can supervise named children (each replica would start its own copy)`,
      );
    }
    return incarnation.supervisor();
  }

  /**
   * Routes, tree and events reported by the isolate of an instance that supervises children. The
   * isolate runs container code: it may speak only for the containers below it, and what it
   * cannot speak for is dropped and logged (see `_trust.ts`).
   */
  #report(at: Launching, incarnation: Incarnation<Supervisor>, env: Envelope): void {
    // Only the replica's current instance speaks for its children.
    const child = this.#byId(at.child);
    const slot = child?.slots.find((s) => s.replica === at.replica);
    if (!child || !slot || this.#runner.instance(instanceKey(slot.phase)) !== incarnation) return;
    const reports = this.#reports.of(at.child, at.replica);
    const claimant = this.#claimant(child.spec, reports, incarnation.node);
    const claims = this.#site.claims;
    if (env.k === "subroutes") {
      const { routes, refused } = claimRoutes(env.r, claimant, claims, this.#site.taken());
      if (refused.length > 0) this.#refused(child.spec.name, at.instance, refused);
      const same = reports.subRoutes !== null &&
        JSON.stringify(reports.subRoutes) === JSON.stringify(routes);
      reports.subRoutes = routes;
      if (!same) this.#site.changed(true);
      return;
    }
    // Its tree and events speak only of its declared children and the names it holds.
    const authority = {
      node: claimant.node,
      self: child.spec.name,
      may: (name: string) =>
        name !== claimant.name &&
        (claimant.declared.has(name) || claims.holds(reports, name)),
    };
    if (env.k === "subtree") {
      reports.subTree = sanitizeSubtree(env.t, authority);
      reports.subTreeAt = performance.now();
    } else if (env.k === "event") {
      const event = sanitizeEvent(env.e, authority);
      if (event) this.#site.emit(event);
      else {
        this.#refused(child.spec.name, at.instance, [
          "a supervision event about a container not below it",
        ]);
      }
    }
  }

  /**
   * One replica's isolate as its claims are judged: it speaks for the children its spec declares
   * (at any depth) and for containers it spawned under names it holds (its `reports` stand for it
   * across its incarnations).
   */
  #claimant(spec: ContainerSpec, reports: Reports, node: string): Claimant {
    return {
      name: spec.name,
      declared: declaredNames(spec.children),
      node,
      owner: reports,
      succeeds: (holder) => this.#reportsOfName(spec.name).includes(holder as Reports),
    };
  }

  /** What the replicas of every child named `name` reported (a replaced one's and its successor's). */
  #reportsOfName(name: string): Reports[] {
    const out: Reports[] = [];
    for (const child of this.#runner.state.children) {
      if (child.spec.name !== name) continue;
      for (const slot of child.slots) {
        const reports = this.#reports.get(child.id, slot.replica);
        if (reports) out.push(reports);
      }
    }
    return out;
  }

  /**
   * The names a new incarnation of `spec` may spawn again though the table still lists them: those
   * its predecessors (earlier incarnations, or the container it replaces) spawned.
   */
  #owned(spec: ContainerSpec): string[] {
    const names = new Set<string>();
    for (const reports of this.#reportsOfName(spec.name)) {
      for (const name in reports.subRoutes ?? {}) names.add(name);
    }
    return [...names];
  }

  /**
   * Lets go of the names children announced as spawned that are now `taken` (declared or served
   * elsewhere: the declared owner wins), leaves them out of what they reported, and logs it;
   * whether there were any.
   */
  #dropTaken(taken: (name: string) => boolean): boolean {
    const claimant = (child: number, _replica: number, reports: Reports) => {
      const spec = this.#byId(child)?.spec;
      return spec ? this.#claimant(spec, reports, "") : null;
    };
    return this.#reports.dropTaken(claimant, taken, (child, replica, names) => {
      const { spec, slots } = this.#byId(child)!;
      const slot = slots.find((s) => s.replica === replica);
      const list = names.slice(0, 5).map((n) => `"${n}"`).join(", ");
      this.#site.log(
        "warn",
        `${slot ? instanceId(spec.name, slot) : spec.name} lost ${list}${
          names.length > 5 ? ` and ${names.length - 5} more` : ""
        }: names it spawned under that are now declared or run elsewhere, which gets the traffic`,
        "runtime",
      );
    });
  }

  /** What a child reported and was refused (it ran container code: it may be hostile). */
  #refused(container: string, instance: string, what: readonly string[]): void {
    const text = `${what.slice(0, 5).join("; ")}${
      what.length > 5 ? `; and ${what.length - 5} more` : ""
    }`;
    if (this.#site.violation) this.#site.violation(container, instance, text);
    else this.#site.log("warn", `dropped from ${instance}: ${text}`, instance);
  }

  /**
   * Forgets the reports of replicas no longer in the state, and lets go of the names held by
   * those that ended for good (stopped, and not coming back).
   */
  #prune(): void {
    const views = new Map(routeViews(this.#runner.state).map((v) => [v.id, v]));
    this.#reports.prune((child, replica) => {
      const slot = this.#byId(child)?.slots.find((s) => s.replica === replica);
      if (!slot) return "gone";
      const ended = slotState(slot.phase) === "stopped" && views.get(child)?.coming === false;
      return ended ? "ended" : "live";
    });
  }

  /** Tells the other nodes linked to an instance's node that it is gone. */
  #forgetNode(handle: InstanceHandle): void {
    const node = this.#site.node;
    if (handle.node === node.id) return;
    const peers = this.#site.peers;
    if (peers) {
      // The hub's children hold direct links only to the workers they were introduced to.
      for (const id of peers.forget(handle.node)) node.sendTo(id, { k: "down", n: handle.node });
      return;
    }
    for (const id of node.linkedNodes) {
      if (id === handle.node) continue;
      // The hub tells its children (peer runtimes, `@name`, have node ids of their own); a node
      // below it tells only its own children: a sibling takes `down` from the hub alone.
      const below = node.isHub ? !id.startsWith("@") : within(id, node.id) && id !== node.id;
      if (below) node.sendTo(id, { k: "down", n: handle.node });
    }
  }

  // ---- lookups ---------------------------------------------------------------------------------

  #child(name: string): Child<ContainerSpec> {
    const state = this.#runner.state;
    const child = state.children.find((c) => c.spec.name === name);
    if (!child) {
      throw new RangeError(
        `supervisor "${this.name}" has no container "${name}" (it has: ${
          state.children.map((c) => c.spec.name).join(", ") || "none"
        })`,
      );
    }
    return child;
  }

  #byId(id: number): Child<ContainerSpec> | undefined {
    const state = this.#runner.state;
    return state.children.find((c) => c.id === id) ?? state.aside.find((c) => c.id === id);
  }

  /** The incarnations the state names now (of one child, or of every child in start order). */
  #incarnations(of?: Child<ContainerSpec>): Incarnation<Supervisor>[] {
    const children = of ? [of] : this.#runner.state.children;
    return children.flatMap((child) =>
      child.slots.flatMap((slot) => this.#runner.instance(instanceKey(slot.phase)) ?? [])
    );
  }
}
