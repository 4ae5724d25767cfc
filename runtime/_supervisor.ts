/**
 * One supervisor at work: starts its children in order, watches them, applies the pure decisions
 * of `supervisor/strategy.ts` (restart one, all or the rest; leave; give up), and stops them in
 * reverse order. The same class runs at the root of the host and inside any worker or process
 * whose container has `children:` — a supervisor never reaches across an isolate boundary except
 * through the messages of its children's links.
 *
 * @module
 */
import type { ContainerInput, ContainerSpec, SupervisorSpec } from "../config/topology.ts";
import type { Envelope, ExitReason, LogLevel, RouteTable } from "../protocol/envelope.ts";
import { SupervisorGaveUpError } from "../protocol/errors.ts";
import { backoffDelay, stablePeriod } from "../supervisor/restart_policy.ts";
import { type ChildView, decide } from "../supervisor/strategy.ts";
import { createHandle, InlineHandle, type InstanceHandle, WorkerHandle } from "./_modes.ts";
import type { Node } from "./_node.ts";
import { mergeRoutes } from "./_routes.ts";
import {
  type ChildAuthority,
  declaredNames,
  type NameClaims,
  sanitizeEvent,
  sanitizeRoutes,
  sanitizeSubtree,
} from "./_trust.ts";
import type { SpawnOptions, StopMode } from "./container.ts";

/** A supervision event, as plain data (it may travel up from another isolate). */
export type SupervisorEvent =
  | { type: "start"; container: string; instance: string; incarnation: number }
  | {
    type: "exit";
    container: string;
    instance: string;
    incarnation: number;
    reason: ExitReason;
  }
  | { type: "restart"; container: string; instance: string; incarnation: number; delay: number }
  | { type: "unresponsive"; container: string; instance: string; silentFor: number }
  | {
    type: "escalate";
    supervisor: string;
    intensity: number;
    period: number;
    why: "intensity" | "escalate";
    child?: string;
    failure?: string;
  };

/** Where an instance is in its life. */
export type SlotState = "starting" | "running" | "restarting" | "stopping" | "stopped";

/** One instance in a tree snapshot. */
export interface InstanceSnapshot {
  /** Instance id, `name#replica.incarnation`. */
  id: string;
  /** Replica index. */
  replica: number;
  /** Incarnation (1 for the first start). */
  incarnation: number;
  /** `starting`, `running`, `restarting`, `stopping`, `stopped`. */
  state: SlotState;
  /** Node it lives in: `host`, `w<n>`, `p<n>`, `p<n>/w<m>`, … */
  node: string;
  /** Restarts of this replica so far. */
  restarts: number;
  /** Milliseconds since it last started (0 when not running). */
  uptime: number;
  /** The OS process id of a `process` instance while its process lives. */
  pid?: number;
  /** Why it last ended, if it has. */
  lastExit?: ExitReason;
}

/** One container in a tree snapshot. */
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
  /** Kept stopped on purpose (an `on_error: stop` verdict, or it ended normally for good). */
  held: boolean;
  /** Its instances. */
  instances: InstanceSnapshot[];
  /** The supervisor it is for its children, when it has any. */
  supervisor?: { strategy: string; intensity: number; period: number };
  /** The children it supervises (live, from wherever they run). */
  children?: ContainerSnapshot[];
  /**
   * For a `mode: remote` container: its placement — `placing`, `running`, `held` (its agent is
   * lost; about to move), `waiting` (for an agent), `failed` (refused: `why`) — and epoch.
   */
  placement?: { state: string; epoch: number; why?: string };
}

/** What a supervisor needs from the isolate it works in. */
export interface SupervisorSite {
  /** This isolate's node: children's links attach to it, inline children live in it. */
  readonly node: Node;
  /** Handles of the child nodes of this isolate, by node id (control envelopes find them here). */
  readonly handles: Map<string, InstanceHandle>;
  /** A fresh node id for a worker or process child. */
  newNodeId(mode: "worker" | "process"): string;
  /** Lowest log level forwarded. */
  readonly logLevel: LogLevel | "silent";
  /** Logs a line. */
  log(level: LogLevel, message: string, source: string): void;
  /** Reports a supervision event. */
  emit(event: SupervisorEvent): void;
  /** Routes or the tree changed (coalesce: called often). */
  changed(): void;
  /** Container definitions already loaded in this isolate, by module URL. */
  readonly definitions?: ReadonlyMap<string, unknown>;
  /** A worker was terminated while unresponsive: its thread may still be spinning. */
  leaked?(container: string, instance: string): void;
  /** Extra `read` grant a worker or process needs so workers can be nested in it. */
  sourceReads?(spec: ContainerSpec): string[];
  /** Sees every handle created (to wait for all of them at shutdown). */
  track?(handle: InstanceHandle): void;
  /** Validates a spawned child of `parent` (module, grant within the parent's, unique name). */
  validate(name: string, input: ContainerInput, parent: ContainerSpec | null): ContainerSpec;
  /** A child's report was cut to what it may speak for: count it against it, log it. */
  violation?(container: string, instance: string, what: string): void;
  /** Which child holds which name it spawned (one registry per isolate: see `NameClaims`). */
  readonly claims: NameClaims;
  /**
   * Whether container `name` is declared or served here by anything but a child's claim: a child
   * may not announce a container under such a name.
   */
  taken(name: string): boolean;
  /** Folder URL relative modules of a spawned child resolve against. */
  readonly baseUrl?: string;
}

