/**
 * Several runtimes over NATS: the runtime's bridge to a NATS server (or cluster), started when the
 * topology has `transports.nats`. It is an alternative to direct links (`runtime/_federation.ts`)
 * for applications with many runtimes: every runtime connects to NATS only, and NATS carries the
 * traffic, spreads the load over replicas and survives the loss of one of its nodes.
 *
 * Subjects, all under `kraken.<app>.`:
 *
 * | subject                      | carries                                                     |
 * | ---------------------------- | ----------------------------------------------------------- |
 * | `kraken.<app>.c.<container>` | requests (with a reply inbox) and sends to that container;   |
 * |                              | every runtime running it subscribes in queue group `<name>` |
 * | `kraken.<app>.pub`           | publications (topic inside), one subject for the whole app  |
 * | `kraken.<app>.presence`      | each runtime's container names, every keepalive / 2         |
 *
 * Payloads are MessagePack maps: a request `{o, s, i, t, b, r?}` (origin runtime, requesting node,
 * request id, topic, body, retriable), its reply `{b}` or `{e: WireError}` on the reply inbox; a
 * publication `{o, t, b}`; a presence announcement `{o, n, c, q, k, x?}` (origin, runtime name,
 * container names, their buffers, keepalive, leaving).
 *
 * To the hub, NATS is one more peer node, `@nats`: every container announced by another runtime
 * (and not run here) is a routing-table entry whose single pseudo-instance `<name>@nats` lives on
 * it, so `ref(name).request()` from any node of this runtime reaches it unchanged. Outgoing `req`
 * envelopes become NATS requests (replies come back as `res`/`err` envelopes for the requester);
 * incoming ones are handed to a local instance as `req` envelopes from node `@nats/<origin>:<node>`,
 * so instance deduplication of retries, typed errors and undelivered refusals work as on any link.
 *
 * Presence: a runtime silent for twice its keepalive is away (its containers are held for, `w`,
 * as for a restarting container), and after twice its keepalive more it is gone (its containers
 * are dropped, senders fail at once). NATS "no responders" is an {@linkcode UnavailableError}.
 *
 * The npm `nats` client is imported only when a bridge starts: isolates that never use NATS (every
 * worker and process container) load nothing of it.
 *
 * @module
 */
import type { Msg, NatsConnection, Subscription } from "nats";
import type { TransportsSpec } from "../config/topology.ts";
import { DEFAULTS } from "../config/topology.ts";
import type { Envelope, LogLevel, RouteTable } from "../protocol/envelope.ts";
import { AuthenticationError, UnavailableError, type WireError } from "../protocol/errors.ts";
import { envelopeProblem } from "../protocol/envelope_check.ts";
import { decodeMsgpack, MsgpackEncoder } from "../protocol/msgpack.ts";
import type { Link, LinkClosed } from "../transports/link.ts";
import { pickReplica } from "./balancer.ts";
import type { PeerSnapshot } from "./_federation.ts";
import type { Node } from "./_node.ts";

/** The validated `transports.nats:` block. */
type NatsSpec = NonNullable<TransportsSpec["nats"]>;

/**
 * What the bridge needs from its runtime.
 *
 * @example Hooks of a runtime
 * ```ts ignore
 * const hooks: NatsHooks = {
 *   ownRoutes: () => root.routes(),
 *   changed: () => publishRoutes(),
 *   log: (level, message) => console.error(level, message),
 *   unreachable: (container, instance, silentFor) => {},
 * };
 * ```
 */
