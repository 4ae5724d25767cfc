/**
 * Presence over NATS: the runtimes this one hears announce themselves, and what time decides
 * about them, on an injected clock. A runtime announces its containers every keepalive / 2; one
 * silent for twice its keepalive is away (its containers are held for, `w`, as for a restarting
 * container, and reported unreachable), and after twice its keepalive more it is gone (its
 * containers are dropped: senders fail at once). A runtime that leaves says so and is away at
 * once. While this runtime itself is cut off from NATS it hears nobody, which says nothing about
 * the others: nobody expires then, and everyone gets a fresh grace once it is back.
 *
 * To the hub, every container announced by another runtime is one routing-table entry whose
 * single pseudo-instance `<name>@nats` lives on node `@nats`.
 *
 * An announcement is untrusted input, bounded before it is kept: its keepalive and buffers are
 * clamped ({@linkcode PRESENCE_LIMITS}), one listing more than 10,000 containers or a name that is
 * not a container name, one that would bring the table past 10,000 names, or a runtime beyond the
 * 1,000 kept is refused (the hook counts it). The
 * routing table is kept up to date name by name: an announcement costs what it lists (nothing
 * more when it lists what the last one did), never a pass over every name announced.
 *
 * @module
 */
import { DEFAULTS, TOPOLOGY_PATTERNS } from "../config/topology.ts";
import type { LogLevel, RouteTable } from "../protocol/envelope.ts";
import type { Clock } from "./_clock.ts";
import type { PeerSnapshot } from "./types.ts";

/** Node id of NATS in the hub. */
export const NATS_NODE = "@nats";
/** Suffix of the pseudo-instance of a container reached over NATS (`<name>@nats`). */
export const NATS_SUFFIX = "@nats";

/**
 * What an announcement may say, and how much of it is kept.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PRESENCE_LIMITS } from "./_nats_presence.ts";
 * assert.equal(PRESENCE_LIMITS.names, 10_000);
 * ```
 */
export const PRESENCE_LIMITS = Object.freeze({
  /** Container names one announcement may list. */
  names: 10_000,
  /**
   * Different container names in the routing table learnt over NATS: every change of the table
   * is handed whole to each isolate of the runtime, so it is kept small (an announcement that
   * would pass it is refused).
   */
  entries: 10_000,
  /** Container names listed over all runtimes kept (replicas count once per runtime). */
  total: 100_000,
  /** Runtimes kept that are not gone (a newcomer beyond is refused). */
  runtimes: 1_000,
  /** Runtimes gone for good still shown in the tree. */
  gone: 64,
  /** Longest container or runtime name, characters. */
  nameLength: 256,
  /** An announced keepalive is taken within these bounds, ms. */
  keepalive: Object.freeze({ min: 100, max: 10 * 60_000 }),
  /** An announced buffer is taken up to this. */
  buffer: 10_000,
});

const NAME = new RegExp(TOPOLOGY_PATTERNS.name);
/** A runtime incarnation's id. */
const ID = /^[A-Za-z0-9_-]{1,64}$/;

/** One container's entry in a routing table. */
type RouteEntry = RouteTable[string];

/** What presence tells its bridge. */
export interface PresenceHooks {
  /** Routes learnt over NATS changed: republish the table. */
  changed(): void;
  /** Logs a line. */
  log(level: LogLevel, message: string): void;
  /** A container whose runtime went silent (for supervision events). */
  unreachable(container: string, instance: string, silentFor: number): void;
  /** An announcement refused (counted against NATS), and why. */
  refused(problem: string): void;
}

/** A runtime seen over NATS. */
interface NatsPeer {
  readonly id: string;
  name: string;
  containers: string[];
  buffers: number[];
  keepalive: number;
  state: PeerSnapshot["state"];
  since: number;
  lastSeen: number;
}

/**
 * The runtimes seen over NATS.
 *
 * @example A silent runtime is away after twice its keepalive (clock moved by hand)
 * ```ts
 * import assert from "node:assert/strict";
 * import { NatsPresence } from "./_nats_presence.ts";
 * let now = 0;
 * const clock = { now: () => now, setTimer: () => 0, clearTimer: () => {} };
 * const hooks = { changed() {}, log() {}, unreachable() {}, refused() {} };
 * const presence = new NatsPresence({ self: "me", keepalive: 1_000, hooks, clock });
 * presence.heard({ o: "b1", n: "b", c: ["api"], q: [10], k: 1_000 });
 * now = 2_001;
 * presence.beat(true);
 * assert.equal(presence.snapshot()[0].state, "connecting");
 * assert.equal(presence.routes().api.w, 1);
 * ```
 */