interface Slot {
  replica: number;
  incarnation: number;
  state: SlotState;
  handle: InstanceHandle | null;
  restarts: number;
  consecutive: number;
  startedAt: number;
  lastExit?: ExitReason;
  /** The restart plan that owns this slot's next start, if any. */
  plan: Plan | null;
  /** Bumped by every start and stop: a start finding it changed was cancelled. */
  token: number;
  /** The stop in progress, if any. */
  stopping: Promise<void> | null;
  /** The supervisor of an inline instance's children. */
  sub: Supervisor | null;
  /** Routes and tree reported by the isolate of an instance with children. */
  subRoutes: RouteTable | null;
  subTree: ContainerSnapshot[] | null;
  subTreeAt: number;
}

interface Group {
  spec: ContainerSpec;
  slots: Slot[];
  held: boolean;
  /** Taken out of the tree (rt.stop, ctx.stop, replace): nothing may start it again. */
  removed: boolean;
  /** Starting beside the group it replaces: no traffic yet, a failure aborts the replacement. */
  staged?: boolean;
}

/** A restart decided by the strategy: who restarts, after which backoff. */
interface Plan {
  /** Containers to start, in start order (captured when decided). */
  readonly groups: readonly Group[];
  /** The slots it will start; a slot leaves when stopped for good or claimed by a later plan. */
  readonly slots: Set<Slot>;
  readonly delay: number;
  timer?: ReturnType<typeof setTimeout>;
}

/** A supervisor of an ordered list of containers. */
export class Supervisor {
  /** `root`, or the name of the container whose children these are. */
  readonly name: string;
  /** Its flags (changed in place by {@linkcode Supervisor.setFlags}). */
  spec: SupervisorSpec;
  readonly #site: SupervisorSite;
  readonly #groups: Group[] = [];
  /** Groups outside the tree for the time of a replacement: new ones starting, old ones draining. */
  readonly #aside = new Set<Group>();
  #history: number[] = [];
  #state: "running" | "stopping" | "stopped" | "gave_up" = "running";
  readonly #plans = new Set<Plan>();
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  /** Called once when it gives up (its children are stopped by then). */
  onGiveUp: (error: SupervisorGaveUpError) => void = () => {};

  constructor(name: string, spec: SupervisorSpec, site: SupervisorSite) {
    this.name = name;
    this.spec = spec;
    this.#site = site;
  }

  /** `running`, `stopping`, `stopped` or `gave_up`. */
  get state(): string {
    return this.#state;
  }

  /** Whether it supervises container `name` (not counting deeper levels). */
  has(name: string): boolean {
    return this.#groups.some((g) => g.spec.name === name);
  }

  /** The supervisor (this one, or one below it in this isolate) that has child `name`. */
  find(name: string): Supervisor | undefined {
    if (this.has(name)) return this;
    for (const group of this.#groups) {
      for (const slot of group.slots) {
        const found = slot.sub?.find(name);
        if (found) return found;
      }
    }
    return undefined;
  }

  /** The supervisor of inline container `name`'s children (created on first use), if inline. */
  childSupervisor(name: string): Supervisor | undefined {
    const group = this.#group(name);
    if (group.spec.mode !== "inline") return undefined;
    const slot = group.slots.find((s) => s.state === "running");
    if (!slot) throw new Error(`container "${name}" is not running`);
    return this.#subFor(group, slot);
  }

  /** Names of every container at or below this supervisor in this isolate. */
  names(): string[] {
    const out: string[] = [];
    for (const group of this.#groups) {
      out.push(group.spec.name);
      for (const slot of group.slots) if (slot.sub) out.push(...slot.sub.names());
    }
    return out;
  }

