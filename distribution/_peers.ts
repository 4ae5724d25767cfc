/**
 * The peer runtimes this runtime links with directly, and what time decides about them, on an
 * injected clock: a linked peer is pinged every beat and, once silent for `keepalive`, declared
 * unreachable and its link closed; a peer whose link is lost is away — its containers stay in the
 * table as restarting (`w`), so senders hold messages for them up to each container's buffer —
 * and, once away for twice its keepalive without coming back, gone (its containers dropped:
 * senders fail fast). The links themselves are `_federation.ts`'s; here they are only sent to and
 * closed.
 *
 * @module
 */
import { DEFAULTS } from "../config/topology.ts";
import type { Envelope, LogLevel, RouteTable } from "../protocol/envelope.ts";
import { mergeRoutes } from "../protocol/routes.ts";
import type { TimerHandle, Timers } from "./_clock.ts";
import type { PeerSnapshot } from "./types.ts";

/** What the table does to a peer's link: send on it, close it. */
export interface PeerLink {
  send(envelope: Envelope): void;
  close(): void;
}

/** What the table tells its federation. */
export interface PeerHooks {
  /** Peer routes changed: republish the table. */
  changed(): void;
  /** Logs a line. */
  log(level: LogLevel, message: string): void;
  /** An instance on a peer that became unreachable (for supervision events). */
  unreachable(container: string, instance: string, silentFor: number): void;
  /** A peer's link was lost; `lastSeen` is when it was last heard (on the table's clock). */
  lost(peer: string, lastSeen: number): void;
}

/** One peer runtime. */
export interface Peer {
  readonly name: string;
  /** Where it is dialed (absent for a peer that dialed in). */
  address?: string;
  link: PeerLink | null;
  state: PeerSnapshot["state"];
  since: number;
  lastSeen: number;
  routes: RouteTable;
  containers: string[];
  gone?: TimerHandle;
}

/**
 * The peers, their state and their routes.
 *
 * @example A silent peer is closed after its keepalive (clock moved by hand)
 * ```ts
 * import assert from "node:assert/strict";
 * import { Timers } from "./_clock.ts";
 * import { PeerTable } from "./_peers.ts";
 * let now = 0;
 * const timers = new Timers({ now: () => now, setTimer: () => 0, clearTimer: () => {} });
 * const hooks = { changed() {}, log() {}, unreachable() {}, lost() {} };
 * const peers = new PeerTable(1_000, hooks, timers);
 * let closed = false;
 * peers.linked("b", { send() {}, close: () => (closed = true) }, ["api"]);
 * now = 1_001;
 * peers.beat();
 * assert.equal(closed, true);
 * ```
 */
export class PeerTable {
  readonly #keepalive: number;
  readonly #hooks: PeerHooks;
  readonly #timers: Timers;
  readonly #peers = new Map<string, Peer>();
  #closed = false;

  /**
   * @param keepalive How long a linked peer may stay silent, ms; twice that away, it is gone.
   * @param hooks What the table tells its federation.
   * @param timers The clock (shared with the federation, which clears it on close).
   */
  constructor(keepalive: number, hooks: PeerHooks, timers: Timers) {
    this.#keepalive = keepalive;
    this.#hooks = hooks;
    this.#timers = timers;
  }

  /** Peer `name`, known from now on (connecting, until it links). */
  peer(name: string): Peer {
    let peer = this.#peers.get(name);
    if (!peer) {
      peer = {
        name,
        link: null,
        state: "connecting",
        since: this.#timers.now(),
        lastSeen: 0,
        routes: {},
        containers: [],
      };
      this.#peers.set(name, peer);
    }
    return peer;
  }

  /**
   * Why peer runtime `join.n` may not join (or `null`): it has our name, it is not who we dialed,
   * or it runs a container that this runtime (`own`) or another linked peer already runs —
   * unless `shared` says both may announce it (a placement being moved).
   */
  refusal(
    join: Extract<Envelope, { k: "join" }>,
    expected: string | undefined,
    context: { self: string; own: readonly string[]; shared: (name: string) => boolean },
  ): string | null {
    if (join.n === context.self) return `it has this runtime's own name "${join.n}"`;
    if (expected !== undefined && join.n !== expected) {
      return `expected "${expected}" at that address, got "${join.n}"`;
    }
    const mine = new Set(context.own);
    const clash = join.c.filter((c) => mine.has(c) && !context.shared(c));
    if (clash.length > 0) {
      return `both runtimes run ${
        clash.map((c) => `"${c}"`).join(", ")
      }; container names are unique across the application`;
    }
    for (const other of this.#peers.values()) {
      if (other.name === join.n || other.state === "gone") continue;
      const taken = join.c.filter((c) => other.containers.includes(c) && !context.shared(c));
      if (taken.length > 0) return `"${taken[0]}" already runs on runtime "${other.name}"`;
    }
    return null;
  }

