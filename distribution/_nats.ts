/**
 * Several runtimes over NATS: the runtime's bridge to a NATS server (or cluster), started when the
 * topology has `transports.nats`. It is an alternative to direct links (`_federation.ts`)
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
 * incoming ones are handed to a local instance as `req` envelopes from node
 * `@nats/<origin>:<node>`, so instance deduplication of retries, typed errors and undelivered
 * refusals work as on any link.
 *
 * Presence (`_nats_presence.ts`): a runtime silent for twice its keepalive is away (its containers
 * are held for, `w`, as for a restarting container), and after twice its keepalive more it is gone
 * (its containers are dropped, senders fail at once). Requests from other runtimes are served by
 * `_nats_serving.ts`. NATS "no responders" is an {@linkcode UnavailableError}.
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
import type { WireError } from "../protocol/errors.ts";
import { MsgpackEncoder } from "../protocol/msgpack.ts";
import { type Clock, SYSTEM_CLOCK, type TimerHandle, Timers } from "./_clock.ts";
import { NATS_NODE, NATS_SUFFIX, NatsPresence } from "./_nats_presence.ts";
import { FORGET, NatsServing, notMsgpack, type Refusal } from "./_nats_serving.ts";
import {
  bounded,
  decodePayload,
  NatsLink,
  scrubbed,
  socketsClosed,
  startError,
} from "./_nats_wire.ts";
import type { Hub, PeerSnapshot } from "./types.ts";

/** The validated `transports.nats:` block. */
type NatsSpec = NonNullable<TransportsSpec["nats"]>;

/** The peer name NATS has in the hub (node `@nats`). */
const PEER = NATS_NODE.slice(1);

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

/** How a bridge is made. */
export interface NatsOptions {
  /** The validated `transports:` block (with `nats`). */
  spec: TransportsSpec & { nats: NatsSpec };
  /** The application's name (subjects live under `kraken.<app>.`). */
  app: string;
  /** What the runtime provides. */
  hooks: NatsHooks;
  /** Time for presence and request bookkeeping (default: this isolate's). */
  clock?: Clock;
}

/** A request sent over NATS, waiting for its reply. */
interface Outgoing {
  s: string;
  i: number;
  name: string;
  at: number;
}

/**
 * The bridge between this runtime's hub and NATS.
 *
 * @example What distribution does with it
 * ```ts ignore
 * const bridge = new NatsBridge(hub, { spec: transports, app: "shop", hooks });
 * await bridge.start(); // connects, subscribes, announces this runtime's containers
 * hub.setRoutes({ ...bridge.routes(), ...own }); // containers of other runtimes, via @nats
 * bridge.publishOwn(); // after every change of this runtime's own routes
 * console.log(bridge.snapshot()); // the runtimes seen, for rt.tree().peers
 * await bridge.close();
 * ```
 */
export class NatsBridge {
  readonly #hub: Hub;
  readonly #spec: TransportsSpec & { nats: NatsSpec };
  readonly #hooks: NatsHooks;
  readonly #prefix: string;
  /** This runtime incarnation's id on NATS (a restarted runtime is a new peer). */
  readonly id = crypto.randomUUID().slice(0, 8);
  readonly #encoder = new MsgpackEncoder();
  readonly #timers: Timers;
  readonly #presence: NatsPresence;
  readonly #serving: NatsServing;
  #nc: NatsConnection | null = null;
  #inbox = "";
  #link: NatsLink | null = null;
  /** Containers this runtime serves over NATS, with their subscriptions. */
  readonly #served = new Map<string, Subscription>();
  #servedText = "";
  readonly #outgoing = new Map<number, Outgoing>();
  #tick: TimerHandle | undefined;
  #nextToken = 1;
  #announceQueued = false;
  /** Whether the connection to a NATS server is up now (false while reconnecting). */
  #connected = true;
  #closed = false;
  #monitor: Promise<void> = Promise.resolve();

