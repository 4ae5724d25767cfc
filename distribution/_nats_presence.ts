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
 * @module
 */
import { DEFAULTS } from "../config/topology.ts";
import type { LogLevel, RouteTable } from "../protocol/envelope.ts";
import type { Clock } from "./_clock.ts";
import type { PeerSnapshot } from "./types.ts";

/** Node id of NATS in the hub. */
export const NATS_NODE = "@nats";
/** Suffix of the pseudo-instance of a container reached over NATS (`<name>@nats`). */
export const NATS_SUFFIX = "@nats";
/** Runtimes gone for good kept in the tree. */
const GONE_KEPT = 64;

/** What presence tells its bridge. */
export interface PresenceHooks {
  /** Routes learnt over NATS changed: republish the table. */
  changed(): void;
  /** Logs a line. */
  log(level: LogLevel, message: string): void;
  /** A container whose runtime went silent (for supervision events). */
  unreachable(container: string, instance: string, silentFor: number): void;
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
 * const hooks = { changed() {}, log() {}, unreachable() {} };
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
  #routes: RouteTable = {};
  #routesText = "{}";

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
    if (p.o === this.#self || typeof p.o !== "string" || typeof p.n !== "string") return false;
    if (!Array.isArray(p.c) || p.c.some((c) => typeof c !== "string")) return false;
    const now = this.#clock.now();
    const keepalive = typeof p.k === "number" && p.k > 0 ? p.k : this.#keepalive;
    let peer = this.#peers.get(p.o);
    if (p.x === 1) {
      // Leaving: held for like a peer that went away, then dropped.
      if (peer && peer.state === "connected") {
        peer.state = "connecting";
        peer.since = now;
        this.#hooks.log("info", `runtime "${peer.name}" left NATS`);
        this.#recompute();
      }
      return false;
    }
    let newcomer = false;
    if (!peer) {
      // Its earlier incarnations are over.
      for (const [id, other] of this.#peers) {
        if (other.name === p.n && other.state !== "connected") this.#peers.delete(id);
      }
      peer = {
        id: p.o,
        name: p.n,
        containers: [],
        buffers: [],
        keepalive,
        state: "connecting",
        since: now,
        lastSeen: now,
      };
      this.#peers.set(p.o, peer);
      const count = `${p.c.length} container${p.c.length === 1 ? "" : "s"}`;
      this.#hooks.log("info", `runtime "${p.n}" seen on NATS (${count})`);
      newcomer = true;
    }
    peer.lastSeen = now;
    peer.keepalive = keepalive;
    peer.containers = p.c as string[];
    peer.buffers = Array.isArray(p.q) ? (p.q as unknown[]).map(Number) : [];
    if (peer.state !== "connected") {
      peer.state = "connected";
      peer.since = now;
    }
    this.#recompute();
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
    let changed = false;
    for (const peer of this.#peers.values()) {
      const expiry = 2 * peer.keepalive;
      if (peer.state === "connected" && now - peer.lastSeen > expiry) {
        peer.state = "connecting";
        peer.since = now;
        changed = true;
        const silentFor = Math.round(now - peer.lastSeen);
        this.#hooks.log("warn", `runtime "${peer.name}" silent on NATS for ${silentFor} ms: away`);
        for (const c of peer.containers) {
          this.#hooks.unreachable(c, `${c}${NATS_SUFFIX}`, silentFor);
        }
      } else if (peer.state === "connecting" && now - peer.since > expiry) {
        peer.state = "gone";
        peer.since = now;
        changed = true;
        this.#hooks.log("warn", `runtime "${peer.name}" gone from NATS; its containers dropped`);
      }
    }
    const gone = [...this.#peers.values()].filter((p) => p.state === "gone");
    for (const p of gone.slice(0, Math.max(0, gone.length - GONE_KEPT))) this.#peers.delete(p.id);
    if (changed) this.#recompute();
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
    return [...this.#peers.values()].some((p) =>
      p.state === "connected" && p.containers.includes(name)
    );
  }

  /** Containers run by other runtimes, reached through `@nats`. */
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

  /** The routing entries of containers reached over NATS; republished when they change. */
  #recompute(): void {
    const live = new Map<string, number>();
    const held = new Map<string, number>();
    for (const peer of this.#peers.values()) {
      if (peer.state === "gone") continue;
      const into = peer.state === "connected" ? live : held;
      peer.containers.forEach((c, n) => {
        const q = peer.buffers[n];
        into.set(c, Number.isInteger(q) && q >= 0 ? q : DEFAULTS.container.buffer);
      });
    }
    const table: RouteTable = {};
    for (const [name, q] of [...live].sort()) {
      table[name] = {
        balance: "round_robin",
        instances: [{ i: `${name}${NATS_SUFFIX}`, n: NATS_NODE }],
        q,
      };
    }
    for (const [name, q] of [...held].sort()) {
      if (!table[name]) table[name] = { balance: "round_robin", instances: [], w: 1, q };
    }
    const text = JSON.stringify(table);
    if (text === this.#routesText) return;
    this.#routes = table;
    this.#routesText = text;
    this.#hooks.changed();
  }
}