  /** Peer `name` linked over `link` (replacing any earlier link) and runs `containers`. */
  linked(name: string, link: PeerLink, containers: string[]): Peer {
    const peer = this.peer(name);
    peer.link?.close();
    this.#timers.cancel(peer.gone);
    const now = this.#timers.now();
    peer.link = link;
    peer.state = "connected";
    peer.since = now;
    peer.lastSeen = now;
    peer.containers = containers;
    // Until the peer's routes arrive, its containers are known only by name: messages for them
    // wait (as for a restarting container) instead of failing with "no container named".
    const waiting: RouteTable = {};
    for (const container of containers) {
      const known = peer.routes[container];
      waiting[container] = {
        balance: known?.balance ?? "round_robin",
        instances: [],
        w: 1,
        q: known?.q ?? DEFAULTS.container.buffer,
      };
    }
    peer.routes = waiting;
    this.#hooks.changed();
    return peer;
  }

  /** Something arrived from `peer`: it is alive now. */
  heard(peer: Peer): void {
    peer.lastSeen = this.#timers.now();
  }

  /** `peer` announced `routes` (already cut to what it may announce, node ids under `@peer/`). */
  announced(peer: Peer, routes: RouteTable): void {
    peer.routes = routes;
    peer.containers = Object.keys(routes);
    this.#hooks.changed();
  }

  /**
   * `link` of `peer` closed. When it was the peer's current link, the peer is away: its
   * instances are reported unreachable and held for; it is gone after twice its keepalive unless
   * it links again. Returns whether it was the current link.
   */
  unlinked(peer: Peer, link: PeerLink): boolean {
    if (peer.link !== link) return false;
    peer.link = null;
    if (this.#closed) return true;
    const now = this.#timers.now();
    peer.state = "connecting";
    peer.since = now;
    this.#hooks.log("warn", `lost the link with runtime "${peer.name}"`);
    this.#hooks.lost(peer.name, peer.lastSeen);
    const silentFor = Math.round(now - peer.lastSeen);
    for (const [name, entry] of Object.entries(peer.routes)) {
      for (const inst of entry.instances) this.#hooks.unreachable(name, inst.i, silentFor);
    }
    // Away: its containers are held for, as if restarting, until it has been gone too long.
    const waiting: RouteTable = {};
    for (const [name, entry] of Object.entries(peer.routes)) {
      waiting[name] = { balance: entry.balance, instances: [], w: 1, q: entry.q };
    }
    peer.routes = waiting;
    this.#hooks.changed();
    peer.gone = this.#timers.after(this.#keepalive * 2, () => {
      if (peer.link) return;
      peer.state = "gone";
      peer.since = this.#timers.now();
      peer.routes = {};
      this.#hooks.changed();
    });
    return true;
  }

  /** Every beat: pings each linked peer; one silent for longer than keepalive is closed. */
  beat(): void {
    const now = this.#timers.now();
    for (const peer of this.#peers.values()) {
      if (!peer.link) continue;
      if (now - peer.lastSeen > this.#keepalive) {
        this.#hooks.log(
          "warn",
          `runtime "${peer.name}" silent for ${Math.round(now - peer.lastSeen)} ms: unreachable`,
        );
        peer.link.close();
        continue;
      }
      peer.link.send({ k: "ping" });
    }
  }

  /** The peers' routes, node ids under `@peer/`. */
  routes(): RouteTable {
    const table: RouteTable = {};
    // A live entry wins over a placeholder (a peer away, holding for a container that has
    // meanwhile moved to another runtime), whatever the order of the peers.
    for (const peer of this.#peers.values()) mergeRoutes(table, peer.routes);
    return table;
  }

  /** Sends `env` to peer `name`; false when it is not linked. */
  send(name: string, env: Envelope): boolean {
    const link = this.#peers.get(name)?.link;
    if (!link) return false;
    link.send(env);
    return true;
  }

  /** Sends `env` to every linked peer. */
  broadcast(env: Envelope): void {
    for (const peer of this.#peers.values()) peer.link?.send(env);
  }

  /** The peers, for the tree. */
  snapshot(now = this.#timers.now()): PeerSnapshot[] {
    return [...this.#peers.values()].map((p) => ({
      name: p.name,
      ...(p.address ? { address: p.address } : {}),
      state: p.state,
      since: Math.round(now - p.since),
      containers: p.containers,
    }));
  }

  /** Shutting down: a link that closes from now on changes nothing. */
  close(): void {
    this.#closed = true;
    for (const peer of this.#peers.values()) this.#timers.cancel(peer.gone);
  }
}