export interface NatsHooks {
  /** The routes of this runtime's own containers, nested children included (never the peers'). */
  ownRoutes(): RouteTable;
  /** Routes learnt over NATS changed: republish the table. */
  changed(): void;
  /** Logs a line (never with a credential). */
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

/** A request served here, waiting for its instance's reply. */
interface Serving {
  reply: string;
  to: string;
  at: number;
}

/** A request received over NATS, before it reaches an instance. */
interface Incoming {
  name: string;
  from: string;
  i: number;
  t: string;
  b: unknown;
  r: boolean;
  reply: string;
}

/** A request sent over NATS, waiting for its reply. */
interface Outgoing {
  s: string;
  i: number;
  name: string;
  at: number;
}

/** Why a message could not be published. */
interface Refusal {
  name: string;
  message: string;
  kind: WireError["kind"];
}

/** Node id of NATS in the hub: `@nats`. */
const PEER = "nats";
const NODE = `@${PEER}`;
const SUFFIX = "@nats";
/** Grace before failing requests whose instance left (a reply may still be on its way). */
const GRACE = 25;
/** Requests nobody answers (hung handler, dead runtime) are forgotten after this. */
const FORGET = 10 * 60_000;
/** Recently served retriable requests remembered, so a retry reaches the same instance. */
const RECENT = 10_000;
/** Runtimes gone for good kept in the tree. */
const GONE_KEPT = 64;

/**
 * The bridge between this runtime's hub and NATS.
 *
 * @example What `Runtime` does with it
 * ```ts ignore
 * const bridge = new NatsBridge(hub, transports, "shop", hooks);
 * await bridge.start(); // connects, subscribes, announces this runtime's containers
 * hub.setRoutes({ ...bridge.routes(), ...own }); // containers of other runtimes, via @nats
 * bridge.publishOwn(); // after every change of this runtime's own routes
 * console.log(bridge.snapshot()); // the runtimes seen, for rt.tree().peers
 * await bridge.close();
 * ```
 */
export class NatsBridge {
  readonly #hub: Node;
  readonly #spec: TransportsSpec & { nats: NatsSpec };
  readonly #hooks: NatsHooks;
  readonly #prefix: string;
  /** This runtime incarnation's id on NATS (a restarted runtime is a new peer). */
  readonly id = crypto.randomUUID().slice(0, 8);
  readonly #encoder = new MsgpackEncoder();
  #nc: NatsConnection | null = null;
  #inbox = "";
  #link: NatsLink | null = null;
  readonly #peers = new Map<string, NatsPeer>();
  #routes: RouteTable = {};
  #routesText = "{}";
  /** Containers this runtime serves over NATS, with their subscriptions. */
  readonly #served = new Map<string, Subscription>();
  #servedText = "";
  readonly #serving = new Map<string, Serving>();
  readonly #recent = new Map<string, string>();
  readonly #held = new Map<string, Incoming[]>();
  readonly #outgoing = new Map<number, Outgoing>();
  readonly #turns = new Map<string, { turn: number; random: number }>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #tick: ReturnType<typeof setInterval> | undefined;
  #nextToken = 1;
  #announceQueued = false;
  /** Whether the connection to a NATS server is up now (false while reconnecting). */
  #connected = true;
  #closed = false;
  #monitor: Promise<void> = Promise.resolve();

  /**
   * @param hub The host's node.
   * @param spec The validated `transports:` block (with `nats`).
   * @param app The application's name (subjects live under `kraken.<app>.`).
   * @param hooks What the runtime provides.
   */
  constructor(
    hub: Node,
    spec: TransportsSpec & { nats: NatsSpec },
    app: string,
    hooks: NatsHooks,
  ) {
    this.#hub = hub;
    this.#spec = spec;
    this.#hooks = hooks;
    this.#prefix = `kraken.${app}`;
  }