  /**
   * Starts containers in order (the replicas of one in parallel). Rejects with the first failure;
   * what did start keeps running (the caller decides whether to stop everything).
   */
  async start(specs: readonly ContainerSpec[]): Promise<void> {
    for (const spec of specs) {
      if (this.#state !== "running") return; // stopped meanwhile: start no more
      await this.#add(spec);
    }
  }

  /** Adds and starts one container (the runtime manager's spawn). */
  async spawn(spec: ContainerSpec, options: SpawnOptions = {}): Promise<void> {
    if (this.#state !== "running") throw new Error(`supervisor "${this.name}" is ${this.#state}`);
    if (this.has(spec.name)) {
      if (!options.replace) {
        throw new Error(
          `container "${spec.name}" already exists; pass { replace: true } to replace it`,
        );
      }
      await this.remove(spec.name, options.mode);
    }
    await this.#add(spec);
  }

  async #add(spec: ContainerSpec): Promise<void> {
    const group: Group = { spec, slots: [], held: false, removed: false };
    this.#groups.push(group);
    this.#watch(spec);
    const starts: Promise<void>[] = [];
    for (let replica = 0; replica < spec.replicas; replica++) {
      const slot = newSlot(replica);
      group.slots.push(slot);
      starts.push(this.#startSlot(group, slot));
    }
    const results = await Promise.allSettled(starts);
    const failed = results.find((r) => r.status === "rejected");
    if (failed) {
      // A container that could not start is not left in the tree half there: replicas that did
      // start stop again, and the name is free for a corrected spawn.
      group.removed = true;
      await Promise.all(
        group.slots.map((slot) =>
          this.#stopSlot(group, slot, "kill", "its start failed").catch(() => {})
        ),
      );
      const index = this.#groups.indexOf(group);
      if (index >= 0) this.#groups.splice(index, 1);
      this.#site.changed();
      throw (failed as PromiseRejectedResult).reason;
    }
  }

  /** Stops container `name` (all replicas) and removes it. */
  async remove(name: string, mode: StopMode = "graceful-then-kill"): Promise<void> {
    const group = this.#group(name);
    group.removed = true;
    group.held = true;
    try {
      await Promise.all(
        group.slots.map((slot) => this.#stopSlot(group, slot, mode, "stopped by request")),
      );
    } finally {
      const index = this.#groups.indexOf(group);
      if (index >= 0 && group.slots.every((slot) => slot.state === "stopped")) {
        this.#groups.splice(index, 1);
      }
      this.#site.changed();
    }
  }

  /** Stops then starts every replica of `name` again (not counted toward intensity). */
  async restart(name: string, mode: StopMode = "graceful-then-kill"): Promise<void> {
    const group = this.#group(name);
    await Promise.all(
      group.slots.map((slot) =>
        this.#stopSlot(group, slot, mode, "restart requested", "restarting")
      ),
    );
    // Removed meanwhile, shutting down, or a failure's restart plan took a slot: leave those.
    if (group.removed || this.#state !== "running") return;
    group.held = false;
    await Promise.all(group.slots.map((slot) => {
      if (slot.state !== "restarting" || slot.plan) return;
      slot.restarts++;
      return this.#startSlot(group, slot).then(() => this.#restarted(group, slot, 0));
    }));
  }

  /** Changes how many replicas `name` runs (new ones start, surplus ones stop, last first). */
  async scale(name: string, replicas: number): Promise<void> {
    const group = this.#group(name);
    if (group.removed) throw new RangeError(`container "${name}" is being removed`);
    group.spec = { ...group.spec, replicas };
    if (replicas > 0) group.held = false;
    const starts: Promise<void>[] = [];
    while (group.slots.length < replicas) {
      const slot = newSlot(group.slots.length);
      group.slots.push(slot);
      starts.push(this.#startSlot(group, slot));
    }
    const surplus = group.slots.splice(replicas);
    await Promise.all([
      ...starts,
      ...surplus.reverse().map((slot) =>
        this.#stopSlot(group, slot, "graceful-then-kill", "scaled down")
      ),
    ]);
    this.#site.changed();
  }

  /**
   * Replaces container `spec.name` with `spec` without a gap in service: new incarnations start
   * beside the old ones (no traffic yet); once every one of them runs, traffic switches to them
   * and the old ones leave the routes as draining (replies to what they hold still reach their
   * requesters), finish their in-flight work within `shutdown:` and stop. If a new instance fails
   * to start, the old ones keep serving and the error is thrown.
   */
  async replace(spec: ContainerSpec): Promise<void> {
    if (this.#state !== "running") throw new Error(`supervisor "${this.name}" is ${this.#state}`);
    const old = this.#group(spec.name);
    if (old.removed) throw new RangeError(`container "${spec.name}" is being removed`);
    const next: Group = { spec, slots: [], held: false, removed: false, staged: true };
    // Incarnations go on from the old ones: an instance id never names two instances.
    const from = Math.max(0, ...old.slots.map((s) => s.incarnation));
    for (let replica = 0; replica < spec.replicas; replica++) {
      const slot = newSlot(replica);
      slot.incarnation = from;
      next.slots.push(slot);
    }
    this.#aside.add(next);
    this.#watch(spec);
    const results = await Promise.allSettled(next.slots.map((slot) => this.#startSlot(next, slot)));
    const failed = results.find((r) => r.status === "rejected") as
      | PromiseRejectedResult
      | undefined;
    if (
      failed || this.#state !== "running" || old.removed || !this.#groups.includes(old) ||
      next.slots.some((slot) => slot.state !== "running")
    ) {
      next.removed = true;
      await Promise.all(
        next.slots.map((slot) =>
          this.#stopSlot(next, slot, "kill", "replacement abandoned").catch(() => {})
        ),
      );
      this.#aside.delete(next);
      this.#site.changed();
      throw failed?.reason ??
        new Error(
          `the replacement of "${spec.name}" was abandoned: its old instances changed meanwhile`,
        );
    }
    // The switch: the new group takes the old one's place in start order.
    next.staged = false;
    this.#aside.delete(next);
    this.#groups[this.#groups.indexOf(old)] = next;
    old.removed = true;
    old.held = true;
    this.#aside.add(old);
    this.#site.changed();
    // Let the new routes reach the senders first, so that few messages still go to the old
    // instances once they stop taking them (those few are refused undelivered and re-sent).
    await new Promise((resolve) => setTimeout(resolve, 0));
    try {
      await Promise.all(
        old.slots.map((slot) => this.#stopSlot(old, slot, "graceful-then-kill", "replaced")),
      );
    } finally {
      this.#aside.delete(old);
      this.#site.changed();
    }
  }

  /**
   * Takes the fields only a supervisor reads (restart, shutdown, keepalive, buffer, balance,
   * on_error; for an inline container also its children's supervisor flags and list, which the
   * caller reconciles) from `spec`, without restarting anything.
   */
  update(spec: ContainerSpec): void {
    const group = this.#group(spec.name);
    // In place: instances started from this object read the new shutdown when they stop.
    Object.assign(group.spec, {
      restart: spec.restart,
      shutdown: spec.shutdown,
      keepalive: spec.keepalive,
      buffer: spec.buffer,
      balance: spec.balance,
      onError: spec.onError,
    });
    if (group.spec.mode === "inline" && spec.mode === "inline") {
      // Its children run under its own supervisor in this isolate: later (re)starts use these.
      group.spec.supervisor = spec.supervisor;
      group.spec.children = spec.children;
      for (const slot of group.slots) slot.sub?.setFlags(spec.supervisor);
    }
    this.#watch(group.spec);
    this.#site.changed();
  }

  /** Changes this supervisor's strategy, intensity, period and backoff from now on. */
  setFlags(spec: SupervisorSpec): void {
    this.spec = { ...spec, backoff: { ...spec.backoff } };
  }

  /** The specs of its containers as they run now, in start order. */
  specs(): ContainerSpec[] {
    return this.#groups.filter((g) => !g.removed).map((g) => g.spec);
  }

  /** Puts its containers in the order of `names` (start order, and reverse stop order). */
  reorder(names: readonly string[]): void {
    const rank = new Map(names.map((n, i) => [n, i]));
    this.#groups.sort((a, b) =>
      (rank.get(a.spec.name) ?? Infinity) - (rank.get(b.spec.name) ?? Infinity)
    );
  }

  /** Stops every child in reverse start order; resolves when all are gone. */
  async stopAll(message: string): Promise<void> {
    if (this.#state === "stopped") return;
    if (this.#state === "running") this.#state = "stopping";
    this.#cancelPlans();
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    for (const group of [...this.#aside, ...this.#groups.toReversed()]) {
      await Promise.all(
        group.slots.map((slot) =>
          this.#stopSlot(group, slot, "graceful-then-kill", message).catch(() => {})
        ),
      );
    }
    if (this.#state === "stopping") this.#state = "stopped";
  }

  #cancelPlans(): void {
    for (const plan of this.#plans) {
      clearTimeout(plan.timer);
      for (const slot of plan.slots) slot.plan = null;
    }
    this.#plans.clear();
  }

  /** `slot` will be started by `plan` (and no longer by any earlier plan). */
  #claim(slot: Slot, plan: Plan): void {
    if (slot.plan && slot.plan !== plan) slot.plan.slots.delete(slot);
    slot.plan = plan;
    plan.slots.add(slot);
  }

  #unclaim(slot: Slot): void {
    slot.plan?.slots.delete(slot);
    slot.plan = null;
  }

  /** Routes of every live instance at or below this supervisor. */
  routes(): RouteTable {
    const table: RouteTable = {};
    for (const group of [...this.#groups, ...this.#aside]) {
      if (group.staged) continue; // starting beside the one it replaces: no traffic yet
      // A removed group (being stopped, or replaced and draining) takes no new message: its
      // running instances are listed as draining, so replies still reach their requesters.
      const live = group.removed
        ? []
        : group.slots.filter((slot) => slot.state === "running" && slot.handle);
      const entry: RouteTable[string] = {
        balance: group.spec.balance,
        instances: live.map((slot) => ({ i: this.#id(group, slot), n: slot.handle!.node })),
        q: group.spec.buffer,
      };
      const draining = group.slots.filter((slot) =>
        (slot.state === "stopping" || (group.removed && slot.state === "running")) && slot.handle
      );
      if (draining.length > 0) {
        entry.x = draining.map((slot) => ({ i: this.#id(group, slot), n: slot.handle!.node }));
      }
      const coming = this.#state === "running" && !group.removed &&
        group.slots.some((s) => s.state === "restarting" || s.state === "starting" || s.plan);
      if (live.length === 0 && coming) entry.w = 1;
      mergeRoutes(table, { [group.spec.name]: entry });
      for (const slot of group.slots) {
        if (slot.sub) mergeRoutes(table, slot.sub.routes());
        else if (slot.subRoutes && (slot.state === "running" || slot.state === "stopping")) {
          // A stopping parent's children live until its hooks are done.
          mergeRoutes(table, slot.subRoutes);
        } else if (coming) {
          // Its children come back with it: senders hold messages for them meanwhile.
          mergeRoutes(table, waitingRoutes(group.spec.children, slot.subRoutes));
        }
      }
    }
    return table;
  }

  /** The live tree below this supervisor. */
  snapshot(now = performance.now()): ContainerSnapshot[] {
    return this.#groups.map((group) => {
      const instances = group.slots.map((slot): InstanceSnapshot => ({
        id: this.#id(group, slot),
        replica: slot.replica,
        incarnation: slot.incarnation,
        state: slot.state,
        node: slot.handle?.node ?? "-",
        restarts: slot.restarts,
        uptime: slot.state === "running" ? Math.round(now - slot.startedAt) : 0,
        ...(slot.handle?.pid !== undefined ? { pid: slot.handle.pid } : {}),
        ...(slot.lastExit ? { lastExit: slot.lastExit } : {}),
      }));
      const snapshot: ContainerSnapshot = {
        name: group.spec.name,
        mode: group.spec.mode,
        host: "local",
        replicas: group.spec.replicas,
        running: instances.filter((i) => i.state === "running").length,
        restarts: instances.reduce((sum, i) => sum + i.restarts, 0),
        held: group.held,
        instances,
      };
      const slot = group.slots[0];
      const children = slot?.sub
        ? slot.sub.snapshot(now)
        : slot?.subTree
        ? aged(slot.subTree, now - slot.subTreeAt)
        : group.spec.children.length > 0
        ? []
        : undefined;
      if (children) {
        const { strategy, intensity, period } = group.spec.supervisor;
        snapshot.supervisor = { strategy, intensity, period };
        snapshot.children = children;
      }
      return snapshot;
    });
  }

  /** Pings isolate children; replaces those silent longer than their keepalive. */
  #checkHeartbeats(): void {
    const now = performance.now();
    for (const group of this.#groups) {
      for (const slot of group.slots) {
        if (slot.state !== "running" || !slot.handle) continue;
        const silent = slot.handle.heartbeat(now);
        if (silent <= group.spec.keepalive) continue;
        const instance = this.#id(group, slot);
        this.#site.emit({
          type: "unresponsive",
          container: group.spec.name,
          instance,
          silentFor: Math.round(silent),
        });
        if (slot.handle instanceof WorkerHandle) this.#site.leaked?.(group.spec.name, instance);
        slot.handle.kill({
          kind: "unresponsive",
          message: `no heartbeat for ${Math.round(silent)} ms`,
        });
      }
    }
  }

  #watch(spec: ContainerSpec): void {
    if (spec.mode === "inline") return;
    const every = Math.max(10, Math.min(250, spec.keepalive / 4));
    if (this.#heartbeat !== undefined && every >= this.#heartbeatEvery) return;
    clearInterval(this.#heartbeat);
    this.#heartbeatEvery = every;
    this.#heartbeat = setInterval(() => this.#checkHeartbeats(), every);
  }
  #heartbeatEvery = Infinity;

  // ---- one instance ----------------------------------------------------------------------------

  #id(group: Group, slot: Slot): string {
    return `${group.spec.name}#${slot.replica}.${slot.incarnation}`;
  }

  #group(name: string): Group {
    const group = this.#groups.find((g) => g.spec.name === name);
    if (!group) {
      throw new RangeError(
        `supervisor "${this.name}" has no container "${name}" (it has: ${
          this.#groups.map((g) => g.spec.name).join(", ") || "none"
        })`,
      );
    }
    return group;
  }

  async #startSlot(group: Group, slot: Slot): Promise<void> {
    const token = ++slot.token;
    slot.incarnation++;
    slot.state = "starting";
    slot.subTree = null;
    const spec = group.spec;
    const site = this.#site;
    const node = spec.mode === "inline" ? site.node.id : site.newNodeId(spec.mode as "worker");
    const instance = this.#id(group, slot);
    if (spec.mode === "inline" && spec.children.length > 0) {
      // An inline container's children start first, in this isolate, under its own supervisor.
      const sub = this.#subSupervisor(group, slot);
      slot.sub = sub;
      try {
        await sub.start(spec.children);
      } catch (error) {
        await sub.stopAll("its parent could not start");
        if (slot.token !== token) return; // stopped meanwhile: the stop owns the slot
        slot.sub = null;
        slot.state = "stopped";
        throw error;
      }
      if (slot.token !== token) return; // stopped while its children started (they were stopped)
      if (this.#state !== "running") {
        await sub.stopAll(`supervisor ${this.name} stopped`);
        slot.sub = null;
        slot.state = "stopped";
        return;
      }
    }
    const handle = createHandle({
      spec,
      instance,
      node,
      hub: site.node,
      logLevel: site.logLevel,
      log: (level, message, source) => site.log(level, message, source),
      definition: site.definitions?.get(spec.module),
      manager: {
        spawn: (name, input, options) =>
          this.#subFor(group, slot).spawn(site.validate(name, input, spec), options),
        stop: (name, mode) => this.#subFor(group, slot).remove(name, mode),
      },
      baseUrl: site.baseUrl,
      reads: spec.mode === "inline" ? undefined : site.sourceReads?.(spec),
    }, () => site.node.routes);
    slot.handle = handle;
    site.track?.(handle);
    if (node !== site.node.id) site.handles.set(node, handle);
    handle.gone.then(() => {
      if (site.handles.get(node) === handle) site.handles.delete(node);
    });
    handle.onExit = (reason) => this.#exited(group, slot, handle, reason);
    handle.onReport = (env) => this.#report(group, slot, handle, env);
    try {
      await handle.start();
    } catch (error) {
      if (slot.token !== token) return; // stopped while starting: not a failure
      if (slot.handle === handle) {
        slot.handle = null;
        slot.state = "stopped";
        const sub = slot.sub;
        slot.sub = null;
        await sub?.stopAll("its parent could not start");
      }
      throw error;
    }
    // Stopped while starting: whoever stopped it stops this handle too.
    if (slot.token !== token || slot.handle !== handle) return;
    if (this.#state !== "running") {
      // The supervisor stopped while this started (it may not have seen this slot): stop it here.
      await this.#stopSlot(group, slot, "kill", `supervisor ${this.name} stopped`);
      return;
    }
    slot.state = "running";
    slot.startedAt = performance.now();
    if (site.node.isHub) this.#connectWorkers(handle);
    site.changed();
    site.emit({ type: "start", container: spec.name, instance, incarnation: slot.incarnation });
  }

  #subSupervisor(group: Group, slot: Slot): Supervisor {
    const sub = new Supervisor(group.spec.name, group.spec.supervisor, this.#site);
    sub.onGiveUp = (error) => {
      // The inline parent fails with its supervisor's give-up: its own supervisor decides next.
      if (slot.handle instanceof InlineHandle) slot.handle.escalated(error);
    };
    return sub;
  }

  #subFor(group: Group, slot: Slot): Supervisor {
    if (group.spec.replicas > 1) {
      throw new Error(
        `container "${group.spec.name}" has ${group.spec.replicas} replicas: only a single-replica container can supervise named children (each replica would start its own copy)`,
      );
    }
    slot.sub ??= this.#subSupervisor(group, slot);
    return slot.sub;
  }

  /**
   * Routes, tree and events reported by the isolate of an instance that supervises children. The
   * isolate runs container code: it may speak only for the containers below it, and what it
   * cannot speak for is dropped and logged (see `_trust.ts`).
   */
  #report(group: Group, slot: Slot, handle: InstanceHandle, env: Envelope): void {
    if (slot.handle !== handle) return;
    const authority = this.#authority(group, slot, handle.node);
    if (env.k === "subroutes") {
      const { routes, refused } = sanitizeRoutes(env.r, authority);
      if (refused.length > 0) this.#refused(group, slot, refused);
      slot.subRoutes = routes;
      this.#site.changed();
    } else if (env.k === "subtree") {
      slot.subTree = sanitizeSubtree(env.t, authority);
      slot.subTreeAt = performance.now();
    } else if (env.k === "event") {
      const event = sanitizeEvent(env.e, authority);
      if (event) this.#site.emit(event);
      else this.#refused(group, slot, ["a supervision event about a container not below it"]);
    }
  }

  /**
   * What the isolate of `slot` may speak for: the children its spec declares (at any depth), the
   * containers it already announced, and containers it spawned under names nobody else here uses.
   */
  #authority(group: Group, slot: Slot, node: string): ChildAuthority {
    const declared = declaredNames(group.spec.children);
    const holds = (name: string) => () =>
      !group.removed && slot.subRoutes !== null && name in slot.subRoutes;
    return {
      node,
      self: group.spec.name,
      may: (name) =>
        name !== group.spec.name &&
        (declared.has(name) || this.#site.claims.claim(name, slot, holds(name), this.#site.taken)),
    };
  }

  /** What a child reported and was refused (it ran container code: it may be hostile). */
  #refused(group: Group, slot: Slot, what: readonly string[]): void {
    const text = `${what.slice(0, 5).join("; ")}${
      what.length > 5 ? `; and ${what.length - 5} more` : ""
    }`;
    const instance = this.#id(group, slot);
    if (this.#site.violation) this.#site.violation(group.spec.name, instance, text);
    else this.#site.log("warn", `dropped from ${instance}: ${text}`, instance);
  }

  /**
   * Stops one instance (or cancels its start) and leaves the slot in `then`. A slot stopped for
   * good leaves any restart plan; one stopped to restart stays with the plan that claims it.
   */
  #stopSlot(
    group: Group,
    slot: Slot,
    mode: StopMode,
    message: string,
    then: SlotState = "stopped",
  ): Promise<void> {
    this.#unclaim(slot);
    slot.token++; // cancels a start in progress
    const handle = slot.handle;
    if (handle && slot.state === "stopping" && slot.stopping) {
      // Already being stopped: wait for the same end (or cut it short when asked to kill).
      if (mode === "kill") handle.kill({ kind: "killed", message });
      return slot.stopping.then(() => {
        if (slot.handle === null && slot.state !== "running") {
          slot.state = group.removed ? "stopped" : then;
        }
        this.#site.changed();
      });
    }
    const stopping = this.#stopNow(group, slot, handle, mode, message, then);
    slot.stopping = stopping;
    return stopping.finally(() => {
      if (slot.stopping === stopping) slot.stopping = null;
    });
  }

  async #stopNow(
    group: Group,
    slot: Slot,
    handle: InstanceHandle | null,
    mode: StopMode,
    message: string,
    then: SlotState,
  ): Promise<void> {
    const sub = slot.sub;
    if (!handle || slot.state === "stopped") {
      slot.state = group.removed ? "stopped" : then;
      slot.sub = null;
      this.#site.changed();
      await sub?.stopAll(`its parent stopped: ${message}`);
      return;
    }
    slot.state = "stopping";
    this.#site.changed();
    const reason: ExitReason = { kind: "stopped", message };
    const done = mode === "kill"
      ? (handle.kill(reason), await handle.gone, true)
      : await handle.stop(reason, mode === "graceful");
    if (slot.sub === sub) slot.sub = null;
    await sub?.stopAll(`its parent stopped: ${message}`);
    if (!done) {
      throw new Error(
        `instance ${
          this.#id(group, slot)
        } did not stop gracefully in time; stop it with mode "kill"`,
      );
    }
    if (slot.handle === handle || slot.handle === null) {
      slot.handle = null;
      slot.state = group.removed ? "stopped" : then;
    }
    this.#site.changed();
  }

  // ---- failures --------------------------------------------------------------------------------

  #exited(group: Group, slot: Slot, handle: InstanceHandle, reason: ExitReason): void {
    if (slot.handle !== handle) return;
    const instance = this.#id(group, slot);
    const wasRunning = slot.state === "running";
    slot.lastExit = reason;
    this.#forgetNode(handle);
    const requested = slot.state === "stopping" || slot.state === "restarting" ||
      this.#state !== "running";
    if (requested) {
      this.#site.changed();
      return;
    }
    slot.handle = null;
    slot.state = "restarting"; // until decided
    this.#site.changed();
    this.#site.emit({
      type: "exit",
      container: group.spec.name,
      instance,
      incarnation: slot.incarnation,
      reason,
    });
    this.#site.log(
      reason.kind === "error" || reason.kind === "crashed" ? "warn" : "info",
      `${instance} exited: ${reason.message}`,
      this.name === "root" ? "runtime" : `supervisor ${this.name}`,
    );
    // The isolate may still be cleaning up; make sure it goes.
    if (reason.kind !== "stopped" && reason.kind !== "normal") handle.stop(reason);
    const sub = slot.sub;
    slot.sub = null;
    const subtreeDown = sub ? sub.stopAll(`its parent ${instance} exited`) : Promise.resolve();
    subtreeDown.then(() => this.#decide(group, slot, reason, wasRunning));
  }

  #decide(group: Group, slot: Slot, reason: ExitReason, wasRunning: boolean): void {
    if (group.staged) {
      // A replacement's new instance failed before the switch: the replacement is abandoned.
      slot.state = "stopped";
      return;
    }
    if (this.#state !== "running" || group.removed) {
      if (slot.state === "restarting" && !slot.plan) slot.state = "stopped";
      return;
    }
    // A sibling's restart already covers it (one restart, counted once), or it was stopped
    // meanwhile (rt.stop, scale down).
    if (slot.plan || slot.state !== "restarting" || !group.slots.includes(slot)) return;
    const alive = (s: Slot) => s !== slot && (s.state === "running" || s.state === "starting");
    const children: ChildView[] = this.#groups.map((g) => ({
      name: g.spec.name,
      restart: g.spec.restart,
      alive: g.slots.some(alive),
      held: g.held,
    }));
    const now = performance.now();
    const decision = decide({
      spec: this.spec,
      children,
      ended: group.spec.name,
      reason,
      action: reason.action,
      history: this.#history,
      now,
    });
    this.#history = [...decision.history];
    switch (decision.kind) {
      case "leave": {
        slot.state = "stopped";
        if (!group.slots.some((s) => s.state !== "stopped")) group.held = true;
        if (reason.action === "stop") {
          this.#site.log(
            "error",
            `${this.#id(group, slot)} stays stopped (on_error: stop): ${reason.message}`,
            this.name === "root" ? "runtime" : `supervisor ${this.name}`,
          );
        }
        this.#site.changed();
        return;
      }
      case "give_up":
        slot.state = "stopped";
        this.#giveUp(decision.why, group.spec.name, reason);
        return;
      case "restart":
        return this.#restartPlan(group, slot, decision, wasRunning, now);
    }
  }

  #restartPlan(
    group: Group,
    slot: Slot,
    decision: Extract<ReturnType<typeof decide>, { kind: "restart" }>,
    wasRunning: boolean,
    now: number,
  ): void {
    slot.consecutive = wasRunning && now - slot.startedAt > stablePeriod(this.spec.backoff)
      ? 1
      : slot.consecutive + 1;
    const delay = backoffDelay(slot.consecutive, this.spec.backoff, Math.random());
    const byName = (name: string) => this.#groups.find((g) => g.spec.name === name)!;
    const plan: Plan = { groups: decision.start.map(byName), slots: new Set(), delay };
    this.#plans.add(plan);
    const why = `sibling ${group.spec.name} failed`;
    const stops: Promise<void>[] = [];
    const live = (s: Slot) => s.state === "running" || s.state === "starting";
    const stop = (g: Group, s: Slot, then: SlotState) =>
      stops.push(this.#stopSlot(g, s, "graceful-then-kill", why, then).catch(() => {}));
    for (const name of decision.stop) {
      const g = byName(name);
      for (const s of g.slots.toReversed()) if (live(s)) stop(g, s, "restarting");
    }
    if (this.spec.strategy === "one_for_all") {
      for (const s of group.slots) if (s !== slot && live(s)) stop(group, s, "restarting");
    }
    for (const name of decision.drop) {
      const g = byName(name);
      g.held = true;
      for (const s of g.slots) stop(g, s, "stopped");
    }
    // Which slots it restarts: the failed one; under one_for_all every replica of every started
    // container; under rest_for_one every replica of the containers after it. Claimed after the
    // stops above (a stop releases a slot from older plans).
    this.#claim(slot, plan);
    for (const g of plan.groups) {
      if (g === group && this.spec.strategy !== "one_for_all") continue;
      for (const s of g.slots) {
        this.#claim(s, plan);
        if (s.stopping) stops.push(s.stopping.catch(() => {})); // a slower earlier stop
        else if (!live(s)) s.state = "restarting";
      }
    }
    this.#site.changed();
    Promise.all(stops).then(() => {
      if (!this.#plans.has(plan)) return; // cancelled (shutdown, give-up)
      plan.timer = setTimeout(() => {
        plan.timer = undefined;
        this.#runPlan(plan).catch((error: Error) =>
          this.#site.log("error", `restart failed: ${error.message}`, this.#source())
        );
      }, delay);
    });
  }

  /** Starts the slots of a restart plan, container by container in start order. */
  async #runPlan(plan: Plan): Promise<void> {
    try {
      for (const group of plan.groups) {
        if (this.#state !== "running") return;
        if (group.removed || !this.#groups.includes(group)) continue;
        const starts = group.slots
          .filter((s) => s.plan === plan && s.state !== "running" && s.state !== "starting")
          .map((s) => {
            this.#unclaim(s);
            s.restarts++;
            return this.#startSlot(group, s).then(
              () => this.#restarted(group, s, plan.delay),
              (error: Error) => this.#restartFailed(group, s, error),
            );
          });
        await Promise.all(starts);
      }
    } finally {
      this.#plans.delete(plan);
    }
  }

  #source(): string {
    return this.name === "root" ? "runtime" : `supervisor ${this.name}`;
  }

  #restarted(group: Group, slot: Slot, delay: number): void {
    if (slot.state !== "running") return;
    this.#site.emit({
      type: "restart",
      container: group.spec.name,
      instance: this.#id(group, slot),
      incarnation: slot.incarnation,
      delay,
    });
  }

  #restartFailed(group: Group, slot: Slot, error: Error): void {
    if (this.#state !== "running" || group.removed || slot.state !== "stopped") return;
    // A failed restart is a failure like any other: it counts toward intensity.
    const failure: ExitReason = {
      kind: "error",
      message: `restart failed: ${error.message}`,
      error: { name: error.name, message: error.message, stack: error.stack, kind: "remote" },
    };
    slot.lastExit = failure;
    slot.state = "restarting";
    this.#site.emit({
      type: "exit",
      container: group.spec.name,
      instance: this.#id(group, slot),
      incarnation: slot.incarnation,
      reason: failure,
    });
    this.#decide(group, slot, failure, false);
  }

  async #giveUp(why: "intensity" | "escalate", child: string, reason: ExitReason): Promise<void> {
    if (this.#state !== "running") return;
    this.#state = "gave_up";
    this.#cancelPlans();
    const error = new SupervisorGaveUpError(this.name, this.spec.intensity, this.spec.period, {
      child,
      failure: reason.message,
      why,
    });
    this.#site.log(
      "error",
      error.message,
      this.name === "root" ? "runtime" : `supervisor ${this.name}`,
    );
    this.#site.emit({
      type: "escalate",
      supervisor: this.name,
      intensity: this.spec.intensity,
      period: this.spec.period,
      why,
      child,
      failure: reason.message,
    });
    clearInterval(this.#heartbeat);
    for (const group of this.#groups.toReversed()) {
      await Promise.all(
        group.slots.map((slot) =>
          this.#stopSlot(group, slot, "graceful-then-kill", `supervisor ${this.name} gave up`)
            .catch(
              () => {},
            )
        ),
      );
    }
    this.#site.changed();
    this.onGiveUp(error);
  }

  #forgetNode(handle: InstanceHandle): void {
    const node = this.#site.node;
    if (handle.node === node.id) return;
    // Its direct links (workers' ports) go; peer runtimes (`@name`) have node ids of their own.
    for (const id of node.linkedNodes) {
      if (id !== handle.node && !id.startsWith("@")) node.sendTo(id, { k: "down", n: handle.node });
    }
  }

  /** Gives a newly ready worker a direct MessageChannel to every other ready worker. */
  #connectWorkers(handle: InstanceHandle): void {
    const mine = handle instanceof WorkerHandle ? handle.portLink : null;
    if (!mine) return;
    for (const [id, other] of this.#site.handles) {
      const theirs = other instanceof WorkerHandle && other !== handle && other.ready
        ? other.portLink
        : null;
      if (!theirs || id.includes("/")) continue;
      const channel = new MessageChannel();
      mine.handOver(id, channel.port1);
      theirs.handOver(handle.node, channel.port2);
      // A port posted to a worker that has silently died is never taken over: close it here once
      // either end is gone (closing a port that was transferred does nothing).
      Promise.race([handle.gone, other.gone]).then(() => {
        channel.port1.close();
        channel.port2.close();
      });
    }
  }
}

