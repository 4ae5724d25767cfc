/**
 * The root runtime's side of placement: `mode: remote` containers run on host agents
 * (`kraken node`) among `hosts:`, which supervise them locally; this decides where, watches the
 * agents, and moves what a lost agent ran.
 *
 * A placement is (container, agent, epoch). Choosing an agent: `host:` pins one; otherwise the
 * policy picks among linked agents (`spread`: fewest placements from here; `least_loaded`: fewest
 * containers, then least memory, as the agents report). When an agent is lost, its placements are
 * held (senders keep their messages for them) and, once the agent's lease has run out — its own
 * keepalive, after which an agent stops what it was given — placed again elsewhere with a higher
 * epoch. A returning agent still running an older epoch is told to stop it; only the current
 * placement's routes are ever taken, so there is never a second live copy to reach.
 *
 * @module
 */
import type { ContainerSpec, Placement as Policy } from "../config/topology.ts";
import type { Envelope, LogLevel, RouteTable } from "../protocol/envelope.ts";
import { errorFromWire } from "../protocol/errors.ts";
import { type Clock, SYSTEM_CLOCK, type TimerHandle, Timers } from "./_clock.ts";
import { sanitizeEvent } from "../supervisor/event_check.ts";
import type { SupervisorEvent } from "../supervisor/events.ts";
import type { PlacementSnapshot } from "./types.ts";
import { SpreadPlacements } from "./_spread_placement.ts";
import { moveDelay, placedSpec } from "./_placed_spec.ts";
import {
  planFromRow,
  replicasFromRow,
  type TableGroup,
  type TableRow,
} from "./_placement_table.ts";

/** What placement needs from its runtime. */
export interface PlacementSite {
  /** Sends a control envelope to peer `name`; false when it is not linked. */
  send(peer: string, env: Envelope): boolean;
  /** The routes a peer announced for container `name` (live instances), if any. */
  liveInstances(name: string): number;
  /** Routes changed (placements held or released). */
  changed(): void;
  /** Logs a line. */
  log(level: "info" | "warn" | "error", message: string): void;
  /** Logs a line a remote instance logged (`source`: its instance id and agent). */
  logFrom(level: LogLevel, message: string, source: string, trace?: string): void;
  /** Reports a supervision event. */
  emit(event: SupervisorEvent): void;
}

interface Agent {
  name: string;
  linked: boolean;
  lastSeen: number;
  /** How long it keeps running what it was given after losing us (its own keepalive), ms. */
  lease: number;
  load: { containers: number; memory: number };
}

interface Entry {
  spec: ContainerSpec;
  host: string | null;
  epoch: number;
  state: PlacementSnapshot["state"];
  since: number;
  restarts: number;
  why?: string;
  /** The answer to the placement in flight. */
  waiter?: { epoch: number; resolve(ok: boolean): void; reject(error: Error): void };
  moveTimer?: TimerHandle;
  /** Settles {@linkcode PlacementManager.add} on the first placement's outcome. */
  first?: { resolve(): void; reject(error: Error): void };
  /** What its agent last reported its instances use, by instance id. */
  usage?: Record<string, { memoryBytes: number | null; cpuPercent: number | null }>;
}

/** How long an agent may take to start a placed container, ms. */
const PLACE_TIMEOUT = 30_000;

/** How a placement manager is made. */
export interface PlacementOptions {
  /** How to choose an agent without `host:` (default `spread`). */
  policy?: Policy;
  /** How long an agent keeps running what it was given after losing us (our keepalive), ms. */
  lease: number;
  /** This runtime's name among its peers (what agents record as a placement's owner). */
  self?: string;
  /** Time for lease expiry and answer timeouts (default: this isolate's). */
  clock?: Clock;
}

/** Places remote containers on agents and moves them when an agent is lost. */
export class PlacementManager {
  readonly #site: PlacementSite;
  /** This runtime's name among its peers (what agents record as a placement's owner). */
  readonly #self: string;
  readonly #policy: Policy;
  readonly #lease: number;
  readonly #timers: Timers;
  readonly #agents = new Map<string, Agent>();
  /** Peers that linked as runtimes, not agents. */
  readonly #runtimes = new Set<string>();
  readonly #entries = new Map<string, Entry>();
  /** `placement: spread` containers: a group of replicas per agent. */
  readonly #spread: SpreadPlacements;
  #closed = false;

