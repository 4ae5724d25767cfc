/**
 * The peer runtimes this runtime links with directly, and what time decides about them, on an
 * injected clock: a linked peer is pinged every beat and, once silent for `keepalive`, declared
 * unreachable and its link closed; a peer whose link is lost is away — its containers stay in the
 * table as restarting (`w`), so senders hold messages for them up to each container's buffer —
 * and, once away for twice its keepalive without coming back, gone (its containers dropped:
 * senders fail fast). The links themselves are `_federation.ts`'s; here they are only sent to and
 * closed.
 *
 * It also decides who a name belongs to. A container name is the peer's that claimed it first (in
 * its `join`, or in its routes while no other peer held it) for as long as that peer is connected
 * or away; no other peer's routes for it are taken meanwhile, and a runtime name already linked
 * and heard from within its keepalive cannot be taken by a second link. Gone peers are forgotten
 * beyond the last {@linkcode GONE_KEPT}; names from peers are checked against the name pattern and
 * bounded in length.
 *
 * @module
 */
import { DEFAULTS, TOPOLOGY_PATTERNS } from "../config/topology.ts";
import type { Envelope, LogLevel, RouteTable } from "../protocol/envelope.ts";
import { mergeRoutes } from "../protocol/routes.ts";
import type { TimerHandle, Timers } from "./_clock.ts";
import type { PeerSnapshot } from "./types.ts";

/** Peers gone for good kept in the table (and the tree); older ones are forgotten. */
export const GONE_KEPT = 64;
/** Longest runtime or container name a peer may use. */
export const MAX_NAME_LENGTH = 128;
const NAME = new RegExp(TOPOLOGY_PATTERNS.name);

/**
 * What is wrong with a name a peer gave (a runtime's, or a container's), or `null`: the name
 * pattern of topologies (a letter, then letters, digits, `_`, `-`), at most
 * {@linkcode MAX_NAME_LENGTH} characters. A refusal quotes it escaped and cut short, so a name
 * cannot forge a log line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nameProblem } from "./_peers.ts";
 * assert.equal(nameProblem("runtime", "node-b"), null);
 * assert.match(nameProblem("runtime", "b\nERROR forged")!, /"b\\nERROR forged" is not a runtime name/);
 * ```
 */
export function nameProblem(kind: "runtime" | "container", name: string): string | null {
  if (name.length <= MAX_NAME_LENGTH && NAME.test(name)) return null;
  return `${
    quoteName(name)
  } is not a ${kind} name (a letter, then letters, digits, "_" or "-"; at most ${MAX_NAME_LENGTH} characters)`;
}

/** A name from a peer, quoted for a log line: escaped, and cut to 40 characters. */
export function quoteName(name: string): string {
  return JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name);
}

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
  /** A peer is gone: the container names it claimed are free for another peer's routes. */
  released?(): void;
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
  /** The containers it claims: named in its `join`, then those of its routes. */
  containers: Set<string>;
  /**
   * What it ran when it went (gone): shown in the tree, and reserved against this runtime's own
   * children spawning under those names, though another runtime may now claim them.
   */
  ran?: string[];
  gone?: TimerHandle;
  /** Why it refused this runtime's last link, as it said (cleared once linked). */
  refused?: string;
}