  /**
   * @param hub The host's node.
   * @param options The `transports:` block, the application's name, the hooks and the clock.
   */
  constructor(hub: Hub, options: NatsOptions) {
    this.#hub = hub;
    this.#spec = options.spec;
    this.#hooks = options.hooks;
    this.#prefix = `kraken.${options.app}`;
    this.#timers = new Timers(options.clock ?? SYSTEM_CLOCK);
    const hooks = options.hooks;
    this.#presence = new NatsPresence({
      self: this.id,
      keepalive: options.spec.keepalive,
      clock: options.clock ?? SYSTEM_CLOCK,
      hooks: {
        changed: () => hooks.changed(),
        log: (level, message) => hooks.log(level, message),
        unreachable: (container, instance, silentFor) =>
          hooks.unreachable(container, instance, silentFor),
      },
    });
    this.#serving = new NatsServing({
      hub,
      runtime: options.spec.name,
      served: (name) => this.#served.has(name),
      deliver: (env) => this.#link?.onEnvelope(env),
      publish: (subject, body) => this.#publish(subject, body),
      ownRoutes: () => hooks.ownRoutes(),
      log: (level, message) => hooks.log(level, message),
    }, this.#timers);
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
      throw startError(error, where, (e) => this.#scrub(e));
    }
    const nc = this.#nc;
    this.#monitor = this.#watch(nc);
    this.#inbox = createInbox();
    nc.subscribe(`${this.#inbox}.*`, { callback: (_e, msg) => this.#answered(msg) });
    nc.subscribe(`${this.#prefix}.presence`, { callback: (_e, msg) => this.#heard(msg) });
    nc.subscribe(`${this.#prefix}.pub`, { callback: (_e, msg) => this.#published(msg) });
    this.#link = new NatsLink((env) => this.#out(env));
    this.#hub.attachPeer(PEER, this.#link, () => {});
    this.publishOwn();
    this.#announce();
    this.#tick = this.#timers.every(Math.max(10, this.#spec.keepalive / 2), () => this.#beat());
    this.#hooks.log("info", `connected to NATS at ${where} as runtime "${this.#spec.name}"`);
  }

  /** Containers run by other runtimes, reached through `@nats`. */
  routes(): RouteTable {
    return this.#presence.routes();
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
        callback: (_e, msg) =>
          this.#serving.incoming(name, this.#decode(msg, `message for "${name}"`), msg.reply),
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
    this.#serving.ownChanged(own);
  }

  /** The runtimes seen over NATS, for the tree. */
  snapshot(now?: number): PeerSnapshot[] {
    return this.#presence.snapshot(now);
  }

  /**
   * Leaves: announces it, stops taking requests, waits (at most a keepalive, 2 s at most) for the
   * ones being served, then closes the connection.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#timers.cancel(this.#tick);
    const nc = this.#nc;
    if (!nc) return;
    for (const sub of this.#served.values()) sub.unsubscribe();
    this.#served.clear();
    this.#publish(`${this.#prefix}.presence`, this.#presenceBody(true));
    // Real time: this waits for replies from real instances, it decides nothing.
    const end = performance.now() + Math.min(2_000, this.#spec.keepalive);
    while (this.#serving.size > 0 && performance.now() < end && !nc.isClosed()) {
      await new Promise((r) => setTimeout(r, 10));
    }
    this.#timers.clear();
    this.#hub.detach(NATS_NODE);
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
        const name = pseudoTarget(env.to);
        const token = this.#nextToken++;
        this.#outgoing.set(token, { s: env.s, i: env.i, name, at: this.#timers.now() });
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
      case "send":
        this.#publish(`${this.#prefix}.c.${pseudoTarget(env.to)}`, {
          o: this.id,
          t: env.t,
          b: env.b,
        });
        return;
      case "pub":
        this.#publish(`${this.#prefix}.pub`, { o: this.id, t: env.t, b: env.b });
        return;
      case "res":
      case "err":
        return this.#serving.replied(env);
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
    const f = `${name}${NATS_SUFFIX}`; // the pseudo-instance the request was addressed to
    if (msg.data.length === 0 && msg.headers?.code === 503) {
      // Nobody subscribes to the container right now. While a runtime still announces it, that is
      // a moment between subscriptions (it reconnects to another NATS node, or is restarting):
      // nothing ran, so the requester may send it again until its deadline.
      const e: WireError = {
        name: "UnavailableError",
        message: `no runtime serves container "${name}" on NATS (no responders)`,
        kind: "unavailable",
        ...(this.#presence.announces(name) ? { undelivered: true } : {}),
      };
      return this.#link?.onEnvelope({ k: "err", i, d, f, e });
    }
    // What arrives is checked at the hub's edge like any peer's reply: one whose body or error
    // breaks the rule reaches its requester as a FrameError, at once.
    const reply = this.#decode(msg, "reply");
    if (!reply) return this.#link?.onEnvelope({ k: "err", i, d, f, e: notMsgpack("reply") });
    if (reply.e !== undefined) {
      this.#link?.onEnvelope({ k: "err", i, d, f, e: reply.e as WireError });
    } else this.#link?.onEnvelope({ k: "res", i, d, f, b: reply.b });
  }

  #published(msg: Msg): void {
    const p = this.#decode(msg, "publication");
    if (!p || p.o === this.id) return;
    this.#link?.onEnvelope({ k: "pub", t: p.t as string, b: p.b });
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

  /** Another runtime's announcement; a newcomer learns of this runtime now, not a beat later. */
  #heard(msg: Msg): void {
    const p = this.#decode(msg, "presence announcement");
    if (p && this.#presence.heard(p)) this.#announce();
  }

  /** Every keepalive / 2: announce, expire silent runtimes, forget what nobody will answer. */
  #beat(): void {
    const now = this.#timers.now();
    this.#publish(`${this.#prefix}.presence`, this.#presenceBody());
    this.#presence.beat(this.#connected);
    for (const [token, out] of this.#outgoing) {
      if (now - out.at < FORGET) break; // insertion order: the rest are younger
      this.#outgoing.delete(token);
    }
    this.#serving.forget(now);
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

  /** A NATS payload as a map, or `null` (counted and logged as refused). */
  #decode(msg: Msg, what: string): Record<string, unknown> | null {
    const decoded = decodePayload(msg.data);
    if ("map" in decoded) return decoded.map;
    this.#hub.reportRefused(NATS_NODE, `a ${what} on ${msg.subject}: ${decoded.why}`);
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
          this.#presence.reconnected();
          this.#announce();
        } else if (status.type === "error") {
          this.#hooks.log("warn", `NATS: ${this.#scrub(status.data)}`);
        }
      }
    })().catch(() => {});
    await closed;
  }

  /** An error's text with any credential of the topology blanked out. */
  #scrub(error: unknown): string {
    return scrubbed(error, [this.#spec.nats.password, this.#spec.nats.token]);
  }
}

/** The container a `<name>@nats` pseudo-instance (or a plain name) stands for. */
function pseudoTarget(to: string): string {
  return to.endsWith(NATS_SUFFIX) ? to.slice(0, -NATS_SUFFIX.length) : to;
}
