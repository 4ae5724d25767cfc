/**
 * The one object a runtime builds for everything beyond its own isolates: its links to peer
 * runtimes (`_federation.ts`), its NATS bridge (`_nats.ts`, loaded only when `transports.nats`
 * is set), the placement of its `mode: remote` containers on host agents (`_placement.ts`), and,
 * on a `kraken node`, the host agent that runs what roots place on it (`_agent.ts`).
 *
 * @module
 */
import { TransportSet } from "../transports/transport_set.ts";
import { defaultTransports } from "../transports/defaults.ts";
import { DENO_FS } from "../config/_deno_fs.ts";
import { type ContainerSpec, type Topology, validateContainer } from "../config/topology.ts";
import type { Envelope, RouteTable } from "../protocol/envelope.ts";
import { MAX_LIST_ITEMS } from "../protocol/envelope_check.ts";
import { TopologyError, UnavailableError } from "../protocol/errors.ts";
import { AgentHost } from "./_agent.ts";
import { type Clock, SYSTEM_CLOCK, Timers } from "./_clock.ts";
import { Federation } from "./_federation.ts";
import { preferOwn } from "./_relay.ts";
import type { NatsBridge } from "./_nats.ts";
import { PlacementManager } from "./_placement.ts";
import type { Leader } from "./_leader.ts";
import type {
  Distribution,
  DistributionOptions,
  DistributionSite,
  DistributionSnapshot,
  Forwarded,
} from "./types.ts";

/**
 * How long agents hold what a lost leading root placed, for its standby to adopt, ms: the lease
 * may outlive the root by its TTL, the standby looks about every TTL / 4, then places (a start).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { standbyWait } from "./distribution.ts";
 * assert.equal(standbyWait(1_000), 4_000);
 * ```
 */
export function standbyWait(ttl: number): number {
  return 2 * ttl + 2_000;
}

/** How long `start` waits for host agents to take the remote containers, ms. */
const PLACEMENT_WAIT = 10_000;
/** How often a leading root writes what of its placement table is not written yet, ms. */
const TABLE_RESYNC = 1_000;
/** How often a host agent tells each root what the instances it placed use, ms. */
const USAGE_INTERVAL = 1000;

/**
 * Builds the distribution of a runtime: nothing runs until `start`. A topology without
 * `transports:` gets one that has no peers, routes nothing and places nothing.
 *
 * @param topology The validated topology (`transports:`, `hosts:`, `placement:`, name, base URL).
 * @param site The hub and the hooks of the runtime.
 * @param options `agent`: makes this runtime a host agent; `clock`: time for every decision.
 * @returns The runtime's one distribution object.
 *
 * @example A runtime without transports: nothing outside
 * ```ts
 * import assert from "node:assert/strict";
 * import { validateTopology } from "../config/topology.ts";
 * import { createDistribution } from "./distribution.ts";
 * const topology = validateTopology({ name: "shop", containers: {} }, { baseUrl: "file:///app/" });
 * const distribution = createDistribution(topology, {
 *   hub: { routes: {}, attachPeer() {}, detach() {}, reportRefused() {}, send() {} },
 *   ownNames: () => [], ownRoutes: () => ({}), changed() {}, log() {}, emit() {},
 *   run: () => Promise.resolve(), stop: () => Promise.resolve(), replicas: () => 0,
 * });
 * await distribution.start([]);
 * assert.deepEqual(distribution.routes(), {});
 * assert.deepEqual(distribution.snapshot().peers, []);
 * await distribution.close();
 * ```
 */
export function createDistribution(
  topology: Topology,
  site: DistributionSite,
  options: DistributionOptions = {},
): Distribution {
  return new Distributed(topology, site, options);
}

/** What a runtime with `transports:` has. */
interface Parts {
  readonly federation: Federation;
  readonly placement: PlacementManager;
  readonly agent: AgentHost | null;
  nats: NatsBridge | null;
}