/** What a join is checked against (see {@linkcode PeerTable.refusal}). */
export interface JoinContext {
  /** This runtime's name. */
  self: string;
  /** This runtime's own container names. */
  own: ReadonlySet<string>;
  /** Whether two runtimes may both announce container `name` (a placement being moved). */
  shared: (name: string) => boolean;
  /**
   * Whether this new link may replace `current`, the live link of a peer of the same name (two
   * runtimes that dial each other keep one link: see `_federation.ts`). Default: never.
   */
  replaces?: (current: PeerLink) => boolean;
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
  /** How often {@linkcode PeerTable.beat} should run, ms: keepalive / 4, 10 ms–1 s. */
  readonly beatEvery: number;
  readonly #keepalive: number;
  readonly #hooks: PeerHooks;
  readonly #timers: Timers;
  readonly #peers = new Map<string, Peer>();
  /** Container name → the peers (connected or away) claiming it: usually one. */
  readonly #claims = new Map<string, Set<Peer>>();
  #lastBeat: number | undefined;
  /** The last beat was late and judged nobody. */
  #deferred = false;
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
    this.beatEvery = Math.max(10, Math.min(1_000, keepalive / 4));
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
        containers: new Set(),
      };
      this.#peers.set(name, peer);
    }
    return peer;
  }

  /**
   * Why peer runtime `join.n` may not join (or `null`): its name or a container name is not one;
   * it has our name, or is not who we dialed; a live link of that name was heard from within its
   * keepalive (a second link may take over only from a silent one); or it runs a container that
   * this runtime (`own`) or another peer (connected or away) already runs — unless `shared` says
   * both may announce it (a placement being moved).
   */
  refusal(
    join: Extract<Envelope, { k: "join" }>,
    expected: string | undefined,
    context: JoinContext,
  ): string | null {
    const badName = nameProblem("runtime", join.n);
    if (badName !== null) return `its name ${badName}`;
    if (join.n === context.self) return `it has this runtime's own name "${join.n}"`;
    if (expected !== undefined && join.n !== expected) {
      return `expected "${expected}" at that address, got "${join.n}"`;
    }
    for (const c of join.c) {
      const problem = nameProblem("container", c);
      if (problem !== null) return `it lists ${problem}`;
    }
    const current = this.#peers.get(join.n);
    if (current?.link) {
      const silentFor = Math.round(this.#timers.now() - current.lastSeen);
      if (silentFor <= this.#keepalive && !context.replaces?.(current.link)) {
        return `runtime "${join.n}" is already linked and was heard ${silentFor} ms ago; a second link under its name is refused`;
      }
    }
    const clash = join.c.filter((c) => context.own.has(c) && !context.shared(c));
    if (clash.length > 0) {
      return `both runtimes run ${
        clash.slice(0, 5).map((c) => `"${c}"`).join(", ")
      }; container names are unique across the application`;
    }
    for (const c of join.c) {
      const other = this.claimant(c, join.n);
      if (other !== undefined && !context.shared(c)) {
        return `"${c}" already runs on runtime "${other}"`;
      }
    }
    return null;
  }

  /** A peer other than `except` claiming container `name` (connected or away), if any. */
  claimant(name: string, except: string): string | undefined {
    const claims = this.#claims.get(name);
    if (!claims) return undefined;
    for (const peer of claims) if (peer.name !== except) return peer.name;
    return undefined;
  }

  /** Peer `name` linked over `link` (replacing any earlier link) and runs `containers`. */
  linked(name: string, link: PeerLink, containers: readonly string[]): Peer {
    const peer = this.peer(name);
    peer.link?.close();
    this.#timers.cancel(peer.gone);
    const now = this.#timers.now();
    peer.link = link;
    peer.state = "connected";
    peer.since = now;
    peer.lastSeen = now;
    peer.ran = undefined;
    peer.refused = undefined;
    this.#claim(peer, new Set(containers));
    // Until the peer's routes arrive, its containers are known only by name: messages for them
    // wait (as for a restarting container) instead of failing with "no container named".
    const waiting: RouteTable = {};
    for (const container of peer.containers) {
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
    this.#claim(peer, new Set(Object.keys(routes)));
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
      // Its names are free again: another runtime may now run them.
      peer.ran = [...peer.containers];
      this.#claim(peer, new Set());
      this.#forgetGone();
      this.#hooks.released?.();
      this.#hooks.changed();
    });
    return true;
  }

  /**
   * Every beat: pings each linked peer; one silent for longer than keepalive is closed. Silence
   * is judged by when frames were received: a beat that comes late (this isolate was busy, and
   * what arrived meanwhile is not read yet) only pings, and the next beat judges, late or not.
   */
  beat(): void {
    const now = this.#timers.now();
    const late = this.#lastBeat !== undefined && now - this.#lastBeat > 2 * this.beatEvery;
    this.#lastBeat = now;
    // Deferred once only: a thread kept busy for ever must not keep a silent peer (and what it
    // placed on an agent) alive for ever.
    const judge = !late || this.#deferred;
    this.#deferred = late && !this.#deferred;
    for (const peer of this.#peers.values()) {
      if (!peer.link) continue;
      if (judge && now - peer.lastSeen > this.#keepalive) {
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

  /** The peers linked now. */
  linkedPeers(): Peer[] {
    return [...this.#peers.values()].filter((peer) => peer.link !== null);
  }

  /** The peers, for the tree. */
  snapshot(now = this.#timers.now()): PeerSnapshot[] {
    return [...this.#peers.values()].map((p) => ({
      name: p.name,
      ...(p.address ? { address: p.address } : {}),
      state: p.state,
      since: Math.round(now - p.since),
      ...(p.refused !== undefined && p.state !== "connected" ? { refused: p.refused } : {}),
      containers: p.state === "gone" ? [...p.ran ?? []] : [...p.containers],
    }));
  }

  /** Shutting down: a link that closes from now on changes nothing. */
  close(): void {
    this.#closed = true;
    for (const peer of this.#peers.values()) this.#timers.cancel(peer.gone);
  }

  /** `peer` now claims exactly `names` (O(names), whatever the number of peers). */
  #claim(peer: Peer, names: Set<string>): void {
    for (const name of peer.containers) {
      if (names.has(name)) continue;
      const claims = this.#claims.get(name);
      claims?.delete(peer);
      if (claims?.size === 0) this.#claims.delete(name);
    }
    for (const name of names) {
      if (peer.containers.has(name)) continue;
      const claims = this.#claims.get(name);
      if (claims) claims.add(peer);
      else this.#claims.set(name, new Set([peer]));
    }
    peer.containers = names;
  }

  /** Forgets the oldest gone peers beyond {@linkcode GONE_KEPT} (never a `hosts:` entry). */
  #forgetGone(): void {
    const gone = [...this.#peers.values()].filter((p) => p.state === "gone" && !p.address);
    if (gone.length <= GONE_KEPT) return;
    gone.sort((a, b) => a.since - b.since);
    for (const peer of gone.slice(0, gone.length - GONE_KEPT)) this.#peers.delete(peer.name);
  }
}
