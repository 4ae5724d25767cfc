/**
 * `placement: spread` containers: each agent runs a group of the container's replicas (the agent
 * sees an ordinary container with `replicas: k`), each group with its own epoch, so losing one
 * agent holds only its group. Where the replicas go is {@linkcode spreadReplicas}'s decision.
 *
 * A lost agent's group is held (its routes are already gone from the table: the surviving groups
 * take the traffic, and requests in flight to it are resent by the hub's failover) until the
 * agent's lease has run out — by then it has stopped them — and is then placed again on the
 * survivors. {@linkcode SpreadPlacements.rebalance} moves one replica at a time toward even.
 *
 * @module
 */
import type { ContainerSpec } from "../config/topology.ts";
import type { Envelope } from "../protocol/envelope.ts";
import { errorFromWire } from "../protocol/errors.ts";
import type { TimerHandle, Timers } from "./_clock.ts";
import { rebalanceStep, spreadReplicas } from "./_spread.ts";
import type { PlacementSnapshot } from "./types.ts";
import type { Plan, TableGroup } from "./_placement_table.ts";

/** What spread placement needs from the placement manager. */
export interface SpreadSite {
  /** Sends a control envelope to agent `peer`. */
  send(peer: string, env: Envelope): boolean;
  /** The agents linked now. */
  linked(): string[];
  /** How long after now a lost agent's placements may move (its lease run out). */
  moveDelay(peer: string): number;
  /** The spec an agent gets, with `replicas` replicas. */
  placed(spec: ContainerSpec, replicas: number): Record<string, unknown>;
  /** Routes or states changed. */
  changed(): void;
  /** Logs a line. */
  log(level: "info" | "warn" | "error", message: string): void;
}

interface Group {
  host: string;
  replicas: number;
  epoch: number;
  state: "placing" | "running" | "held" | "failed";
  why?: string;
  since: number;
  waiter?: { epoch: number; resolve(ok: boolean): void };
  moveTimer?: TimerHandle;
}

interface Spread {
  spec: ContainerSpec;
  groups: Map<string, Group>;
  /** The last epoch given to any of its groups: epochs only grow, across agents. */
  epoch: number;
  /** The rebalancing step under way, if any: the next one waits for it. */
  moving: Promise<void>;
  restarts: number;
}

/** How long an agent may take to answer a placement, ms. */
const PLACE_TIMEOUT = 30_000;

/** Places `placement: spread` containers, a group of replicas per agent. */
export class SpreadPlacements {
  readonly #site: SpreadSite;
  readonly #timers: Timers;
  readonly #all = new Map<string, Spread>();

  /**
   * @param site The placement manager.
   * @param timers Its timers (the injected clock).
   */
  constructor(site: SpreadSite, timers: Timers) {
    this.#site = site;
    this.#timers = timers;
  }

  /** Whether `name` is a spread container placed from here. */
  has(name: string): boolean {
    return this.#all.has(name);
  }

