/**
 * Several runtimes, one application: this runtime's links to its peer runtimes. It listens where
 * `transports.listen` says and dials every `hosts:` entry (re-dialing with backoff when a link is
 * lost, not while that host is linked over a link it dialed itself). Each link is authenticated
 * (`transports/`), then both sides introduce themselves (`join`: name and containers) — the
 * dialer first; the listener answers only once it accepted the dialer's introduction, so a runtime
 * it refuses learns nothing of it but why, told in terms of what it said itself (`refused`) — and
 * the hub treats the peer as node `@name`: the peer's
 * containers join the routing table with node ids under `@name/`, so `ref(name).request()` reaches
 * them unchanged.
 *
 * Names are unauthenticated beyond the shared secret: what keeps one secret holder from acting as
 * another is that a name already linked and heard from cannot be taken by a second link, and a
 * container name belongs to the peer that claimed it while that peer is connected or away
 * (`_peers.ts`). Two runtimes that dial each other keep one link: the one dialed by the runtime
 * whose name sorts first (a link this runtime dialed to the configured address of a host is the
 * only kind that may replace a live one).
 *
 * What time decides about the peers (unreachable after `keepalive` of silence, held for while
 * away, gone after twice their keepalive) is `_peers.ts`'s; the redial backoff is
 * {@linkcode redialDelay}; both run on the injected clock.
 *
 * @module
 */
import type { TransportsSpec } from "../config/topology.ts";
import type { Envelope, LogLevel, RouteTable } from "../protocol/envelope.ts";
import { envelopeProblem } from "../protocol/envelope_check.ts";
import type { Link } from "../transports/link.ts";
import type { Listener } from "../transports/transport.ts";
import type { TransportSet } from "../transports/transport_set.ts";
import { type Clock, SYSTEM_CLOCK, Timers } from "./_clock.ts";
import { type Peer, type PeerLink, PeerTable, quoteName } from "./_peers.ts";
import { relayedFor } from "./_relay.ts";
import { cutAnnounced } from "./_peer_routes.ts";
import type { Hub, PeerSnapshot } from "./types.ts";

/** What the federation needs from its runtime. */
export interface FederationHooks {
  /** The names of the containers this runtime runs. */
  ownNames(): string[];
  /** The routes of this runtime's own containers (never the peers'). */
  ownRoutes(): RouteTable;
  /** Peer routes changed: republish the table. */
  changed(): void;
  /** Logs a line (never with the secret). */
  log(level: LogLevel, message: string): void;
  /** An instance on a peer that became unreachable (presence, for supervision events). */
  unreachable(container: string, instance: string, silentFor: number): void;
  /**
   * Extra fields of this runtime's `join` to peer `peer` (a host agent says what it offers and
   * what it runs for that peer).
   */
  joinExtra?(peer: string): Partial<Extract<Envelope, { k: "join" }>>;
  /** A peer linked (after its introduction was accepted). */
  joined?(peer: string, join: Extract<Envelope, { k: "join" }>): void;
  /** A peer's link was lost; `lastSeen` is when it was last heard (on the federation's clock). */
  lost?(peer: string, lastSeen: number): void;
  /** A control envelope the federation itself does not handle (placements). */
  control?(peer: string, env: Envelope): void;
  /**
   * Peer `peer` pinged this runtime: what the answering pong carries besides itself (a host
   * agent: the figures of what it runs for that peer; it sends its load then too, so both come
   * at the keepalive's pace).
   */
  pinged?(peer: string): { m?: unknown };
  /** A peer's answer to a keepalive ping (untrusted, like everything a peer sends). */
  pong?(peer: string, env: Extract<Envelope, { k: "pong" }>): void;
  /** Whether two runtimes may both announce container `name` (a placement being moved). */
  sharedName?(name: string): boolean;
  /** Whether `peer`'s routes for `name` are taken (a stale placement's are not). */
  acceptsRoute?(peer: string, name: string): boolean;
  /**
   * Whether container `name` runs on several peers under the same instance ids (a spread
   * placement's groups): its ids are then told apart here as `id@peer`, and put back as the
   * peer knows them on the way to it.
   */
  qualified?(name: string): boolean;
  /**
   * Routes learned from peers that this runtime passes on to its other peers (a root: those of
   * the containers it placed on agents, node ids under `@agent/`); each peer gets them without
   * its own instances (`_relay.ts`).
   */
  relayed?(): RouteTable;
  /** Whether `peer` gets the `relayed` routes (a host agent of this root; not another runtime). */
  relaysTo?(peer: string): boolean;
  /**
   * Whether `peer` may announce container `name` although this runtime runs it (a host agent:
   * the root that placed it here tells where its other groups run).
   */
  relaysFrom?(peer: string, name: string): boolean;
}