  /**
   * @param site The runtime.
   * @param options Policy, lease, this runtime's name and the clock.
   */
  constructor(site: PlacementSite, options: PlacementOptions) {
    this.#site = site;
    this.#self = options.self ?? "";
    this.#policy = options.policy ?? "spread";
    this.#lease = options.lease;
    this.#timers = new Timers(options.clock ?? SYSTEM_CLOCK);
    this.#spread = new SpreadPlacements({
      send: (peer, env) => this.#site.send(peer, env),
      linked: () => [...this.#agents.values()].filter((a) => a.linked).map((a) => a.name),
      moveDelay: (peer) => {
        const agent = this.#agents.get(peer);
        return moveDelay({
          lastSeen: agent?.lastSeen ?? 0,
          lease: this.#lease,
          agentLease: agent?.lease ?? 0,
          now: this.#timers.now(),
        });
      },
      placed: (spec, replicas) => placedSpec({ ...spec, replicas }),
      changed: () => this.#site.changed(),
      log: (level, message) => this.#site.log(level, message),
    }, this.#timers);
  }

  /** Whether peer `peer` linked as a host agent (not as a runtime). */
  isAgent(peer: string): boolean {
    return this.#agents.has(peer);
  }

  /** Whether `name` is a remote container placed from here. */
  has(name: string): boolean {
    return this.#entries.has(name) || this.#spread.has(name);
  }

  /**
   * Whether `name` runs as groups of replicas on several agents (`placement: spread`): their
   * instance ids repeat across agents, so the root tells them apart by agent.
   */
  spreads(name: string): boolean {
    return this.#spread.has(name);
  }

  /**
   * Moves one replica of spread container `name` toward even (a returning or new agent takes
   * it): started there first, then one stopped on the fullest agent.
   * @returns The move made, or `undefined` when its replicas are already even.
   */
  rebalance(name: string): Promise<{ from: string; to: string } | undefined> {
    return this.#spread.rebalance(name);
  }