export class NatsPresence {
  readonly #self: string;
  readonly #keepalive: number;
  readonly #hooks: PresenceHooks;
  readonly #clock: Clock;
  readonly #peers = new Map<string, NatsPeer>();
  /** For each container name, the runtimes (not gone) that announce it, with its buffer there. */
  readonly #announcers = new Map<string, Map<NatsPeer, number>>();
  /** Names whose routing entry may have changed since it was last computed. */
  readonly #dirty = new Set<string>();
  readonly #routes: RouteTable = {};
  /** Runtimes kept that are not gone, and names listed over all runtimes kept. */
  #live = 0;
  #total = 0;

  /**
   * @param options `self`: this runtime incarnation's id (its own announcements are ignored);
   *   `keepalive`: assumed for a runtime that announces none; the hooks and the clock.
   */
  constructor(
    options: { self: string; keepalive: number; hooks: PresenceHooks; clock: Clock },
  ) {
    this.#self = options.self;
    this.#keepalive = options.keepalive;
    this.#hooks = options.hooks;
    this.#clock = options.clock;
  }

  /**
   * A presence announcement `{o, n, c, q, k, x?}` (already decoded; checked here).
   * @returns `true` when it is from a runtime not seen before (it should hear from us at once).
   */
  heard(p: Record<string, unknown>): boolean {
    if (p.o === this.#self) return false;
    let peer = typeof p.o === "string" ? this.#peers.get(p.o) : undefined;
    const problem = this.#problem(p, peer);
    if (problem !== null) {
      this.#hooks.refused(`a presence announcement: ${problem}`);
      return false;
    }
    const id = p.o as string;
    const now = this.#clock.now();
    if (p.x === 1) {
      // Leaving: held for like a peer that went away, then dropped.
      if (peer && peer.state === "connected") {
        this.#hooks.log("info", `runtime "${peer.name}" left NATS`);
        this.#become(peer, "connecting", now);
        this.#flush();
      }
      return false;
    }
    const containers = p.c as string[];
    const buffers = containers.map((_, n) => clampBuffer((p.q as unknown[] | undefined)?.[n]));
    let newcomer = false;
    if (!peer) {
      // Its earlier incarnations are over.
      for (const other of this.#peers.values()) {
        if (other.name === p.n && other.state !== "connected") this.#forget(other);
      }
      peer = {
        id,
        name: p.n as string,
        containers: [],
        buffers: [],
        keepalive: this.#keepalive,
        state: "gone",
        since: now,
        lastSeen: now,
      };
      this.#peers.set(id, peer);
      const count = `${containers.length} container${containers.length === 1 ? "" : "s"}`;
      this.#hooks.log("info", `runtime "${peer.name}" seen on NATS (${count})`);
      newcomer = true;
    }
    peer.lastSeen = now;
    peer.keepalive = clampKeepalive(p.k, this.#keepalive);
    if (peer.state !== "connected") this.#become(peer, "connected", now);
    this.#list(peer, containers, buffers);
    this.#flush();
    return newcomer;
  }

  /**
   * Every beat: a runtime silent for twice its keepalive is away, one away for twice its
   * keepalive more is gone. `connected`: whether this runtime hears NATS now (if not, nobody
   * expires).
   */
  beat(connected: boolean): void {
    if (!connected) return; // Disconnected ourselves, we hear nobody: that says nothing about them.
    const now = this.#clock.now();
    let gone = 0;
    for (const peer of this.#peers.values()) {
      const expiry = 2 * peer.keepalive;
      if (peer.state === "connected" && now - peer.lastSeen > expiry) {
        const silentFor = Math.round(now - peer.lastSeen);
        this.#hooks.log("warn", `runtime "${peer.name}" silent on NATS for ${silentFor} ms: away`);
        this.#become(peer, "connecting", now);
        for (const c of peer.containers) {
          this.#hooks.unreachable(c, `${c}${NATS_SUFFIX}`, silentFor);
        }
      } else if (peer.state === "connecting" && now - peer.since > expiry) {
        this.#hooks.log("warn", `runtime "${peer.name}" gone from NATS; its containers dropped`);
        this.#become(peer, "gone", now);
      }
      if (peer.state === "gone") gone++;
    }
    for (const peer of this.#peers.values()) {
      if (gone <= PRESENCE_LIMITS.gone) break;
      if (peer.state === "gone") {
        this.#forget(peer);
        gone--;
      }
    }
    this.#flush();
  }

  /** This runtime is back on NATS: our own outage is not the peers' silence; they get a grace. */
  reconnected(): void {
    const now = this.#clock.now();
    for (const peer of this.#peers.values()) {
      if (peer.state !== "gone") peer.lastSeen = Math.max(peer.lastSeen, now);
    }
  }

  /** Whether a runtime that is connected now announces container `name`. */
  announces(name: string): boolean {
    for (const peer of this.#announcers.get(name)?.keys() ?? []) {
      if (peer.state === "connected") return true;
    }
    return false;
  }

  /** Whether runtime incarnation `id` (connected or away, not gone) announces container `name`. */
  announcedBy(id: string, name: string): boolean {
    const peer = this.#peers.get(id);
    return peer !== undefined && (this.#announcers.get(name)?.has(peer) ?? false);
  }

  /** Containers run by other runtimes, reached through `@nats` (the caller must not change it). */
  routes(): RouteTable {
    return this.#routes;
  }

  /** The runtimes seen, for the tree. */
  snapshot(now = this.#clock.now()): PeerSnapshot[] {
    return [...this.#peers.values()].map((p) => ({
      name: p.name,
      address: `nats:${p.id}`,
      state: p.state,
      since: Math.round(now - p.since),
      containers: p.containers,
    }));
  }

  /** Why announcement `p` (from `peer`, if known) is refused, or `null`. */
  #problem(p: Record<string, unknown>, peer: NatsPeer | undefined): string | null {
    if (typeof p.o !== "string" || !ID.test(p.o)) {
      return `field "o" (the runtime's id) is ${
        quote(p.o)
      }, expected 1 to 64 letters, digits, _ or -`;
    }
    if (!isName(p.n)) {
      return `field "n" (the runtime's name) is ${quote(p.n)}, expected a runtime name`;
    }
    if (p.x === 1) return null;
    const c = p.c;
    if (!Array.isArray(c)) return `field "c" is ${quote(c)}, expected a list of container names`;
    if (c.length > PRESENCE_LIMITS.names) {
      return `runtime "${p.n}" lists ${c.length} containers, more than ${PRESENCE_LIMITS.names}`;
    }
    // What the last announcement listed was checked then: the usual case costs a comparison.
    if (!peer || !sameList(peer.containers, c)) {
      const seen = new Set<string>();
      let added = 0;
      for (let n = 0; n < c.length; n++) {
        if (!isName(c[n])) {
          return `field "c[${n}]" is ${quote(c[n])}, expected a container name`;
        }
        if (seen.has(c[n])) return `field "c" lists container "${c[n]}" twice`;
        seen.add(c[n]);
        if (!this.#announcers.has(c[n])) added++;
      }
      const entries = this.#announcers.size + added;
      if (added > 0 && entries > PRESENCE_LIMITS.entries) {
        return `runtime "${p.n}" would bring the containers reached over NATS to ${entries}, more than ${PRESENCE_LIMITS.entries}`;
      }
    }
    if (p.q !== undefined && !Array.isArray(p.q)) {
      return `field "q" is ${quote(p.q)}, expected a list of buffer sizes`;
    }
    const kept = this.#total - (peer?.containers.length ?? 0) + c.length;
    if (kept > PRESENCE_LIMITS.total && !this.#room(kept - PRESENCE_LIMITS.total)) {
      return `runtime "${p.n}" would bring the container names kept to ${kept}, more than ${PRESENCE_LIMITS.total}`;
    }
    if (!peer && this.#live >= PRESENCE_LIMITS.runtimes) {
      return `runtime "${p.n}" is one more than the ${PRESENCE_LIMITS.runtimes} runtimes kept`;
    }
    return null;
  }

  /** Forgets runtimes gone for good, oldest first, until `names` names are freed. */
  #room(names: number): boolean {
    for (const peer of this.#peers.values()) {
      if (names <= 0) break;
      if (peer.state !== "gone") continue;
      names -= peer.containers.length;
      this.#forget(peer);
    }
    return names <= 0;
  }

