/**
 * Several runtimes, one application: this runtime's links to its peer runtimes. It listens where
 * `transports.listen` says and dials every `hosts:` entry (re-dialing with backoff when a link is
 * lost). Each link is authenticated (`transports/`), then both sides introduce themselves (`join`:
 * name and containers), and the hub treats the peer as node `@name`: the peer's containers join
 * the routing table with node ids under `@name/`, so `ref(name).request()` reaches them unchanged.
 *
 * A peer that goes silent for `keepalive` is declared unreachable and its link closed. While a
 * peer is away its containers stay in the table as restarting (`w`): senders hold messages for
 * them up to each container's buffer, and fail fast once the peer has been gone for twice its
 * keepalive without coming back.
 *
 * @module
 */
import { DEFAULTS, type TransportsSpec } from "../config/topology.ts";
import type { Envelope, LogLevel, RouteTable } from "../protocol/envelope.ts";
import { envelopeProblem } from "../protocol/envelope_check.ts";
import type { Link } from "../transports/link.ts";
import type { Listener } from "../transports/transport.ts";
import type { TransportSet } from "../transports/transport_set.ts";
import type { Node } from "./_node.ts";
import { mergeRoutes } from "./_routes.ts";
import { sanitizeRoutes } from "./_trust.ts";

/** A peer runtime, as `rt.tree()` shows it. */
export interface PeerSnapshot {
  /** Its name. */
  name: string;
  /** The address this runtime dials it at (absent for a peer that dialed in). */
  address?: string;
  /** `connected`, `connecting` (dialing or away), or `gone` (away too long; routes dropped). */
  state: "connected" | "connecting" | "gone";
  /** Milliseconds in that state. */
  since: number;
  /** Its containers. */
  containers: string[];
}

/** What the federation needs from its runtime. */
export interface FederationHooks {
  /** The transports it listens and dials with (the runtime's set). */
  transports: TransportSet;
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
  /** Extra fields of this runtime's `join` (a host agent says what it offers and runs). */
  joinExtra?(): Partial<Extract<Envelope, { k: "join" }>>;
  /** A peer linked (after its introduction was accepted). */
  joined?(peer: string, join: Extract<Envelope, { k: "join" }>): void;
  /** A peer's link was lost; `lastSeen` is when it was last heard (performance.now()). */
  lost?(peer: string, lastSeen: number): void;
  /** A control envelope the federation itself does not handle (placements). */
  control?(peer: string, env: Envelope): void;
  /** Whether two runtimes may both announce container `name` (a placement being moved). */
  sharedName?(name: string): boolean;
  /** Whether `peer`'s routes for `name` are taken (a stale placement's are not). */
  acceptsRoute?(peer: string, name: string): boolean;
}

interface Peer {
  name: string;
  address?: string;
  link: Link | null;
  state: PeerSnapshot["state"];
  since: number;
  lastSeen: number;
  routes: RouteTable;
  containers: string[];
  goneTimer?: ReturnType<typeof setTimeout>;
}

const REDIAL_MIN = 100;
const REDIAL_MAX = 5_000;

/** This runtime's links to the other runtimes of its application. */
export class Federation {
  readonly #hub: Node;
  readonly #spec: TransportsSpec;
  readonly #hosts: Record<string, { address: string }>;
  readonly #hooks: FederationHooks;
  readonly #peers = new Map<string, Peer>();
  readonly #links = new Set<Link>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #listener: Listener | null = null;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #lastSent = "";
  #closed = false;
  readonly #dialers: Promise<void>[] = [];
  /** Wakes the dial loops sleeping before a redial (on close). */
  readonly #wakers = new Set<() => void>();