  /**
   * Adds remote containers and places them as agents become available.
   * @returns Resolves once each one runs, or rejects with the first refusal (e.g. a grant wider
   *   than its agent allows); containers still waiting for an agent after `wait` ms resolve too
   *   (they stay held and are placed when an agent links).
   * @param table The placement table a root read when it took over (by container name): each
   *   container goes first where it runs now, so that its agent adopts it in place.
   */
  add(
    specs: readonly ContainerSpec[],
    wait = 0,
    table?: ReadonlyMap<string, TableRow>,
  ): Promise<void> {
    const outcomes: Promise<void>[] = [];
    const timers = this.#timers;
    const linked = [...this.#agents.values()].filter((a) => a.linked).map((a) => a.name);
    for (const declared of specs) {
      const row = table?.get(declared.name);
      // A run-time scale on the earlier leader is kept (unless the topology was edited since).
      const kept = row && replicasFromRow(row, declared);
      if (kept?.note) this.#site.log(kept.note.level, kept.note.message);
      const spec = kept ? { ...declared, replicas: kept.replicas } : declared;
      const plan = row && planFromRow(row, spec, linked);
      for (const agent of Object.keys(plan?.away ?? {})) this.#away(agent);
      if (plan && Object.keys(plan.on).length > 0) {
        this.#site.log(
          "info",
          `${spec.name} runs on ${
            Object.keys(plan.on).map((a) => `"${a}"`).join(", ")
          } (placement table, term ${row.term}): placed there again`,
        );
      }
      if (spec.spread) {
        outcomes.push(this.#spread.set(spec, plan));
        continue;
      }
      const entry: Entry = {
        spec,
        host: null,
        epoch: 0,
        state: "waiting",
        since: this.#timers.now(),
        restarts: 0,
      };
      outcomes.push(
        new Promise<void>((resolve, reject) => {
          if (wait <= 0) return resolve();
          const timer = timers.after(wait, () => settle());
          function settle(error?: Error) {
            timers.cancel(timer);
            entry.first = undefined;
            if (error) reject(error);
            else resolve();
          }
          entry.first = { resolve: () => settle(), reject: settle };
        }),
      );
      this.#entries.set(spec.name, entry);
      // Epochs continue from the table's, wherever it goes.
      if (plan) entry.epoch = plan.epoch;
      const [away] = Object.keys(plan?.away ?? {});
      if (away) this.#holdAway(entry, away);
      else this.#place(entry, plan && Object.keys(plan.on)[0]).catch(() => {});
    }
    this.#site.changed();
    return Promise.all(outcomes).then(() => {});
  }

  /** Places `spec` again (a changed spec or replica count): same agent unless `host:` moved it. */
  async update(spec: ContainerSpec): Promise<void> {
    if (spec.spread || this.#spread.has(spec.name)) {
      // Between whole and spread placement: the old form stops first.
      if (!spec.spread) this.#spread.remove(spec.name);
      else if (this.#entries.has(spec.name)) await this.remove(spec.name);
      if (spec.spread) return this.#spread.set(spec);
    }
    const entry = this.#entries.get(spec.name);
    if (!entry) return this.add([spec], PLACE_TIMEOUT);
    const old = { host: entry.host, epoch: entry.epoch };
    entry.spec = spec;
    const keep = old.host && (!spec.host || spec.host === old.host) && this.#linked(old.host);
    await this.#place(entry, keep ? old.host! : undefined);
  }

  /** Stops remote container `name` wherever it runs and forgets it. */
  remove(name: string): Promise<void> {
    this.#spread.remove(name);
    const entry = this.#entries.get(name);
    if (!entry) return Promise.resolve();
    this.#entries.delete(name);
    this.#timers.cancel(entry.moveTimer);
    entry.waiter?.resolve(false);
    if (entry.host) this.#site.send(entry.host, { k: "unplace", n: name, e: entry.epoch });
    this.#site.changed();
    return Promise.resolve();
  }

  /** Placements not serving now: senders hold messages for them. */
  routes(): RouteTable {
    const table: RouteTable = {};
    for (const [name, entry] of this.#entries) {
      if (entry.state === "running" && this.#site.liveInstances(name) > 0) continue;
      if (entry.state === "failed") continue;
      table[name] = { balance: entry.spec.balance, instances: [], w: 1, q: entry.spec.buffer };
    }
    for (const spec of this.#spread.specs()) {
      if (this.#spread.waiting(spec.name) || this.#site.liveInstances(spec.name) === 0) {
        table[spec.name] = { balance: spec.balance, instances: [], w: 1, q: spec.buffer };
      }
    }
    return table;
  }

  /**
   * Where each remote container is placed or being placed (`[]`: nowhere now), for the
   * placement table.
   */
  table(): Map<string, TableGroup[]> {
    const out = this.#spread.table();
    for (const [name, e] of this.#entries) {
      const placed = e.host !== null &&
        (e.state === "running" || e.state === "placing" || e.state === "held");
      out.set(
        name,
        placed ? [{ agent: e.host!, replicas: e.spec.replicas, epoch: e.epoch }] : [],
      );
    }
    return out;
  }

  /** The longest lease (keepalive) an agent announced, ms (0: no agent). */
  longestLease(): number {
    return Math.max(0, ...[...this.#agents.values()].map((a) => a.lease));
  }

  /** What agent `peer` last reported of its load (`undefined`: not an agent, or nothing yet). */
  loadOf(peer: string): { replicas: number; memoryBytes: number } | undefined {
    const load = this.#agents.get(peer)?.load;
    return load && load.memory > 0
      ? { replicas: load.containers, memoryBytes: load.memory }
      : undefined;
  }

  /** Whether container `name` is placed on agent `peer` from here (it may report on it). */
  placedOn(peer: string, name: string): boolean {
    return this.#entries.get(name)?.host === peer || this.#spread.placedOn(peer, name);
  }

  /** Whether `peer`'s routes for `name` are the current placement's. */
  acceptsRoute(peer: string, name: string): boolean {
    if (this.#spread.has(name)) return this.#spread.acceptsRoute(peer, name);
    const entry = this.#entries.get(name);
    if (entry) return entry.host === peer && entry.state !== "held";
    // From an agent, only what this runtime placed there: another root's containers are theirs.
    return !this.#agents.has(peer);
  }

  /** The remote containers, for the tree. */
  snapshot(now = this.#timers.now()): PlacementSnapshot[] {
    return [...this.#entries.values()].map((e): PlacementSnapshot => ({
      name: e.spec.name,
      host: e.host,
      epoch: e.epoch,
      state: e.state,
      since: Math.round(now - e.since),
      restarts: e.restarts,
      ...(e.why ? { why: e.why } : {}),
      spec: e.spec,
      ...(e.usage && e.host !== null ? { usage: { ...e.usage } } : {}),
    })).concat(this.#spread.snapshot(now));
  }

  // ---- federation hooks --------------------------------------------------------------------

  /**
   * A peer linked; an agent says so in its introduction. With `fence` false (a root with a lease
   * that does not lead now), what the agent still runs for this runtime is left alone: it may be
   * held for a standby's take-over, or for this root's own once it leads again.
   */
  joined(peer: string, join: Extract<Envelope, { k: "join" }>, fence = true): void {
    if (!join.a) {
      // A runtime, not an agent: a container pinned to it would wait for ever; say why now.
      this.#runtimes.add(peer);
      for (const entry of this.#entries.values()) {
        if (entry.spec.host === peer && entry.state === "waiting") this.#notAnAgent(entry, peer);
      }
      return;
    }
    this.#runtimes.delete(peer);
    const agent = this.#agents.get(peer) ?? {
      name: peer,
      linked: true,
      lastSeen: this.#timers.now(),
      lease: 0,
      load: { containers: 0, memory: 0 },
    };
    agent.lease = join.a.lease ?? 0;
    agent.linked = true;
    agent.lastSeen = this.#timers.now();
    this.#agents.set(peer, agent);
    // Fencing: whatever it still runs for this runtime from an older epoch (or no longer placed)
    // stops now. What it runs for other runtimes is theirs.
    for (const p of fence ? join.p ?? [] : []) {
      if (p.b !== undefined && p.b !== this.#self) continue;
      if (this.#spread.has(p.n)) {
        if (!this.#spread.current(peer, p.n, p.e)) {
          this.#site.log("warn", `agent "${peer}" still ran ${p.n} (epoch ${p.e}): stopping it`);
          this.#site.send(peer, { k: "unplace", n: p.n, e: p.e });
        }
        continue;
      }
      const entry = this.#entries.get(p.n);
      if (!entry || entry.host !== peer || entry.epoch !== p.e) {
        this.#site.log("warn", `agent "${peer}" still ran ${p.n} (epoch ${p.e}): stopping it`);
        this.#site.send(peer, { k: "unplace", n: p.n, e: p.e });
      }
    }
    this.#site.log("info", `host agent "${peer}" is available`);
    for (const entry of this.#entries.values()) {
      if (entry.state === "waiting") this.#place(entry).catch(() => {});
    }
    this.#spread.joined();
  }

  /** A peer's link was lost: its placements are held, then moved once its lease has run out. */
  lost(peer: string, lastSeen: number): void {
    // Only the peers linked now, and the agents something is placed on, are remembered: a stream
    // of joins under fresh names leaves nothing behind.
    this.#runtimes.delete(peer);
    const agent = this.#agents.get(peer);
    if (!agent) return;
    if (![...this.#entries.values()].some((e) => e.host === peer) && !this.#spread.uses(peer)) {
      this.#agents.delete(peer);
      return;
    }
    agent.linked = false;
    agent.lastSeen = lastSeen;
    this.#spread.lost(peer);
    for (const entry of this.#entries.values()) {
      if (entry.host !== peer || (entry.state !== "running" && entry.state !== "placing")) continue;
      entry.waiter?.resolve(false);
      this.#set(entry, "held", `agent "${peer}" is unreachable`);
      this.#site.emit({
        type: "exit",
        container: entry.spec.name,
        instance: instanceId(entry),
        incarnation: entry.epoch,
        reason: { kind: "unresponsive", message: `its agent "${peer}" is unreachable` },
      });
      const wait = moveDelay({
        lastSeen,
        lease: this.#lease,
        agentLease: agent.lease,
        now: this.#timers.now(),
      });
      entry.moveTimer = this.#timers.after(wait, () => {
        if (this.#closed || entry.state !== "held" || entry.host !== peer) return;
        entry.restarts++;
        this.#place(entry).then((ok) => {
          if (!ok) return;
          this.#site.emit({
            type: "restart",
            container: entry.spec.name,
            instance: instanceId(entry),
            incarnation: entry.epoch,
            delay: Math.round(wait),
          });
        }).catch(() => {});
      });
    }
    this.#site.changed();
  }

  /** Answers and reports from agents. */
  control(peer: string, env: Envelope): void {
    if (env.k === "log") {
      // A line a placed container logged on its agent: it shows here, as `kraken logs` expects.
      const entry = this.#entries.get(env.c.split("#")[0]);
      if (entry?.host === peer || this.#spread.placedOn(peer, env.c.split("#")[0])) {
        this.#site.logFrom(env.l, env.m, `${env.c}@${peer}`, env.x);
      }
      return;
    }
    if (env.k === "event") {
      // What the agent's own supervisor did with a container placed from here: untrusted, kept
      // only when well formed and about a container placed on that agent.
      const event = sanitizeEvent(env.e, { may: (name) => this.placedOn(peer, name) });
      if (!event || (event.type !== "start" && event.type !== "exit" && event.type !== "restart")) {
        return;
      }
      const entry = this.#entries.get(event.container);
      if (event.type === "restart" && entry) entry.restarts++;
      this.#site.emit(event);
      return;
    }
    if (env.k === "load") {
      const agent = this.#agents.get(peer);
      if (agent) agent.load = { containers: env.c, memory: env.m };
      if (env.u) this.#usageFrom(peer, env.u);
      return;
    }
    if (env.k !== "placed") return;
    if (this.#spread.placed(peer, env)) return;
    const entry = this.#entries.get(env.n);
    if (entry && !env.ok && entry.host === peer && entry.epoch === env.e && !entry.waiter) {
      return this.#gone(entry, peer, env.x?.message ?? "refused");
    }
    if (!entry?.waiter || entry.waiter.epoch !== env.e || entry.host !== peer) return;
    if (env.ok) entry.waiter.resolve(true);
    else entry.waiter.reject(errorFromWire(env.x ?? { name: "Error", message: "refused" }));
  }

  /**
   * Agent `peer` says what it ran for us at the entry's epoch runs there no more (another root's
   * later lease term adopted it while we were away): not reported running on; placed again now
   * (refused while the adopter is linked there: then it reads as failed, never as running).
   */
  #gone(entry: Entry, peer: string, why: string): void {
    if (entry.state !== "running" && entry.state !== "held") return;
    this.#site.log("error", `${entry.spec.name} no longer runs on agent "${peer}": ${why}`);
    this.#site.emit({
      type: "exit",
      container: entry.spec.name,
      instance: instanceId(entry),
      incarnation: entry.epoch,
      reason: { kind: "unresponsive", message: why },
    });
    this.#place(entry).catch(() => {});
  }

  /**
   * What an agent says the instances it runs for us use: kept only for containers placed on
   * that agent (an agent speaks for nothing else), each report replacing the last.
   */
  #usageFrom(peer: string, figures: readonly [string, number | null, number | null][]): void {
    const fresh = new Map<Entry, NonNullable<Entry["usage"]>>();
    for (const [instance, memoryBytes, cpuPercent] of figures) {
      const entry = this.#entries.get(instance.split("#")[0]);
      if (entry?.host !== peer) continue;
      const usage = fresh.get(entry) ?? {};
      usage[instance] = { memoryBytes, cpuPercent };
      fresh.set(entry, usage);
    }
    for (const entry of this.#entries.values()) {
      if (entry.host === peer) entry.usage = fresh.get(entry) ?? {};
    }
  }

  /** Stops placing (the runtime shuts down); agents stop what they run when the link closes. */
  close(): void {
    this.#closed = true;
    this.#spread.close();
    for (const entry of this.#entries.values()) {
      this.#timers.cancel(entry.moveTimer);
      entry.waiter?.resolve(false);
      entry.first?.resolve();
    }
    this.#timers.clear();
  }

  // ---- placing -----------------------------------------------------------------------------

  /** Places `entry` on `host` (or the policy's choice); resolves whether it now runs. */
  async #place(entry: Entry, host?: string): Promise<boolean> {
    if (this.#closed || this.#entries.get(entry.spec.name) !== entry) return false;
    if (entry.spec.host && this.#runtimes.has(entry.spec.host)) {
      this.#notAnAgent(entry, entry.spec.host);
      return false;
    }
    const target = host ?? this.#choose(entry);
    if (!target) {
      this.#set(
        entry,
        "waiting",
        entry.spec.host
          ? `waiting for its agent "${entry.spec.host}"`
          : "waiting for a host agent to link",
      );
      return false;
    }
    this.#timers.cancel(entry.moveTimer);
    // A placement still waiting for its answer is superseded by this one (a later epoch).
    entry.waiter?.resolve(false);
    const previous = entry.state === "running" || entry.state === "placing" ||
        entry.state === "held"
      ? { host: entry.host, epoch: entry.epoch }
      : null;
    entry.epoch++;
    entry.host = target;
    entry.usage = undefined; // the last agent's figures are not the new one's
    this.#set(entry, "placing");
    const epoch = entry.epoch;
    let fail!: (error: Error) => void;
    const answer = new Promise<boolean>((resolve, reject) => {
      fail = reject;
      entry.waiter = { epoch, resolve, reject };
    });
    const timer = this.#timers.after(
      PLACE_TIMEOUT,
      () => fail(new Error(`no answer from agent "${target}" within ${PLACE_TIMEOUT} ms`)),
    );
    this.#site.send(target, {
      k: "place",
      n: entry.spec.name,
      s: placedSpec(entry.spec),
      e: epoch,
    });
    try {
      const ok = await answer;
      if (!ok || entry.epoch !== epoch) return false;
      // Moved: the agent it ran on before stops that copy, now that this one serves.
      if (previous?.host && previous.host !== target) {
        this.#site.send(previous.host, { k: "unplace", n: entry.spec.name, e: previous.epoch });
      }
      this.#set(entry, "running");
      entry.first?.resolve();
      this.#site.log("info", `placed ${entry.spec.name} on agent "${target}" (epoch ${epoch})`);
      this.#site.emit({
        type: "start",
        container: entry.spec.name,
        instance: instanceId(entry),
        incarnation: epoch,
      });
      return true;
    } catch (error) {
      if (entry.epoch !== epoch) return false;
      this.#set(entry, "failed", `${(error as Error).name}: ${(error as Error).message}`);
      entry.first?.reject(error as Error);
      this.#site.log(
        "error",
        `could not place ${entry.spec.name} on agent "${target}": ${(error as Error).message}`,
      );
      throw error;
    } finally {
      this.#timers.cancel(timer);
      if (entry.waiter?.epoch === epoch) entry.waiter = undefined;
    }
  }

  #choose(entry: Entry): string | undefined {
    const pinned = entry.spec.host;
    if (pinned) return this.#linked(pinned) ? pinned : undefined;
    const linked = [...this.#agents.values()].filter((a) => a.linked);
    if (linked.length === 0) return undefined;
    const placedOn = (a: Agent) =>
      [...this.#entries.values()].filter((e) =>
        e !== entry && e.host === a.name &&
        (e.state === "running" || e.state === "placing")
      ).length;
    const score = (a: Agent): [number, number] =>
      this.#policy === "least_loaded"
        ? [Math.max(a.load.containers, placedOn(a)), a.load.memory]
        : [placedOn(a), 0];
    linked.sort((a, b) => {
      const [a1, a2] = score(a);
      const [b1, b2] = score(b);
      return a1 - b1 || a2 - b2 || (a.name < b.name ? -1 : 1);
    });
    return linked[0].name;
  }

  /**
   * The placement table names agent `name`, not linked now: it may still run what the lost root
   * placed there (its hold), so it is counted from now like a lost agent.
   */
  #away(name: string): void {
    if (this.#agents.has(name)) return;
    this.#agents.set(name, {
      name,
      linked: false,
      lastSeen: this.#timers.now(),
      lease: 0,
      load: { containers: 0, memory: 0 },
    });
  }

  /**
   * Holds `entry`, which the table says runs on agent `away` (not linked), until that agent's
   * lease has run out — never a second copy meanwhile — then places it, there if it linked again.
   */
  #holdAway(entry: Entry, away: string): void {
    entry.host = away;
    this.#set(entry, "held", `agent "${away}" is unreachable; it may still run it`);
    const agent = this.#agents.get(away)!;
    const wait = moveDelay({
      lastSeen: agent.lastSeen,
      lease: this.#lease,
      agentLease: agent.lease,
      now: this.#timers.now(),
    });
    entry.moveTimer = this.#timers.after(wait, () => {
      if (this.#closed || entry.state !== "held" || entry.host !== away) return;
      this.#place(entry, this.#linked(away) ? away : undefined).catch(() => {});
    });
  }

  #notAnAgent(entry: Entry, peer: string): void {
    const error = new Error(
      `host "${peer}" is a runtime, not a host agent: start it with kraken node to place containers on it`,
    );
    this.#set(entry, "failed", error.message);
    this.#site.log("error", `cannot place ${entry.spec.name}: ${error.message}`);
    entry.first?.reject(error);
  }

  #linked(name: string): boolean {
    return this.#agents.get(name)?.linked ?? false;
  }

  #set(entry: Entry, state: Entry["state"], why?: string): void {
    entry.state = state;
    entry.since = this.#timers.now();
    entry.why = why;
    this.#site.changed();
  }
}

function instanceId(entry: Entry): string {
  return `${entry.spec.name}@${entry.host}#${entry.epoch}`;
}