  /** `peer` now lists `containers` with `buffers`: only the names that changed are touched. */
  #list(peer: NatsPeer, containers: string[], buffers: number[]): void {
    if (sameList(peer.containers, containers) && sameList(peer.buffers, buffers)) return;
    const listed = peer.state === "gone" ? null : new Map<string, number>();
    if (listed) containers.forEach((c, n) => listed.set(c, buffers[n]));
    for (const c of peer.containers) {
      if (!listed?.has(c)) this.#unlist(peer, c);
    }
    for (const [c, q] of listed ?? []) {
      let announcers = this.#announcers.get(c);
      if (!announcers) this.#announcers.set(c, announcers = new Map());
      if (announcers.get(peer) === q) continue;
      announcers.set(peer, q);
      this.#dirty.add(c);
    }
    this.#total += containers.length - peer.containers.length;
    peer.containers = containers;
    peer.buffers = buffers;
  }

  #unlist(peer: NatsPeer, name: string): void {
    const announcers = this.#announcers.get(name);
    if (!announcers?.delete(peer)) return;
    if (announcers.size === 0) this.#announcers.delete(name);
    this.#dirty.add(name);
  }

  /** Moves `peer` to `state`: its names' entries change (a runtime gone announces nothing). */
  #become(peer: NatsPeer, state: PeerSnapshot["state"], now: number): void {
    if (peer.state !== "gone") this.#live--;
    if (state !== "gone") this.#live++;
    const wasGone = peer.state === "gone";
    peer.state = state;
    peer.since = now;
    if (state === "gone") {
      for (const c of peer.containers) this.#unlist(peer, c);
    } else if (wasGone) {
      // Back from gone (a newcomer starts there): its names are announced again.
      const containers = peer.containers;
      const buffers = peer.buffers;
      peer.containers = [];
      peer.buffers = [];
      this.#total -= containers.length;
      this.#list(peer, containers, buffers);
    } else {
      for (const c of peer.containers) this.#dirty.add(c);
    }
  }

  #forget(peer: NatsPeer): void {
    if (peer.state !== "gone") this.#become(peer, "gone", peer.since);
    this.#total -= peer.containers.length;
    this.#peers.delete(peer.id);
  }

  /** Recomputes the entries of the names that may have changed; republishes if one did. */
  #flush(): void {
    let changed = false;
    for (const name of this.#dirty) {
      const before = this.#routes[name];
      const after = entryFor(name, this.#announcers.get(name));
      if (sameEntry(before, after)) continue;
      changed = true;
      if (after) this.#routes[name] = after;
      else delete this.#routes[name];
    }
    this.#dirty.clear();
    if (changed) this.#hooks.changed();
  }
}