function newSlot(replica: number): Slot {
  return {
    replica,
    incarnation: 0,
    state: "starting",
    handle: null,
    restarts: 0,
    consecutive: 0,
    startedAt: 0,
    plan: null,
    token: 0,
    stopping: null,
    sub: null,
    subRoutes: null,
    subTree: null,
    subTreeAt: 0,
  };
}

/**
 * Route entries for the children of a restarting container: no instance yet, but senders hold
 * messages for them (the names last reported, else the declared children).
 */
function waitingRoutes(children: readonly ContainerSpec[], last: RouteTable | null): RouteTable {
  const table: RouteTable = {};
  if (last) {
    for (const [name, entry] of Object.entries(last)) {
      table[name] = { balance: entry.balance, instances: [], w: 1, q: entry.q };
    }
    return table;
  }
  const walk = (specs: readonly ContainerSpec[]) => {
    for (const spec of specs) {
      table[spec.name] = { balance: spec.balance, instances: [], w: 1, q: spec.buffer };
      walk(spec.children);
    }
  };
  walk(children);
  return table;
}

/** A subtree reported `age` ms ago, with its running uptimes brought up to now. */
function aged(tree: ContainerSnapshot[], age: number): ContainerSnapshot[] {
  return tree.map((c) => ({
    ...c,
    instances: c.instances.map((i) =>
      i.state === "running" ? { ...i, uptime: Math.round(i.uptime + age) } : i
    ),
    ...(c.children ? { children: aged(c.children, age) } : {}),
  }));
}