/** How a federation is made. */
export interface FederationOptions {
  /** The validated `transports:` block. */
  spec: TransportsSpec;
  /** The transports it listens and dials with (the runtime's set). */
  transports: TransportSet;
  /** The runtimes to dial, by name. */
  hosts: Record<string, { address: string }>;
  /** What the runtime provides. */
  hooks: FederationHooks;
  /** Time for keepalives, redials and introductions (default: this isolate's). */
  clock?: Clock;
}

const REDIAL_MIN = 100;
const REDIAL_MAX = 5_000;

/**
 * How long to wait before the next dial of a peer: `null` before the first redial; then doubling
 * from 100 ms up to 5 s, and back to 100 ms after a dial that ended in a real join — both sides
 * accepted each other's introduction (a peer that keeps refusing us — wrong name, a clash — is not
 * redialed ten times a second).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { redialDelay } from "./_federation.ts";
 * assert.equal(redialDelay(null, false), 100);
 * assert.equal(redialDelay(100, false), 200);
 * assert.equal(redialDelay(4_000, false), 5_000);
 * assert.equal(redialDelay(5_000, true), 100);
 * ```
 */
export function redialDelay(previous: number | null, joined: boolean): number {
  if (previous === null || joined) return REDIAL_MIN;
  return Math.min(REDIAL_MAX, previous * 2);
}

/** The longest refusal reason kept from a peer, characters. */
const MAX_REASON = 300;

/**
 * A refusal as the refused dialer `dialer` is told it: other runtimes' names (which may hold a
 * claim on its containers) become "another runtime"; its own stays.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { forDialer } from "./_federation.ts";
 * assert.equal(
 *   forDialer('"frontend" already runs on runtime "root-a"', "root-b"),
 *   '"frontend" already runs on another runtime',
 * );
 * ```
 */
export function forDialer(problem: string, dialer: string): string {
  return problem.replace(
    /runtime "((?:[^"\\]|\\.)*)"/g,
    (all, name: string) => name === dialer ? all : "another runtime",
  );
}

/** A reason a peer gave (untrusted): one line, control characters escaped, cut short. */
function quoteReason(reason: string): string {
  // deno-lint-ignore no-control-regex
  const line = reason.replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1));
  return line.length > MAX_REASON ? `${line.slice(0, MAX_REASON)}…` : line;
}

/** This runtime's links to the other runtimes of its application. */
export class Federation {
  readonly #hub: Hub;
  readonly #spec: TransportsSpec;
  readonly #hosts: Record<string, { address: string }>;
  readonly #hooks: FederationHooks;
  readonly #transports: TransportSet;
  readonly #timers: Timers;
  /** Refusals from links not yet introduced since the last line about them. */
  #refusals = { loggedAt: -Infinity, count: 0 };
  readonly #peers: PeerTable;
  readonly #links = new Set<Link>();
  /** Links this runtime dialed (to a `hosts:` address), as opposed to links it accepted. */
  readonly #dialed = new WeakSet<object>();
  /** The current link of each linked peer (to wait on before dialing it again). */
  readonly #current = new Map<string, Link>();
  #listener: Listener | null = null;
  /**
   * The last routes of each linked peer of which something was left out that may be taken later:
   * a name another peer claimed (e.g. a new leading root's, while the lost one's claim lasts), or
   * one not placed on it from here yet (an agent a new leading root adopts from). Judged again
   * once that peer is gone, or the placement changed (`reconsider`).
   */
  readonly #later = new Map<string, unknown>();
  /** The routes last sent to each peer (each gets its own: what is relayed leaves out its own). */
  readonly #lastSent = new Map<string, string>();
  #closed = false;
  readonly #dialers: Promise<void>[] = [];
  #firstContact: Promise<void> = Promise.resolve();