  /**
   * Adds or updates spread container `spec`; resolves once each group placed answers.
   * @param plan Where a new one runs now (from the placement table, when this root took over):
   *   its groups are placed there first (the agents adopt them as they run), epochs continuing.
   */
  async set(spec: ContainerSpec, plan?: Plan): Promise<void> {
    const current = this.#all.get(spec.name);
    if (!current) {
      const spread: Spread = {
        spec,
        groups: new Map(),
        epoch: plan?.epoch ?? 0,
        restarts: 0,
        moving: Promise.resolve(),
      };
      this.#all.set(spec.name, spread);
      for (const [host, replicas] of Object.entries(plan?.away ?? {})) {
        // An agent not linked may still run its group (its hold for the lost root): held.
        const g: Group = { host, replicas, epoch: spread.epoch, state: "held", since: 0 };
        spread.groups.set(host, g);
        this.#hold(spread, g, `agent "${host}" is unreachable; it may still run them`);
      }
      if (plan) {
        await Promise.all(
          Object.entries(plan.on).map(([host, n]) => this.#place(spread, host, n)),
        );
      }
    } else {
      // What the agents run is the same when only the count or where it may go changed: then
      // reconciling is enough (no group is replaced).
      const same = (x: ContainerSpec) => JSON.stringify({ ...x, replicas: 0, spread: undefined });
      const changed = same(current.spec) !== same(spec);
      current.spec = spec;
      // Changed beyond its count: every group is placed again (the agent replaces it).
      if (changed) {
        await Promise.all(
          [...current.groups.values()].filter((g) => g.state !== "held").map((g) =>
            this.#place(current, g.host, g.replicas)
          ),
        );
      }
    }
    await this.reconcile(spec.name);
  }

  /** Stops every group of `name` and forgets it. */
  remove(name: string): void {
    const spread = this.#all.get(name);
    if (!spread) return;
    this.#all.delete(name);
    for (const g of spread.groups.values()) this.#drop(spread, g);
    this.#site.changed();
  }

  /** Places what is missing and removes what is surplus, where {@linkcode spreadReplicas} says. */
  async reconcile(name: string): Promise<void> {
    const spread = this.#all.get(name);
    if (!spread) return;
    const linked = this.#site.linked();
    const live = [...spread.groups.values()].filter((g) => g.state !== "held");
    const held = [...spread.groups.values()].filter((g) => g.state === "held");
    const current: Record<string, number> = {};
    for (const g of live) if (g.state !== "failed") current[g.host] = g.replicas;
    const target = spreadReplicas({
      // What a lost agent ran is still counted until its lease runs out (it may still run it).
      replicas: Math.max(0, spread.spec.replicas - held.reduce((s, g) => s + g.replicas, 0)),
      agents: linked.filter((a) => !held.some((g) => g.host === a)),
      current,
      hosts: spread.spec.spread?.hosts,
      maxPerHost: spread.spec.spread?.maxPerHost,
    });
    const work: Promise<boolean>[] = [];
    for (const [host, n] of Object.entries(target)) {
      if (current[host] !== n) work.push(this.#place(spread, host, n));
    }
    for (const g of live) {
      if (target[g.host] === undefined && g.state !== "failed") this.#drop(spread, g);
    }
    await Promise.all(work);
  }

  /**
   * Moves one replica of `name` toward even (onto a returning or new agent): it starts on the
   * agent with the fewest first, and only once it serves is one stopped on the agent with the
   * most. Resolves with the move made, or `undefined` when already even.
   */
  rebalance(name: string): Promise<{ from: string; to: string } | undefined> {
    // One move at a time per container, whoever asks (an operator, or an agent linking).
    const spread = this.#all.get(name);
    if (!spread) return Promise.resolve(undefined);
    const move = spread.moving.then(() => this.#step(name));
    spread.moving = move.then(() => {}, () => {});
    return move;
  }

  /** Moves until even, one replica at a time (`rebalance: auto`, once an agent linked). */
  async #rebalanceAll(name: string): Promise<void> {
    const most = this.#all.get(name)?.spec.replicas ?? 0;
    for (let i = 0; i < most; i++) {
      if (!this.#all.has(name) || !(await this.rebalance(name))) return;
    }
  }

  async #step(name: string): Promise<{ from: string; to: string } | undefined> {
    const spread = this.#all.get(name);
    if (!spread) return undefined;
    const current: Record<string, number> = {};
    for (const g of spread.groups.values()) {
      if (g.state === "running") current[g.host] = g.replicas;
    }
    const step = rebalanceStep({
      replicas: spread.spec.replicas,
      // An agent whose group is held (lost, its lease not run out) takes nothing until it has.
      agents: this.#site.linked().filter((a) => spread.groups.get(a)?.state !== "held"),
      current,
      hosts: spread.spec.spread?.hosts,
      maxPerHost: spread.spec.spread?.maxPerHost,
    });
    if (!step) return undefined;
    const ok = await this.#place(spread, step.to, (current[step.to] ?? 0) + 1);
    if (!ok) return undefined;
    const from = spread.groups.get(step.from);
    if (from && from.replicas > 1) await this.#place(spread, step.from, from.replicas - 1);
    else if (from) this.#drop(spread, from);
    this.#site.log(
      "info",
      `rebalanced ${name}: one replica moved from "${step.from}" to "${step.to}"`,
    );
    return step;
  }

  /** Where each spread container is placed or being placed, for the placement table. */
  table(): Map<string, TableGroup[]> {
    const out = new Map<string, TableGroup[]>();
    for (const [name, s] of this.#all) {
      out.set(
        name,
        [...s.groups.values()].filter((g) => g.state !== "failed")
          .map((g) => ({ agent: g.host, replicas: g.replicas, epoch: g.epoch })),
      );
    }
    return out;
  }

  /** The spread containers' specs. */
  specs(): ContainerSpec[] {
    return [...this.#all.values()].map((s) => s.spec);
  }

  /** Placeholders for senders while no group serves (none running). */
  waiting(name: string): boolean {
    const spread = this.#all.get(name);
    return !!spread && ![...spread.groups.values()].some((g) => g.state === "running");
  }

  /** Whether agent `peer`'s routes for `name` are those of a current, reachable group. */
  acceptsRoute(peer: string, name: string): boolean {
    const g = this.#all.get(name)?.groups.get(peer);
    return !!g && g.state !== "held";
  }

  /** Whether a group of `name` is placed on agent `peer` (held or not). */
  placedOn(peer: string, name: string): boolean {
    return this.#all.get(name)?.groups.has(peer) ?? false;
  }

  /** Whether anything spread is placed on agent `peer`. */
  uses(peer: string): boolean {
    return [...this.#all.values()].some((s) => s.groups.has(peer));
  }

  /** Agent `peer` rejoined listing `name` at `epoch`: whether that is the current group there. */
  current(peer: string, name: string, epoch: number): boolean {
    const g = this.#all.get(name)?.groups.get(peer);
    return !!g && g.epoch === epoch && g.state !== "held";
  }

  /** Agent `peer` linked: missing replicas are placed (a held group there waits its lease). */
  joined(): void {
    for (const [name, spread] of this.#all) {
      const auto = spread.spec.spread?.rebalance === "auto";
      this.reconcile(name).then(() => auto ? this.#rebalanceAll(name) : undefined).catch(() => {});
    }
  }

  /** Agent `peer` was lost: its groups are held, then placed again once its lease has run out. */
  lost(peer: string): void {
    for (const spread of this.#all.values()) {
      const g = spread.groups.get(peer);
      if (!g || g.state === "held") continue;
      g.waiter?.resolve(false);
      this.#hold(spread, g, `agent "${peer}" is unreachable`);
    }
    this.#site.changed();
  }

  /** Holds group `g` until its agent's lease has run out, then places its replicas again. */
  #hold(spread: Spread, g: Group, why: string): void {
    const peer = g.host;
    this.#set(g, "held", why);
    g.moveTimer = this.#timers.after(this.#site.moveDelay(peer), () => {
      if (spread.groups.get(peer) !== g || g.state !== "held") return;
      spread.groups.delete(peer);
      spread.restarts += g.replicas;
      this.#site.log(
        "info",
        `${spread.spec.name}: ${g.replicas} replica(s) of "${peer}" re-placed`,
      );
      this.reconcile(spread.spec.name).catch(() => {});
    });
  }