  constructor(
    hub: Node,
    spec: TransportsSpec,
    hosts: Record<string, { address: string }>,
    hooks: FederationHooks,
  ) {
    this.#hub = hub;
    this.#spec = spec;
    this.#hosts = hosts;
    this.#hooks = hooks;
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
      this.#listener = await this.#hooks.transports.listen(this.#spec.listen, {
        ...options,
        onLink: (link, peer) => this.#introduce(link, undefined, peer),
        onRefused: (error, peer) =>
          this.#hooks.log("warn", `refused a link from ${peer}: ${error.name}: ${error.message}`),
      });
    }
    const contacts: Promise<void>[] = [];
    for (const [name, host] of Object.entries(this.#hosts)) {
      const peer = this.#peer(name);
      peer.address = host.address;
      let contacted!: () => void;
      contacts.push(new Promise<void>((resolve) => (contacted = resolve)));
      this.#dialers.push(this.#dialLoop(peer, options, contacted));
    }
    this.#firstContact = Promise.all(contacts).then(() => {});
    const every = Math.max(10, Math.min(1_000, this.#spec.keepalive / 4));
    this.#heartbeat = setInterval(() => this.#beat(), every);
  }

  #firstContact: Promise<void> = Promise.resolve();

  /**
   * Resolves once every host of `hosts:` was reached once (linked and introduced) or failed to
   * be, or after `ms`: placing containers then sees every agent that is up, not the first one.
   */
  contacted(ms: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([
      this.#firstContact,
      new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
    ]).finally(() => clearTimeout(timer));
  }

  /** The peers' routes, node ids under `@peer/`. */
  routes(): RouteTable {
    const table: RouteTable = {};
    // A live entry wins over a placeholder (a peer away, holding for a container that has
    // meanwhile moved to another runtime), whatever the order of the peers.
    for (const peer of this.#peers.values()) mergeRoutes(table, peer.routes);
    return table;
  }

  /** Sends this runtime's own routes to every peer, when they changed since last time. */
  publishOwn(): void {
    const own = this.#hooks.ownRoutes();
    const text = JSON.stringify(own);
    if (text === this.#lastSent) return;
    this.#lastSent = text;
    for (const peer of this.#peers.values()) peer.link?.send({ k: "routes", r: own });
  }

  /** The peers, for the tree. */
  snapshot(now = performance.now()): PeerSnapshot[] {
    return [...this.#peers.values()].map((p) => ({
      name: p.name,
      ...(p.address ? { address: p.address } : {}),
      state: p.state,
      since: Math.round(now - p.since),
      containers: p.containers,
    }));
  }

  /** Closes every link and stops listening and dialing. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#heartbeat);
    for (const wake of [...this.#wakers]) wake();
    for (const timer of this.#timers) clearTimeout(timer);
    for (const peer of this.#peers.values()) clearTimeout(peer.goneTimer);
    for (const link of this.#links) link.close();
    await Promise.all([...this.#links].map((l) => l.closed));
    await this.#listener?.close();
    await Promise.all(this.#dialers);
  }

  #peer(name: string): Peer {
    let peer = this.#peers.get(name);
    if (!peer) {
      peer = {
        name,
        link: null,
        state: "connecting",
        since: performance.now(),
        lastSeen: 0,
        routes: {},
        containers: [],
      };
      this.#peers.set(name, peer);
    }
    return peer;
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
    let delay = REDIAL_MIN;
    while (!this.#closed) {
      try {
        const link = await this.#hooks.transports.dial(peer.address!, options);
        if (this.#closed) {
          link.close();
          return;
        }
        const joined = await this.#introduce(link, peer.name, peer.address!);
        firstContact();
        // Backoff restarts only after a real join: a peer that keeps refusing us (wrong name,
        // clash) is not redialed ten times a second.
        if (joined) delay = REDIAL_MIN;
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
      await this.#sleep(delay);
      delay = Math.min(REDIAL_MAX, delay * 2);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#timers.delete(timer);
        this.#wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#timers.add(timer);
      this.#wakers.add(wake);
    });
  }

  /** Both sides say who they are; then the peer's link joins the hub. */
  #introduce(link: Link, expected: string | undefined, from: string): Promise<boolean> {
    link.onRefused = (problem) =>
      this.#hooks.log("warn", `refused input from the runtime at ${from}: ${problem}`);
    this.#links.add(link);
    link.closed.then(() => this.#links.delete(link));
    link.send({
      k: "join",
      n: this.#spec.name,
      c: this.#hooks.ownNames(),
      ...this.#hooks.joinExtra?.(),
    });
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        this.#hooks.log("warn", `the runtime at ${from} did not introduce itself; link closed`);
        link.close();
        resolve(false);
      }, this.#spec.keepalive);
      this.#timers.add(timer);
      link.closed.then(() => {
        clearTimeout(timer);
        this.#timers.delete(timer);
        resolve(false);
      });
      link.onEnvelope = (env) => {
        clearTimeout(timer);
        this.#timers.delete(timer);
        if (env.k !== "join") {
          this.#hooks.log("warn", `the runtime at ${from} spoke before introducing itself`);
          link.close();
          return resolve(false);
        }
        const problem = envelopeProblem(env, "peer") ?? this.#refusal(env, expected);
        if (problem) {
          this.#hooks.log("error", `refused runtime "${env.n}" at ${from}: ${problem}`);
          link.close();
          return resolve(false);
        }
        this.#joined(this.#peer(env.n), link, env.c);
        this.#hooks.joined?.(env.n, env);
        resolve(true);
      };
    });
  }

  #refusal(join: Extract<Envelope, { k: "join" }>, expected: string | undefined): string | null {
    if (join.n === this.#spec.name) return `it has this runtime's own name "${join.n}"`;
    if (expected !== undefined && join.n !== expected) {
      return `expected "${expected}" at that address, got "${join.n}"`;
    }
    const mine = new Set(this.#hooks.ownNames());
    const shared = (c: string) => this.#hooks.sharedName?.(c) ?? false;
    const clash = join.c.filter((c) => mine.has(c) && !shared(c));
    if (clash.length > 0) {
      return `both runtimes run ${
        clash.map((c) => `"${c}"`).join(", ")
      }; container names are unique across the application`;
    }
    for (const other of this.#peers.values()) {
      if (other.name === join.n || other.state === "gone") continue;
      const taken = join.c.filter((c) => other.containers.includes(c) && !shared(c));
      if (taken.length > 0) return `"${taken[0]}" already runs on runtime "${other.name}"`;
    }
    return null;
  }

  #joined(peer: Peer, link: Link, containers: string[]): void {
    peer.link?.close();
    clearTimeout(peer.goneTimer);
    peer.link = link;
    peer.state = "connected";
    peer.since = performance.now();
    peer.lastSeen = performance.now();
    peer.containers = containers;
    // Until the peer's routes arrive, its containers are known only by name: messages for them
    // wait (as for a restarting container) instead of failing with "no container named".
    const waiting: RouteTable = {};
    for (const name of containers) {
      const known = peer.routes[name];
      waiting[name] = {
        balance: known?.balance ?? "round_robin",
        instances: [],
        w: 1,
        q: known?.q ?? DEFAULTS.container.buffer,
      };
    }
    peer.routes = waiting;
    this.#hooks.changed();
    this.#hub.attachPeer(peer.name, link, (env) => this.#control(peer, env));
    const deliver = link.onEnvelope;
    link.onEnvelope = (env) => {
      peer.lastSeen = performance.now();
      deliver(env);
    };
    link.closed.then(() => this.#lost(peer, link));
    link.send({ k: "routes", r: this.#hooks.ownRoutes() });
    this.#hooks.log("info", `linked with runtime "${peer.name}" (${containers.length} containers)`);
  }

  #control(peer: Peer, env: Envelope): void {
    if (env.k === "routes") {
      const prefix = `@${peer.name}/`;
      const table: RouteTable = {};
      // A peer speaks for its own containers: not for ours, and only with instance ids of the
      // container they are listed under (an id of one of ours would reroute its traffic).
      // (What `acceptsRoute` declines — e.g. another root's containers on a shared agent — is
      // not ours to route, and is left out quietly.)
      const own = this.#hooks.ownNames();
      const accepts = this.#hooks.acceptsRoute;
      const reported: unknown = env.r;
      const offered = typeof reported === "object" && reported !== null
        ? Object.fromEntries(
          Object.entries(reported).filter(([name]) => !accepts || accepts(peer.name, name)),
        )
        : reported;
      const { routes, refused } = sanitizeRoutes(offered, {
        node: null,
        may: (name) => peer.containers.includes(name) || !own.includes(name),
      });
      if (refused.length > 0) {
        this.#hooks.log(
          "warn",
          `runtime "${peer.name}": dropped from its routes: ${refused.slice(0, 5).join("; ")}`,
        );
      }
      for (const [name, entry] of Object.entries(routes)) {
        table[name] = {
          ...entry,
          instances: entry.instances.map((i) => ({ i: i.i, n: prefix + i.n })),
          ...(entry.x ? { x: entry.x.map((i) => ({ i: i.i, n: prefix + i.n })) } : {}),
        };
      }
      peer.routes = table;
      peer.containers = Object.keys(table);
      this.#hooks.changed();
    } else if (env.k === "ping") peer.link?.send({ k: "pong" });
    else if (env.k !== "pong") this.#hooks.control?.(peer.name, env);
  }

  /** Sends a control envelope to peer `name`; false when it is not linked. */
  send(name: string, env: Envelope): boolean {
    const link = this.#peers.get(name)?.link;
    if (!link) return false;
    link.send(env);
    return true;
  }

  #lost(peer: Peer, link: Link): void {
    if (peer.link !== link) return;
    peer.link = null;
    this.#hub.detach(`@${peer.name}`);
    if (this.#closed) return;
    peer.state = "connecting";
    peer.since = performance.now();
    this.#hooks.log("warn", `lost the link with runtime "${peer.name}"`);
    this.#hooks.lost?.(peer.name, peer.lastSeen);
    const silentFor = Math.round(performance.now() - peer.lastSeen);
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
    peer.goneTimer = setTimeout(() => {
      if (peer.link) return;
      peer.state = "gone";
      peer.since = performance.now();
      peer.routes = {};
      this.#hooks.changed();
    }, this.#spec.keepalive * 2);
  }

  #beat(): void {
    const now = performance.now();
    for (const peer of this.#peers.values()) {
      if (!peer.link) continue;
      if (now - peer.lastSeen > this.#spec.keepalive) {
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
}