  /**
   * Connects, subscribes and announces this runtime; resolves once connected.
   * @throws {AuthenticationError} NATS refused the credentials (the message names the servers).
   * @throws {UnavailableError} No server of the list could be reached.
   */
  async start(): Promise<void> {
    const { connect, createInbox, credsAuthenticator } = await import("nats");
    const n = this.#spec.nats;
    const where = n.servers.join(", ");
    let authenticator: ReturnType<typeof credsAuthenticator> | undefined;
    if (n.creds) {
      let creds: Uint8Array;
      try {
        creds = await Deno.readFile(n.creds);
      } catch (error) {
        throw new Error(
          `cannot read transports.nats.creds file "${n.creds}": ${(error as Error).name}`,
        );
      }
      authenticator = credsAuthenticator(creds);
    }
    try {
      this.#nc = await connect({
        servers: n.servers,
        name: `kraken ${this.#prefix.slice(7)} ${this.#spec.name}`,
        ...(n.user !== undefined ? { user: n.user, pass: n.password } : {}),
        ...(n.token !== undefined ? { token: n.token } : {}),
        ...(authenticator ? { authenticator } : {}),
        // Our own publications never come back: no echo of presence, publications or requests.
        noEcho: true,
        maxReconnectAttempts: -1,
        // Another node of the cluster is tried at once; the wait is between tries of one server.
        reconnectTimeWait: 250,
        pingInterval: Math.max(1_000, this.#spec.keepalive),
        maxPingOut: 2,
        timeout: Math.min(5_000, Math.max(1_000, this.#spec.keepalive)),
      });
    } catch (error) {
      socketsClosed();
      throw this.#startError(error, where);
    }
    const nc = this.#nc;
    this.#monitor = this.#watch(nc);
    this.#inbox = createInbox();
    nc.subscribe(`${this.#inbox}.*`, { callback: (_e, msg) => this.#answered(msg) });
    nc.subscribe(`${this.#prefix}.presence`, { callback: (_e, msg) => this.#presence(msg) });
    nc.subscribe(`${this.#prefix}.pub`, { callback: (_e, msg) => this.#published(msg) });
    this.#link = new NatsLink((env) => this.#out(env));
    this.#hub.attachPeer(PEER, this.#link, () => {});
    this.publishOwn();
    this.#announce();
    const every = Math.max(10, this.#spec.keepalive / 2);
    this.#tick = setInterval(() => this.#beat(), every);
    this.#hooks.log("info", `connected to NATS at ${where} as runtime "${this.#spec.name}"`);
  }

  /** Containers run by other runtimes, reached through `@nats`. */
  routes(): RouteTable {
    return this.#routes;
  }

  /**
   * This runtime's own containers changed: (un)subscribe their subjects, announce the new set,
   * hand held requests to instances that are back, fail requests whose instance left.
   */
  publishOwn(): void {
    const nc = this.#nc;
    if (!nc || this.#closed) return;
    const own = this.#hooks.ownRoutes();
    const names = Object.keys(own).filter((n) => own[n].instances.length > 0 || own[n].w);
    for (const name of names) {
      if (this.#served.has(name)) continue;
      const sub = nc.subscribe(`${this.#prefix}.c.${name}`, {
        queue: name,
        callback: (_e, msg) => this.#incoming(name, msg),
      });
      this.#served.set(name, sub);
    }
    for (const [name, sub] of this.#served) {
      if (!names.includes(name)) {
        sub.unsubscribe();
        this.#served.delete(name);
      }
    }
    const text = names.join(",");
    if (text !== this.#servedText) {
      this.#servedText = text;
      this.#announce();
    }
    if (this.#held.size > 0) this.#release();
    if (this.#serving.size > 0) this.#watchServing(own);
  }

  /** The runtimes seen over NATS, for the tree. */
  snapshot(now = performance.now()): PeerSnapshot[] {
    return [...this.#peers.values()].map((p) => ({
      name: p.name,
      address: `nats:${p.id}`,
      state: p.state,
      since: Math.round(now - p.since),
      containers: p.containers,
    }));
  }

  /**
   * Leaves: announces it, stops taking requests, waits (at most a keepalive, 2 s at most) for the
   * ones being served, then closes the connection.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#tick);
    const nc = this.#nc;
    if (!nc) return;
    for (const sub of this.#served.values()) sub.unsubscribe();
    this.#served.clear();
    this.#publish(`${this.#prefix}.presence`, this.#presenceBody(true));
    const end = performance.now() + Math.min(2_000, this.#spec.keepalive);
    while (this.#serving.size > 0 && performance.now() < end && !nc.isClosed()) {
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const timer of this.#timers) clearTimeout(timer);
    this.#hub.detach(NODE);
    socketsClosed();
    // Drain only a live connection: while the server is away, drain() would wait for it to come
    // back (a shutdown must not hang on an outage). Every wait is bounded.
    if (this.#connected) await bounded(nc.drain().catch(() => {}), 2_000);
    if (!nc.isClosed()) await bounded(nc.close().catch(() => {}), 1_000);
    await bounded(this.#monitor, 1_000);
  }

  // ---- outgoing ------------------------------------------------------------------------------

  /** An envelope the hub sent toward `@nats`. */
  #out(env: Envelope): void {
    switch (env.k) {
      case "req": {
        const name = env.to.endsWith(SUFFIX) ? env.to.slice(0, -SUFFIX.length) : env.to;
        const token = this.#nextToken++;
        this.#outgoing.set(token, { s: env.s, i: env.i, name, at: performance.now() });
        const body: Record<string, unknown> = {
          o: this.id,
          s: env.s,
          i: env.i,
          t: env.t,
          b: env.b,
        };
        if (env.r) body.r = 1;
        const refused = this.#publish(`${this.#prefix}.c.${name}`, body, `${this.#inbox}.${token}`);
        if (refused) {
          // Too large for NATS (or not encodable): the requester learns it now, not at its timeout.
          this.#outgoing.delete(token);
          const e: WireError = {
            name: refused.name,
            message: `request "${env.t}" not sent: ${refused.message}`,
            kind: refused.kind,
          };
          this.#link?.onEnvelope({ k: "err", i: env.i, d: env.s, f: env.to, e });
        }
        return;
      }
      case "send": {
        const name = env.to.endsWith(SUFFIX) ? env.to.slice(0, -SUFFIX.length) : env.to;
        this.#publish(`${this.#prefix}.c.${name}`, { o: this.id, t: env.t, b: env.b });
        return;
      }
      case "pub":
        this.#publish(`${this.#prefix}.pub`, { o: this.id, t: env.t, b: env.b });
        return;
      case "res":
      case "err":
        return this.#replied(env);
      default:
        return; // control traffic (`down`, …) concerns direct links only
    }
  }

  /** A reply on this runtime's inbox, for a request it sent. */
  #answered(msg: Msg): void {
    const token = Number(msg.subject.slice(this.#inbox.length + 1));
    const waiting = this.#outgoing.get(token);
    if (!waiting) return; // forgotten: its requester gave up long ago
    this.#outgoing.delete(token);
    const { s: d, i, name } = waiting;
    const f = `${name}${SUFFIX}`; // the pseudo-instance the request was addressed to
    if (msg.data.length === 0 && msg.headers?.code === 503) {
      // Nobody subscribes to the container right now. While a runtime still announces it, that is
      // a moment between subscriptions (it reconnects to another NATS node, or is restarting):
      // nothing ran, so the requester may send it again until its deadline.
      const announced = [...this.#peers.values()].some((p) =>
        p.state === "connected" && p.containers.includes(name)
      );
      const e: WireError = {
        name: "UnavailableError",
        message: `no runtime serves container "${name}" on NATS (no responders)`,
        kind: "unavailable",
        ...(announced ? { undelivered: true } : {}),
      };
      return this.#link?.onEnvelope({ k: "err", i, d, f, e });
    }
    // What arrives is checked at the hub's edge like any peer's reply: one whose body or error
    // breaks the rule reaches its requester as a FrameError, at once.
    const reply = this.#decode(msg, "reply");
    if (!reply) {
      const e: WireError = {
        name: "FrameError",
        message: "reply refused: its NATS payload is not a msgpack map",
        kind: "frame",
      };
      return this.#link?.onEnvelope({ k: "err", i, d, f, e });
    }
    if (reply.e !== undefined) {
      this.#link?.onEnvelope({ k: "err", i, d, f, e: reply.e as WireError });
    } else this.#link?.onEnvelope({ k: "res", i, d, f, b: reply.b });
  }

  #published(msg: Msg): void {
    const p = this.#decode(msg, "publication");
    if (!p || p.o === this.id) return;
    this.#link?.onEnvelope({ k: "pub", t: p.t as string, b: p.b });
  }

  // ---- incoming ------------------------------------------------------------------------------

  /**
   * A request or send for container `name`, which this runtime runs. It is checked here, at the
   * edge, by the rule every link applies: a request that breaks it is answered with a FrameError
   * saying why, a send is dropped; both are counted and logged, and no container sees them.
   */
  #incoming(name: string, msg: Msg): void {
    const p = this.#decode(msg, `message for "${name}"`);
    if (!p) {
      if (msg.reply) this.#refuse(msg.reply, notMsgpack(`request to "${name}"`));
      return;
    }
    if (!msg.reply) {
      const send = { k: "send", to: name, t: p.t, b: p.b };
      const problem = envelopeProblem(send, "peer", { values: "tree" });
      if (problem !== null) return this.#hub.reportRefused(NODE, `a send to "${name}": ${problem}`);
      try {
        this.#hub.send(name, p.t as string, p.b);
      } catch (error) {
        this.#hooks.log(
          "debug",
          `a send to "${name}" over NATS dropped: ${(error as Error).message}`,
        );
      }
      return;
    }
    const problem =
      (typeof p.o === "string"
        ? null
        : `field "o" (the requesting runtime) is ${typeof p.o}, expected a string`) ??
        envelopeProblem({ k: "req", i: p.i, s: p.s, to: name, t: p.t, b: p.b, r: p.r }, "peer", {
          values: "tree",
        });
    if (problem !== null) {
      this.#hub.reportRefused(NODE, `a request to "${name}": ${problem}`);
      const topic = typeof p.t === "string" ? `"${p.t}" ` : "";
      return this.#refuse(msg.reply, {
        name: "FrameError",
        message: `request ${topic}refused: ${problem}`,
        kind: "frame",
      });
    }
    this.#dispatch({
      name,
      from: `${p.o}:${p.s}`,
      i: p.i as number,
      t: p.t as string,
      b: p.b,
      r: p.r === 1,
      reply: msg.reply,
    });
  }

  /** Hands a request to a live instance of its container, holds it, or refuses it. */
  #dispatch(req: Incoming): void {
    const entry = this.#served.has(req.name) ? this.#hub.routes[req.name] : undefined;
    if (!entry || (entry.instances.length === 0 && !entry.w)) {
      return this.#refuse(req.reply, {
        name: "UnavailableError",
        message: `container "${req.name}" no longer runs on runtime "${this.#spec.name}"`,
        kind: "unavailable",
        undelivered: true,
      });
    }
    if (entry.instances.length === 0) {
      // Restarting here: held like a local sender would, up to its buffer.
      let queue = this.#held.get(req.name);
      if (!queue) this.#held.set(req.name, queue = []);
      const limit = entry.q ?? DEFAULTS.container.buffer;
      if (queue.length >= limit) {
        return this.#refuse(req.reply, {
          name: "UnavailableError",
          message: `container "${req.name}" is restarting and already holds ${limit} messages`,
          kind: "unavailable",
        });
      }
      queue.push(req);
      return;
    }
    const key = `${req.from}#${req.i}`;
    // A retry goes where its first attempt went: that instance answers it from its stored reply.
    const earlier = this.#serving.get(key)?.to ?? this.#recent.get(key);
    let to = earlier;
    if (to === undefined || !entry.instances.some((inst) => inst.i === to)) {
      let turns = this.#turns.get(req.name);
      if (!turns) this.#turns.set(req.name, turns = { turn: 0, random: 0 });
      turns.random = Math.random();
      to = entry.instances[pickReplica(entry.balance, entry.instances.length, turns)].i;
    }
    this.#serving.set(key, { reply: req.reply, to, at: performance.now() });
    const env: Envelope = { k: "req", i: req.i, s: req.from, to, t: req.t, b: req.b };
    if (req.r) env.r = 1;
    this.#link?.onEnvelope(env);
  }

  /** An instance's reply (or a refusal) to a request served here. */
  #replied(env: Extract<Envelope, { k: "res" | "err" }>): void {
    const key = `${env.d}#${env.i}`;
    const serving = this.#serving.get(key);
    if (!serving) return;
    this.#serving.delete(key);
    if (this.#recent.size >= RECENT) this.#recent.delete(this.#recent.keys().next().value!);
    this.#recent.set(key, serving.to);
    const refused = this.#publish(serving.reply, env.k === "res" ? { b: env.b } : { e: env.e });
    if (refused) {
      this.#refuse(serving.reply, {
        name: refused.name,
        message: `reply not sent: ${refused.message}`,
        kind: refused.kind,
      });
    }
  }

  #refuse(reply: string, e: WireError): void {
    this.#publish(reply, { e });
  }

  /** Held requests whose container is back go to it; those of a container gone are refused. */
  #release(): void {
    const held = [...this.#held];
    this.#held.clear();
    for (const [, queue] of held) for (const req of queue) this.#dispatch(req);
  }

  /**
   * Requests served here whose instance left the table will get no reply: after a grace, the
   * requester learns it (and fails over with retries), as it would for an instance on a link.
   */
  #watchServing(own: RouteTable): void {
    const live = liveInstances(own);
    const lost = [...this.#serving].filter(([, s]) => !live.has(s.to));
    if (lost.length === 0) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      const now = liveInstances(this.#hooks.ownRoutes());
      for (const [key, serving] of lost) {
        if (this.#serving.get(key) !== serving || now.has(serving.to)) continue;
        this.#serving.delete(key);
        this.#refuse(serving.reply, {
          name: "UnavailableError",
          message: `instance ${serving.to} is gone`,
          kind: "unavailable",
        });
      }
    }, GRACE);
    this.#timers.add(timer);
  }

  // ---- presence ------------------------------------------------------------------------------

  #presenceBody(leaving = false): Record<string, unknown> {
    const own = this.#hooks.ownRoutes();
    const names = leaving ? [] : [...this.#served.keys()];
    return {
      o: this.id,
      n: this.#spec.name,
      c: names,
      q: names.map((n) => own[n]?.q ?? DEFAULTS.container.buffer),
      k: this.#spec.keepalive,
      ...(leaving ? { x: 1 } : {}),
    };
  }

  /** Announces this runtime's containers (at most once per turn). */
  #announce(): void {
    if (this.#announceQueued) return;
    this.#announceQueued = true;
    queueMicrotask(() => {
      this.#announceQueued = false;
      if (this.#closed) return;
      this.#publish(`${this.#prefix}.presence`, this.#presenceBody());
    });
  }

  #presence(msg: Msg): void {
    const p = this.#decode(msg, "presence announcement");
    if (!p || p.o === this.id || typeof p.o !== "string" || typeof p.n !== "string") return;
    if (!Array.isArray(p.c) || p.c.some((c) => typeof c !== "string")) return;
    const now = performance.now();
    const keepalive = typeof p.k === "number" && p.k > 0 ? p.k : this.#spec.keepalive;
    let peer = this.#peers.get(p.o);
    if (p.x === 1) {
      // Leaving: held for like a peer that went away, then dropped.
      if (peer && peer.state === "connected") {
        peer.state = "connecting";
        peer.since = now;
        this.#hooks.log("info", `runtime "${peer.name}" left NATS`);
        this.#recompute();
      }
      return;
    }
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
      // The newcomer learns of this runtime now rather than a keepalive later.
      this.#announce();
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
  }

  /** Every keepalive / 2: announce, expire silent runtimes, forget what nobody will answer. */
  #beat(): void {
    const now = performance.now();
    this.#publish(`${this.#prefix}.presence`, this.#presenceBody());
    let changed = false;
    for (const peer of this.#peers.values()) {
      // Disconnected ourselves, we hear nobody: that says nothing about them.
      if (!this.#connected) break;
      const expiry = 2 * peer.keepalive;
      if (peer.state === "connected" && now - peer.lastSeen > expiry) {
        peer.state = "connecting";
        peer.since = now;
        changed = true;
        const silentFor = Math.round(now - peer.lastSeen);
        this.#hooks.log("warn", `runtime "${peer.name}" silent on NATS for ${silentFor} ms: away`);
        for (const c of peer.containers) this.#hooks.unreachable(c, `${c}${SUFFIX}`, silentFor);
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
    for (const [token, out] of this.#outgoing) {
      if (now - out.at < FORGET) break; // insertion order: the rest are younger
      this.#outgoing.delete(token);
    }
    for (const [key, serving] of this.#serving) {
      if (now - serving.at < FORGET) break;
      this.#serving.delete(key);
    }
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
      table[name] = { balance: "round_robin", instances: [{ i: `${name}${SUFFIX}`, n: NODE }], q };
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

  // ---- plumbing ------------------------------------------------------------------------------

  /**
   * Publishes `body` (msgpack) on `subject`.
   * @returns `null` when it left, else why not: too large for the server's `max_payload` (a
   *   `FrameError`, as for a link's `max_frame`), or not encodable.
   */
  #publish(subject: string, body: unknown, reply?: string): Refusal | null {
    const nc = this.#nc;
    if (!nc || nc.isClosed()) return null; // closing: as if lost on the way
    let data: Uint8Array;
    try {
      data = this.#encoder.encode(body);
    } catch (error) {
      this.#hooks.log("error", `cannot encode for NATS ${subject}: ${(error as Error).message}`);
      return {
        name: "SerializationError",
        message: (error as Error).message,
        kind: "serialization",
      };
    }
    const max = nc.info?.max_payload ?? Infinity;
    if (data.length > max) {
      const message = `${data.length} bytes exceed the NATS server's max_payload of ${max} bytes`;
      if (!reply) this.#hooks.log("error", `not published on ${subject}: ${message}`);
      return { name: "FrameError", message, kind: "frame" };
    }
    try {
      nc.publish(subject, data, reply ? { reply } : undefined);
    } catch (error) {
      this.#hooks.log("warn", `NATS publish to ${subject} failed: ${this.#scrub(error)}`);
    }
    return null;
  }

  /**
   * A NATS payload as a map, or `null` (counted and logged as refused). Lenient: a part that
   * cannot be decoded but whose extent is known is marked, for the edge check to name.
   */
  #decode(msg: Msg, what: string): Record<string, unknown> | null {
    let why = "not a msgpack map";
    try {
      const value = decodeMsgpack(msg.data, { lenient: true });
      if (value && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
        return value as Record<string, unknown>;
      }
    } catch (error) {
      why = (error as Error).message;
    }
    this.#hub.reportRefused(NODE, `a ${what} on ${msg.subject}: ${why}`);
    return null;
  }

  /** Logs connection events until the connection closes. */
  async #watch(nc: NatsConnection): Promise<void> {
    const closed = nc.closed().then((error) => {
      if (error && !this.#closed) {
        this.#hooks.log("error", `NATS connection closed: ${this.#scrub(error)}`);
      }
    });
    (async () => {
      for await (const status of nc.status()) {
        if (status.type === "disconnect") {
          this.#connected = false;
          socketsClosed();
          this.#hooks.log("warn", `disconnected from NATS server ${status.data}; reconnecting`);
        } else if (status.type === "reconnect") {
          this.#connected = true;
          this.#hooks.log("info", `reconnected to NATS server ${status.data}`);
          // Our own outage is not the peers' silence: they get a fresh grace from now.
          const now = performance.now();
          for (const peer of this.#peers.values()) {
            if (peer.state !== "gone") peer.lastSeen = Math.max(peer.lastSeen, now);
          }
          this.#announce();
        } else if (status.type === "error") {
          this.#hooks.log("warn", `NATS: ${this.#scrub(status.data)}`);
        }
      }
    })().catch(() => {});
    await closed;
  }

  /** A start failure as a clear error naming the servers, never a credential. */
  #startError(error: unknown, where: string): Error {
    const code = (error as { code?: unknown }).code;
    if (
      code === "AUTHORIZATION_VIOLATION" || code === "AUTHENTICATION_EXPIRED" ||
      code === "AUTHENTICATION_TIMEOUT" || code === "PERMISSIONS_VIOLATION"
    ) {
      return new AuthenticationError(
        `NATS at ${where} refused this runtime's credentials (${
          String(code).toLowerCase().replaceAll("_", " ")
        }); check transports.nats: user and password, token or creds`,
      );
    }
    if (code === "CONNECTION_REFUSED" || code === "TIMEOUT") {
      return new UnavailableError(
        `cannot connect to NATS at ${where} (${String(code).toLowerCase().replaceAll("_", " ")})`,
      );
    }
    return new UnavailableError(`cannot connect to NATS at ${where}: ${this.#scrub(error)}`);
  }

  /** An error's text with any credential of the topology blanked out. */
  #scrub(error: unknown): string {
    let text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const n = this.#spec.nats;
    for (const secret of [n.password, n.token]) {
      if (secret) text = text.replaceAll(secret, "***");
    }
    return text;
  }
}