  constructor(hub: Hub, options: FederationOptions) {
    this.#hub = hub;
    this.#spec = options.spec;
    this.#hosts = options.hosts;
    this.#hooks = options.hooks;
    this.#transports = options.transports;
    this.#timers = new Timers(options.clock ?? SYSTEM_CLOCK);
    const hooks = options.hooks;
    this.#peers = new PeerTable(options.spec.keepalive, {
      changed: () => hooks.changed(),
      log: (level, message) => hooks.log(level, message),
      unreachable: (container, instance, silentFor) =>
        hooks.unreachable(container, instance, silentFor),
      lost: (peer, lastSeen) => hooks.lost?.(peer, lastSeen),
      released: () => this.reconsider(),
    }, this.#timers);
  }

  /** Where it listens, once listening. */
  get listening(): URL | null {
    return this.#listener?.url ?? null;
  }

  /** Starts listening (if asked to) and dialing every host; dials go on in the background. */
  async start(): Promise<void> {
    const options = {
      secret: this.#spec.secret,
      tls: this.#spec.tls,
      handshakeTimeout: Math.min(5_000, this.#spec.keepalive),
      maxFrame: this.#spec.maxFrame,
    };
    if (this.#spec.listen) {
      this.#listener = await this.#transports.listen(this.#spec.listen, {
        ...options,
        onLink: (link, peer) => this.#introduce(link, undefined, peer),
        onRefused: (error, peer) =>
          this.#hooks.log("warn", `refused a link from ${peer}: ${error.name}: ${error.message}`),
        onAcceptError: (error) => this.#hooks.log("warn", error.message),
      });
    }
    const contacts: Promise<void>[] = [];
    for (const [name, host] of Object.entries(this.#hosts)) {
      const peer = this.#peers.peer(name);
      peer.address = host.address;
      let contacted!: () => void;
      contacts.push(new Promise<void>((resolve) => (contacted = resolve)));
      this.#dialers.push(this.#dialLoop(peer, options, contacted));
    }
    this.#firstContact = Promise.all(contacts).then(() => {});
    this.#timers.every(this.#peers.beatEvery, () => this.#peers.beat());
  }

  /**
   * Resolves once every host of `hosts:` was reached once (linked and introduced) or failed to
   * be, or after `ms`: placing containers then sees every agent that is up, not the first one.
   */
  contacted(ms: number): Promise<void> {
    return this.#timers.bound(this.#firstContact, ms);
  }

  /** The peers' routes, node ids under `@peer/`. */
  routes(): RouteTable {
    return this.#peers.routes();
  }

  /**
   * Sends every peer this runtime's own routes, and what it relays to that peer, when they
   * changed since last time.
   */
  publishOwn(): void {
    const own = this.#hooks.ownRoutes();
    const relayed = this.#hooks.relayed?.() ?? {};
    for (const peer of this.#peers.linkedPeers()) this.#sendRoutes(peer, own, relayed);
  }

  /**
   * Sends `peer` its table at the next publication even when unchanged: an agent that just took
   * a placement from here (or adopted one) takes the routes relayed for that container now, where
   * it declined them before (it ran it for another root, or not at all).
   */
  resend(peer: string): void {
    this.#lastSent.delete(peer);
  }

  /** Sends `peer` its table, unless it is what it got last. */
  #sendRoutes(peer: Peer, own: RouteTable, relayed: RouteTable): void {
    const table = Object.keys(relayed).length === 0 || !this.#hooks.relaysTo?.(peer.name)
      ? own
      : { ...relayedFor(peer.name, relayed, (name) => peer.containers.has(name)), ...own };
    const text = JSON.stringify(table);
    if (text === this.#lastSent.get(peer.name)) return;
    this.#lastSent.set(peer.name, text);
    peer.link?.send({ k: "routes", r: table });
  }

  /** The peers, for the tree. */
  snapshot(now?: number): PeerSnapshot[] {
    return this.#peers.snapshot(now);
  }

  /** Sends a control envelope to peer `name`; false when it is not linked. */
  send(name: string, env: Envelope): boolean {
    return this.#peers.send(name, env);
  }

  /** Closes every link and stops listening and dialing. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#peers.close();
    this.#timers.clear();
    for (const link of this.#links) link.close();
    await Promise.all([...this.#links].map((l) => l.closed));
    await this.#listener?.close();
    await Promise.all(this.#dialers);
  }

  async #dialLoop(
    peer: Peer,
    options: {
      secret: string;
      tls?: TransportsSpec["tls"];
      handshakeTimeout: number;
      maxFrame: number;
    },
    firstContact: () => void,
  ): Promise<void> {
    let delay: number | null = null;
    while (!this.#closed) {
      // Linked already over a link it dialed to us: no second link while that one lasts.
      const current = this.#current.get(peer.name);
      if (current) {
        firstContact();
        await current.closed;
        continue;
      }
      let joined = false;
      try {
        const link = await this.#transports.dial(peer.address!, options);
        if (this.#closed) {
          link.close();
          return;
        }
        this.#dialed.add(link);
        joined = await this.#introduce(link, peer.name, peer.address!);
        firstContact();
        await link.closed;
      } catch (error) {
        firstContact();
        const e = error as Error;
        this.#hooks.log(
          "warn",
          `cannot link to ${peer.name} at ${peer.address}: ${e.name}: ${e.message}`,
        );
      }
      if (this.#closed) return;
      delay = redialDelay(delay, joined);
      await this.#timers.sleep(delay);
    }
  }

  /**
   * Both sides say who they are — the dialer first, the listener once it accepted the dialer —
   * then the peer's link joins the hub. Resolves whether both sides accepted each other.
   */
  /**
   * Logs input refused from a link not introduced yet: at most one line a second, with the count
   * since (a flood of garbage must not wipe the log's history).
   */
  #refusedBeforeJoin(from: string, problem: string): void {
    const now = this.#timers.now();
    this.#refusals.count++;
    if (now - this.#refusals.loggedAt < 1_000) return;
    const more = this.#refusals.count - 1;
    this.#refusals = { loggedAt: now, count: 0 };
    this.#hooks.log(
      "warn",
      `refused input from the runtime at ${from}: ${problem}${
        more > 0 ? ` (and ${more} more refused since the last report)` : ""
      }`,
    );
  }

  #introduce(link: Link, expected: string | undefined, from: string): Promise<boolean> {
    link.onRefused = (problem) => this.#refusedBeforeJoin(from, problem);
    this.#links.add(link);
    link.closed.then(() => this.#links.delete(link));
    const dialer = expected !== undefined;
    if (dialer) this.#sendJoin(link, expected);
    return new Promise<boolean>((resolve) => {
      const timer = this.#timers.after(this.#spec.keepalive, () => {
        this.#hooks.log("warn", `the runtime at ${from} did not introduce itself; link closed`);
        link.close();
        resolve(false);
      });
      link.closed.then(() => {
        this.#timers.cancel(timer);
        resolve(false);
      });
      link.onEnvelope = (env) => {
        this.#timers.cancel(timer);
        if (dialer && env.k === "refused" && envelopeProblem(env, "peer") === null) {
          // The runtime we dialed says why it refused us: logged here, shown on the peer.
          const why = quoteReason(env.m);
          this.#peers.peer(expected).refused = why;
          this.#hooks.log(
            "warn",
            `runtime "${expected}" at ${from} refused this runtime's link: ${why}`,
          );
          link.close();
          return resolve(false);
        }
        if (env.k !== "join") {
          this.#hooks.log("warn", `the runtime at ${from} spoke before introducing itself`);
          link.close();
          return resolve(false);
        }
        const own = new Set(this.#hooks.ownNames());
        const problem = envelopeProblem(env, "peer") ?? this.#peers.refusal(env, expected, {
          self: this.#spec.name,
          own,
          shared: (name) => this.#hooks.sharedName?.(name) ?? false,
          replaces: (current) => this.#replaces(link, current, env.n),
        });
        if (problem) {
          // (The name is quoted escaped: a refused name may hold anything, a newline too.)
          this.#hooks.log(
            "error",
            `refused runtime ${quoteName(String(env.n))} at ${from}: ${problem}`,
          );
          // A runtime that dialed us and proved the secret is told why (else it sees only a
          // closed link, and redials in the dark): never another runtime's name.
          if (!dialer) link.send({ k: "refused", m: forDialer(problem, String(env.n)) });
          link.close();
          return resolve(false);
        }
        if (!dialer) this.#sendJoin(link, env.n);
        const peer = this.#joined(link, env.n, env.c);
        this.#hooks.joined?.(env.n, env);
        // Known as an agent only now: what is relayed to it goes too.
        this.#sendRoutes(peer, this.#hooks.ownRoutes(), this.#hooks.relayed?.() ?? {});
        resolve(true);
      };
    });
  }

  #sendJoin(link: Link, peer: string): void {
    link.send({
      k: "join",
      n: this.#spec.name,
      c: this.#hooks.ownNames(),
      ...this.#hooks.joinExtra?.(peer),
    });
  }

  /**
   * Whether new `link` from peer `name` may replace its live link `current`: only when two
   * runtimes dialed each other, and then the link dialed by the one whose name sorts first wins
   * on both sides. A link someone dialed to us never replaces a live one (anyone with the secret
   * can say any name); one we dialed reached the address configured for that host.
   */
  #replaces(link: Link, current: PeerLink, name: string): boolean {
    return this.#dialed.has(link) && !this.#dialed.has(current) && this.#spec.name < name;
  }

  #joined(link: Link, name: string, containers: string[]): Peer {
    const peer = this.#peers.linked(name, link, containers);
    this.#current.set(name, link);
    this.#qualify(link, peer.name);
    this.#hub.attachPeer(peer.name, link, (env) => this.#control(peer, env));
    const deliver = link.onEnvelope;
    link.onEnvelope = (env, checked) => {
      this.#peers.heard(peer);
      // A reply names the instance that answered: as the routes name it here.
      if ((env.k === "res" || env.k === "err") && this.#isQualified(env.f)) {
        env = { ...env, f: `${env.f}@${peer.name}` };
      }
      deliver(env, checked);
    };
    link.closed.then(() => {
      if (this.#current.get(name) === link) this.#current.delete(name);
      this.#lastSent.delete(name);
      if (peer.link !== link) return;
      this.#hub.detach(`@${peer.name}`);
      this.#peers.unlinked(peer, link);
    });
    this.#lastSent.delete(peer.name);
    this.#sendRoutes(peer, this.#hooks.ownRoutes(), this.#hooks.relayed?.() ?? {});
    this.#hooks.log("info", `linked with runtime "${peer.name}" (${containers.length} containers)`);
    return peer;
  }

  /** On the way to `peer`, an instance id qualified here (`id@peer`) goes back to its own. */
  #qualify(link: Link, peer: string): void {
    if (!this.#hooks.qualified) return;
    const send = link.send.bind(link);
    const suffix = `@${peer}`;
    link.send = (env) => {
      if ((env.k === "req" || env.k === "send") && env.to.endsWith(suffix)) {
        const bare = env.to.slice(0, -suffix.length);
        if (this.#isQualified(bare)) env = { ...env, to: bare };
      }
      send(env);
    };
  }

  #isQualified(id: unknown): boolean {
    return typeof id === "string" && (this.#hooks.qualified?.(id.split("#")[0]) ?? false);
  }

  #control(peer: Peer, env: Envelope): void {
    if (env.k === "routes") this.#announced(peer, env.r);
    else if (env.k === "ping") {
      peer.link?.send({ k: "pong", ...this.#hooks.pinged?.(peer.name) });
    } else if (env.k === "pong") this.#hooks.pong?.(peer.name, env);
    else this.#hooks.control?.(peer.name, env);
  }

  /**
   * Judges again the last routes of each peer of which something was left out that may be taken
   * now: a peer that claimed those names is gone, or a placement changed (an agent took one).
   */
  reconsider(): void {
    for (const [name, reported] of [...this.#later]) {
      const peer = this.#peers.linkedPeers().find((p) => p.name === name);
      if (peer) this.#announced(peer, reported);
      else this.#later.delete(name);
    }
  }

  /** A peer's routes: cut to what it may announce, node ids put under `@peer/`. */
  #announced(peer: Peer, reported: unknown): void {
    // (What `acceptsRoute` declines — e.g. another root's containers on a shared agent — is not
    // ours to route, and is left out quietly.)
    const hooks = this.#hooks;
    const { table, dropped, later } = cutAnnounced(peer.name, reported, {
      own: new Set(hooks.ownNames()),
      accepts: hooks.acceptsRoute && ((name) => hooks.acceptsRoute!(peer.name, name)),
      shared: hooks.sharedName,
      // A name of ours only from the root that placed it here (its groups elsewhere).
      relays: (name) => hooks.relaysFrom?.(peer.name, name) ?? false,
      claimant: (name) => this.#peers.claimant(name, peer.name),
      qualified: hooks.qualified,
    });
    if (later) this.#later.set(peer.name, reported);
    else this.#later.delete(peer.name);
    if (dropped.length > 0) {
      hooks.log(
        "warn",
        `runtime "${peer.name}": dropped from its routes: ${dropped.slice(0, 5).join("; ")}`,
      );
    }
    this.#peers.announced(peer, table);
  }
}