class Distributed implements Distribution {
  readonly #topology: Topology;
  readonly #site: DistributionSite;
  readonly #options: DistributionOptions;
  readonly #parts: Parts | null;
  /** A host agent's usage reports. */
  #timers: Timers | null = null;
  /** The root's lease, with a `leadership:` block. */
  #leader: Leader | null = null;
  /** Writes the placement table again now and then (with a `leadership:` block). */
  #resync: Timers | null = null;
  /** The lease term this root leads in (0: it does not lead). */
  #term = 0;
  /** Started as a standby, and has not led since. */
  #standingBy = false;

  constructor(topology: Topology, site: DistributionSite, options: DistributionOptions) {
    this.#topology = topology;
    this.#site = site;
    this.#options = options;
    const transports = topology.transports;
    if (!transports) {
      this.#parts = null;
      return;
    }
    const clock = options.clock ?? SYSTEM_CLOCK;
    const log = (level: "info" | "warn" | "error", message: string) =>
      site.log(level, message, "runtime");
    // With a standby root, agents hold a lost root's placements for the standby's take-over
    // (`standbyWait`): this root moves a lost agent's containers only after that hold, too.
    const hold = topology.leadership ? standbyWait(topology.leadership.ttl) : 0;
    const placement = new PlacementManager({
      send: (peer, env) =>
        federation.send(
          peer,
          env.k === "place" && this.#term && topology.leadership
            ? { ...env, l: { g: this.#leader?.group ?? "", t: this.#term, w: hold } }
            : env,
        ),
      liveInstances: (name) => federation.routes()[name]?.instances.length ?? 0,
      changed: () => {
        site.changed();
        // What is placed where, in the table beside the lease (written only while leading).
        this.#leader?.syncTable(placement.table());
      },
      log,
      logFrom: (level, message, source, trace) => site.log(level, message, source, trace),
      emit: (event) => site.emit(event),
    }, {
      policy: topology.placement,
      lease: transports.keepalive + hold,
      self: transports.name,
      clock,
    });
    const agent = options.agent ? this.#agentHost(options.agent, clock) : null;
    const federation: Federation = new Federation(site.hub, {
      spec: transports,
      transports: options.transports ?? new TransportSet(defaultTransports()),
      hosts: topology.hosts,
      clock,
      hooks: {
        ownNames: () => site.ownNames(),
        ownRoutes: () => site.ownRoutes(),
        changed: () => site.changed(),
        log: (level, message) => site.log(level, message, "runtime"),
        unreachable: (container, instance, silentFor) =>
          site.emit({ type: "unresponsive", container, instance, silentFor }),
        joinExtra: (peer) => agent?.joinExtra(peer) ?? {},
        joined: (peer, join) => {
          // A root with a lease fences nothing it does not lead for: what an agent still runs for
          // this root's name may be held for the standby (or for this root once it leads again).
          placement.joined(peer, join, !topology.leadership || this.#term !== 0);
          agent?.joined(peer);
        },
        lost: (peer, lastSeen) => {
          placement.lost(peer, lastSeen);
          agent?.lost(peer);
        },
        control: (peer, env) => {
          // (Before placement hears of it: what it changes then is published to that agent.)
          const placed = env.k === "placed" && env.ok;
          if (placed) federation.resend(peer);
          placement.control(peer, env);
          // Its routes for what it took (adopted: unchanged, so not sent again) are taken now.
          if (placed) federation.reconsider();
          agent?.control(peer, env);
        },
        sharedName: (name) => placement.has(name) || (agent?.runs(name) ?? false),
        acceptsRoute: (peer, name) => placement.acceptsRoute(peer, name),
        qualified: (name) => placement.spreads(name),
        // A root passes on to each agent where what it placed on the others runs: a container on
        // one agent reaches one on another by name, through this root's hub.
        relayed: () => this.#relayed(),
        relaysTo: (peer) => placement.isAgent(peer),
        relaysFrom: (peer, name) => agent?.placedBy(name) === peer,
        // A host agent's figures of what a root placed on it ride on its keepalive answers, and
        // its load goes with them: a root's metrics are as fresh as its keepalive.
        pinged: (peer) => {
          const names = agent?.names().filter((name) => agent.placerOf(name) === peer) ?? [];
          if (names.length === 0) return {};
          federation.send(peer, this.#load(peer));
          const m = site.figures?.(names);
          return m === undefined ? {} : { m };
        },
        pong: (peer, env) => {
          if (env.m === undefined) return;
          site.remoteFigures?.(peer, env.m, (name) => placement.placedOn(peer, name));
        },
      },
    });
    this.#parts = { federation, placement, agent, nats: null };
    if (agent && site.usage) {
      this.#timers = new Timers(clock);
      this.#timers.every(USAGE_INTERVAL, () => {
        for (const peer of agent.placers()) federation.send(peer, this.#load(peer));
      });
    }
  }

  standingBy(): boolean {
    return this.#standingBy;
  }

  async start(remote: readonly ContainerSpec[], local?: () => Promise<void>): Promise<void> {
    const parts = this.#parts;
    const transports = this.#topology.transports;
    if (!parts || !transports) return await local?.();
    await parts.federation.start();
    if (transports.nats) {
      // Loaded only here: a runtime without NATS (and every container isolate) never loads it.
      const { NatsBridge } = await import("./_nats.ts");
      const site = this.#site;
      parts.nats = new NatsBridge(site.hub, {
        spec: { ...transports, nats: transports.nats },
        app: this.#topology.name,
        clock: this.#options.clock,
        hooks: {
          ownRoutes: () => site.ownRoutes(),
          changed: () => site.changed(),
          log: (level, message) => site.log(level, message, "runtime"),
          unreachable: (container, instance, silentFor) =>
            site.emit({ type: "unresponsive", container, instance, silentFor }),
        },
      });
      await parts.nats.start();
    }
    // Remote containers: placed as agents link; start waits a while for that.
    const place = async () => {
      // A root taking over reads what its predecessor placed where, before it places anything.
      // Only its own containers' rows (the topology's, and what it placed since): never the
      // whole bucket, which anyone who may write it could fill.
      const table = await this.#leader?.loadTable([
        ...remote.map((spec) => spec.name),
        ...parts.placement.table().keys(),
      ]);
      if (remote.length === 0) return;
      // Every agent that is up gets a say (spread), not just the first to answer.
      await parts.federation.contacted(PLACEMENT_WAIT);
      await parts.placement.add(remote, PLACEMENT_WAIT, table);
    };
    const leadership = this.#topology.leadership;
    if (!leadership || this.#options.agent) {
      await local?.();
      return await place();
    }
    // A root with a lease places only while it leads; a standby places once it takes over.
    const log = (level: "info" | "warn" | "error", message: string) =>
      this.#site.log(level, message, "runtime");
    let starting = true;
    // Settled when a take-over after start has placed (or failed): a restarted root waits on it.
    let tookOver: PromiseWithResolvers<void> | null = null;
    const { startLeader } = await import("./_leader.ts");
    const leader = this.#leader = await startLeader(leadership, {
      name: transports.name,
      app: this.#topology.name,
      nats: transports.nats,
      clock: this.#options.clock,
      declared: (name) => this.#topology.containers.find((c) => c.name === name)?.replicas,
    }, {
      lead: (holder) => {
        this.#term = holder.term;
        if (starting) return;
        this.#standingBy = false;
        // Taking over: the local containers first (a cold standby ran none), then placing.
        (async () => {
          await local?.().catch((error: Error) => {
            const e = new UnavailableError(
              `this root took over but its local containers failed to start: ${error.message}`,
            );
            this.#site.fail?.(e);
            throw e;
          });
          await place();
          tookOver?.resolve();
        })().catch((e) => {
          log("error", `taking over failed: ${e.message}`);
          tookOver?.reject(e);
        });
      },
      stepDown: (error) => {
        this.#term = 0;
        // Stops placing and moving at once, before the lease can expire on the server.
        parts.placement.close();
        this.#site.fail?.(error);
      },
      log,
    });
    starting = false;
    // A table write that failed (the store slow or away) is tried again even when nothing changes.
    this.#resync = new Timers(this.#options.clock ?? SYSTEM_CLOCK);
    this.#resync.every(TABLE_RESYNC, () => leader.syncTable(parts.placement.table()));
    if (leader.acting()) {
      await local?.();
      return await place();
    }
    if (!this.#options.standby) {
      let holder = await leader.holder();
      if (holder === transports.name) {
        // Its own name: an earlier run of this root (killed, restarted at once) whose key expires
        // within the TTL. It waits for that like a standby, then leads and adopts what the agents
        // hold for it; if another root leads first, it fails as below.
        const wait = 2 * leadership.ttl + 1_000;
        log(
          "info",
          `the lease in bucket "${leadership.bucket}" is still held under this root's name (an earlier run of it): waiting up to ${wait} ms for it to expire`,
        );
        this.#standingBy = true;
        const taking = tookOver = Promise.withResolvers<void>();
        // On this runtime's clock, as every other wait here.
        const timers = new Timers(this.#options.clock ?? SYSTEM_CLOCK);
        const led = await new Promise<boolean>((resolve, reject) => {
          timers.after(wait, () => resolve(false));
          taking.promise.then(() => resolve(true), reject);
        }).finally(() => timers.clear());
        tookOver = null;
        if (led) return;
        this.#standingBy = false;
        holder = await leader.holder();
      }
      this.#resync.clear();
      await leader.close();
      this.#leader = null;
      throw new UnavailableError(
        `another root${
          holder ? ` ("${holder}")` : ""
        } holds the lease in bucket "${leadership.bucket}": start this one with kraken start --standby to take over when that root is lost`,
      );
    }
    this.#standingBy = true;
    log("info", `standing by: root "${(await leader.holder()) ?? "?"}" leads`);
  }