/** The link the hub sees as node `@nats`: envelopes sent to it go to the bridge. */
class NatsLink implements Link {
  onEnvelope: (envelope: Envelope) => void = () => {};
  /** What the bridge hands on was decoded from NATS payloads: trees only. */
  readonly clones = false;
  readonly closed: Promise<LinkClosed>;
  readonly #out: (envelope: Envelope) => void;
  #resolve!: (reason: LinkClosed) => void;
  #isClosed = false;

  constructor(out: (envelope: Envelope) => void) {
    this.#out = out;
    this.closed = new Promise((resolve) => (this.#resolve = resolve));
  }

  send(envelope: Envelope): void {
    if (!this.#isClosed) this.#out(envelope);
  }

  close(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#resolve({ kind: "closed" });
  }
}

/** When nats.js last let go of a socket. */
let lastSocketClose = -Infinity;
let guarding = false;

/**
 * nats.js removes its socket's listeners when it closes a connection (after a refused login, on
 * shutdown, when a server goes); a reset that arrives after that is an 'error' event nobody
 * listens to, which Deno turns into an uncaught error that would end the process. Such resets,
 * within two seconds of a close, are dropped.
 */
function socketsClosed(): void {
  lastSocketClose = performance.now();
  if (guarding) return;
  guarding = true;
  globalThis.addEventListener("error", (event) => {
    const code = (event.error as { code?: unknown } | null)?.code;
    if (
      (code === "ECONNRESET" || code === "EPIPE") && performance.now() - lastSocketClose < 2_000
    ) {
      event.preventDefault();
    }
  });
}

/** Instances that may still answer: live, or stopping with work in hand. */
function liveInstances(routes: RouteTable): Set<string> {
  const live = new Set<string>();
  for (const entry of Object.values(routes)) {
    for (const inst of entry.instances) live.add(inst.i);
    for (const inst of entry.x ?? []) live.add(inst.i);
  }
  return live;
}

function notMsgpack(what: string): WireError {
  return {
    name: "FrameError",
    message: `${what} refused: its NATS payload is not a msgpack map`,
    kind: "frame",
  };
}

/** `promise`, or nothing after `ms` (the timer is cleared either way). */
async function bounded(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([promise, new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}