  /** An agent's answer to a placement. */
  placed(peer: string, env: Extract<Envelope, { k: "placed" }>): boolean {
    const g = this.#all.get(env.n)?.groups.get(peer);
    if (!g) return this.#all.has(env.n);
    if (g.waiter?.epoch !== env.e) return true;
    if (env.ok) g.waiter.resolve(true);
    else {
      const error = errorFromWire(env.x ?? { name: "Error", message: "refused" });
      this.#set(g, "failed", `${error.name}: ${error.message}`);
      this.#site.log("error", `could not place ${env.n} on agent "${peer}": ${error.message}`);
      g.waiter.resolve(false);
    }
    return true;
  }

  /** One row per spread container. */
  snapshot(now: number): PlacementSnapshot[] {
    return [...this.#all.values()].map((s) => {
      const groups = [...s.groups.values()];
      const state: PlacementSnapshot["state"] = groups.some((g) => g.state === "running")
        ? "running"
        : groups.some((g) => g.state === "placing")
        ? "placing"
        : groups.some((g) => g.state === "held")
        ? "held"
        : groups.some((g) => g.state === "failed")
        ? "failed"
        : "waiting";
      const why = groups.find((g) => g.why)?.why;
      return {
        name: s.spec.name,
        host: groups.length > 0 ? groups.map((g) => g.host).sort().join(", ") : null,
        epoch: s.epoch,
        state,
        since: Math.round(now - Math.min(...groups.map((g) => g.since), now)),
        restarts: s.restarts,
        ...(why ? { why } : {}),
        spec: s.spec,
        replicasOn: Object.fromEntries(groups.map((g) => [g.host, g.replicas])),
      };
    });
  }

  /** Stops placing. */
  close(): void {
    for (const s of this.#all.values()) {
      for (const g of s.groups.values()) {
        this.#timers.cancel(g.moveTimer);
        g.waiter?.resolve(false);
      }
    }
  }

  /** Places (or rescales) the group of `spread` on `host` with `replicas`; whether it runs. */
  async #place(spread: Spread, host: string, replicas: number): Promise<boolean> {
    const existing = spread.groups.get(host);
    existing?.waiter?.resolve(false);
    const epoch = ++spread.epoch;
    const g: Group = existing ?? { host, replicas, epoch, state: "placing", since: 0 };
    g.replicas = replicas;
    g.epoch = epoch;
    // A group already serving keeps serving while its agent rescales it.
    if (g.state !== "running") this.#set(g, "placing");
    spread.groups.set(host, g);
    const answer = new Promise<boolean>((resolve) => g.waiter = { epoch, resolve });
    const timer = this.#timers.after(PLACE_TIMEOUT, () => {
      if (g.waiter?.epoch !== epoch) return;
      this.#set(g, "failed", `no answer from agent "${host}" within ${PLACE_TIMEOUT} ms`);
      g.waiter.resolve(false);
    });
    this.#site.send(host, {
      k: "place",
      n: spread.spec.name,
      s: this.#site.placed(spread.spec, replicas),
      e: epoch,
    });
    try {
      const ok = await answer;
      if (!ok || g.epoch !== epoch || spread.groups.get(host) !== g) return false;
      this.#set(g, "running");
      this.#site.log(
        "info",
        `placed ${replicas} replica(s) of ${spread.spec.name} on agent "${host}" (epoch ${epoch})`,
      );
      return true;
    } finally {
      this.#timers.cancel(timer);
      if (g.waiter?.epoch === epoch) g.waiter = undefined;
    }
  }

  #drop(spread: Spread, g: Group): void {
    this.#timers.cancel(g.moveTimer);
    g.waiter?.resolve(false);
    spread.groups.delete(g.host);
    this.#site.send(g.host, { k: "unplace", n: spread.spec.name, e: g.epoch });
  }

  #set(g: Group, state: Group["state"], why?: string): void {
    g.state = state;
    g.since = this.#timers.now();
    g.why = why;
    this.#site.changed();
  }
}