  async close(): Promise<void> {
    const parts = this.#parts;
    if (!parts) return;
    this.#timers?.clear();
    this.#resync?.clear();
    parts.placement.close();
    // Before the links close: the standby leads at its next look, not after the TTL.
    await this.#leader?.close();
    parts.agent?.close();
    await parts.federation.close();
    await parts.nats?.close();
  }

  routes(): RouteTable {
    const parts = this.#parts;
    if (!parts) return {};
    // Remote containers not serving now are held for; an agent's live routes replace that.
    return {
      ...parts.nats?.routes(),
      ...parts.placement.routes(),
      ...parts.federation.routes(),
    };
  }

  overlay(own: RouteTable): RouteTable {
    const outside = this.routes();
    const table = { ...outside, ...own };
    const agent = this.#parts?.agent;
    if (!agent) return table;
    // A group this agent runs of a container with groups elsewhere: its own first, the others'
    // while none of its own is live (`preferOwn`).
    for (const name of Object.keys(own)) {
      if (outside[name] && agent.runs(name)) table[name] = preferOwn(own[name], outside[name]);
    }
    return table;
  }

  /** The routes of what this root placed on agents (none on an agent), for the other agents. */
  #relayed(): RouteTable {
    const parts = this.#parts;
    // A standby relays nothing: what it would announce is the leader's to say.
    if (!parts || parts.agent || (this.#topology.leadership && !this.#leader?.acting())) return {};
    const all = { ...parts.placement.routes(), ...parts.federation.routes() };
    const table: RouteTable = {};
    for (const name of Object.keys(all)) if (parts.placement.has(name)) table[name] = all[name];
    return table;
  }

  announce(): void {
    this.#parts?.federation.publishOwn();
    this.#parts?.nats?.publishOwn();
  }

  place(spec: ContainerSpec): Promise<void> {
    if (!this.#parts) {
      // The validator refuses mode: remote without hosts:, and hosts: without transports:.
      throw new TopologyError(
        `container "${spec.name}" is remote, but this runtime has no transports: to place it`,
        { key: `containers.${spec.name}.mode` },
      );
    }
    this.#assertLeads(spec.name);
    return this.#parts.placement.update(spec);
  }

  unplace(name: string): Promise<void> {
    if (this.#parts) this.#assertLeads(name);
    return this.#parts?.placement.remove(name) ?? Promise.resolve();
  }

  rebalance(name: string): Promise<{ from: string; to: string } | undefined> {
    return this.#parts?.placement.rebalance(name) ?? Promise.resolve(undefined);
  }

  /** A root with a `leadership:` block places and stops only while it leads (never a standby). */
  #assertLeads(name: string): void {
    const leadership = this.#topology.leadership;
    if (!leadership || this.#options.agent || this.#leader?.acting()) return;
    throw new UnavailableError(
      `cannot place or stop remote container "${name}": this root does not hold the lease in bucket "${leadership.bucket}" (it is a standby, or lost the lease); do it on the root that leads`,
    );
  }

  snapshot(now?: number): DistributionSnapshot {
    const parts = this.#parts;
    if (!parts) return { listening: null, peers: [], remote: [] };
    const routed = parts.federation.routes();
    return {
      listening: parts.federation.listening,
      peers: [
        ...parts.federation.snapshot(now).map((peer) => {
          const load = parts.placement.loadOf(peer.name);
          return load ? { ...peer, load } : peer;
        }),
        ...(parts.nats?.snapshot(now) ?? []),
      ],
      remote: parts.placement.snapshot(now).map((p) => ({
        ...p,
        instances: routed[p.name]?.instances ?? [],
      })),
    };
  }

  forward(report: Forwarded): void {
    const parts = this.#parts;
    if (!parts?.agent) return;
    if (report.type === "log") {
      // On a host agent, what a placed container logs goes to the runtime that placed it too.
      const placer = parts.agent.placerOf(report.source.split("#")[0]);
      if (placer) {
        parts.federation.send(placer, {
          k: "log",
          l: report.level,
          m: report.message,
          c: report.source,
          ...(report.trace === undefined ? {} : { x: report.trace }),
        });
      }
      return;
    }
    if (report.type === "escalate") return;
    // What happens to a placed container is reported to the runtime that placed it (remote
    // supervision: restarted here, seen there).
    const placedBy = parts.agent.placerOf(report.container);
    if (!placedBy) return;
    const { type, container, instance } = report;
    parts.federation.send(placedBy, {
      k: "event",
      e: {
        type,
        container,
        instance,
        ...("incarnation" in report ? { incarnation: report.incarnation } : {}),
        ...("reason" in report ? { reason: report.reason } : {}),
        ...("delay" in report ? { delay: report.delay } : {}),
      },
    });
  }

  /** This runtime as a host agent: it runs what root runtimes place on it. */
  #agentHost(options: NonNullable<DistributionOptions["agent"]>, clock: Clock): AgentHost {
    const site = this.#site;
    const agent: AgentHost = new AgentHost(options, {
      run: async (spec) => {
        await site.run(spec);
        for (const peer of agent.placers()) this.#parts?.federation.send(peer, this.#load(peer));
      },
      stop: (name) => site.stop(name),
      // No `${VAR}` expansion: a root must not read this host's environment through a spec (an
      // expanded value would come back in an error message). The agent checks the grant itself.
      validate: (name, input) =>
        validateContainer(name, input, {
          baseUrl: this.#topology.baseUrl,
          env: () => undefined,
          fs: DENO_FS,
        }),
      send: (peer, env) => this.#parts?.federation.send(peer, env) ?? false,
      announce: (peer) => this.#parts?.federation.send(peer, { k: "routes", r: site.ownRoutes() }),
      log: (level, message) => site.log(level, message, "agent"),
    }, { clock });
    return agent;
  }

  /**
   * How loaded this host is, for a root's least_loaded placement, and what the instances it runs
   * for root `peer` use (only those: one root is not shown another's).
   */
  #load(peer: string): Envelope {
    const agent = this.#parts?.agent;
    const u = (this.#site.usage?.() ?? [])
      .filter((f) => agent?.placerOf(f.container) === peer)
      .slice(0, MAX_LIST_ITEMS)
      .map((f): [string, number | null, number | null] => [
        f.instance,
        f.memoryBytes,
        f.cpuPercent,
      ]);
    return { k: "load", c: this.#site.replicas(), m: Deno.memoryUsage().rss, u };
  }
}