/**
 * The entry of container `name`: live while a connected runtime announces it, held for (`w`)
 * while only runtimes away do, absent otherwise. Its buffer is the largest those runtimes announce.
 */
function entryFor(name: string, announcers: Map<NatsPeer, number> | undefined): RouteEntry | null {
  let live = -1;
  let held = -1;
  for (const [peer, q] of announcers ?? []) {
    if (peer.state === "connected") live = Math.max(live, q);
    else if (peer.state === "connecting") held = Math.max(held, q);
  }
  if (live >= 0) {
    return {
      balance: "round_robin",
      instances: [{ i: `${name}${NATS_SUFFIX}`, n: NATS_NODE }],
      q: live,
    };
  }
  return held >= 0 ? { balance: "round_robin", instances: [], w: 1, q: held } : null;
}

function sameEntry(a: RouteEntry | undefined, b: RouteEntry | null): boolean {
  if (!a || !b) return !a && !b;
  return a.q === b.q && a.w === b.w && a.instances.length === b.instances.length;
}

function sameList(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isName(value: unknown): value is string {
  return typeof value === "string" && value.length <= PRESENCE_LIMITS.nameLength &&
    NAME.test(value);
}

function clampBuffer(q: unknown): number {
  if (typeof q !== "number" || !Number.isInteger(q) || q < 0) return DEFAULTS.container.buffer;
  return Math.min(q, PRESENCE_LIMITS.buffer);
}

function clampKeepalive(k: unknown, fallback: number): number {
  if (typeof k !== "number" || !(k > 0)) return fallback;
  const { min, max } = PRESENCE_LIMITS.keepalive;
  return Math.min(max, Math.max(min, k));
}

/** A value as a refusal quotes it: its kind, or a short text. */
function quote(value: unknown): string {
  if (typeof value === "string") {
    return value.length > 40 ? `a ${value.length}-character text` : JSON.stringify(value);
  }
  if (Array.isArray(value)) return `a list of ${value.length}`;
  return value === null ? "null" : typeof value === "object" ? "a map" : String(value);
}
