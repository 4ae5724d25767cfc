/**
 * Several runtimes over NATS: the runtime's bridge to a NATS server (or cluster), started when the
 * topology has `transports.nats`. It is an alternative to direct links (`_federation.ts`)
 * for applications with many runtimes: every runtime connects to NATS only, and NATS carries the
 * traffic, spreads the load over replicas and survives the loss of one of its nodes.
 *
 * Subjects, all under `kraken.<app>.`:
 *
 * | subject                          | carries                                                     |
 * | -------------------------------- | ----------------------------------------------------------- |
 * | `kraken.<app>.c.<container>`     | requests (with a reply inbox) and sends to that container;  |
 * |                                  | every runtime running it subscribes in queue group `<name>` |
 * | `kraken.<app>.pub`               | publications (topic inside), one subject for the whole app  |
 * | `kraken.<app>.presence`          | each runtime's container names, every keepalive / 2         |
 * | `kraken.<app>.inbox.<runtime>.>` | replies to that runtime's requests                          |
 *
 * Payloads are MessagePack maps: a request `{o, s, i, t, b, r?}` (origin runtime, requesting node,
 * request id, topic, body, retriable), its reply `{b}` or `{e: WireError}` on the reply inbox; a
 * publication `{o, t, b}`; a presence announcement `{o, n, c, q, k, x?}` (origin, runtime name,
 * container names, their buffers, keepalive, leaving).
 *
 * With `transports.secret`, every message is signed and checked before anything acts on it
 * (`_nats_auth.ts`, `_nats_messages.ts`): an unsigned, wrongly signed or replayed one is dropped
 * and counted, and a reply is taken only when signed by a runtime that announces the container
 * the request went to. Without a secret, NATS permissions are the whole trust boundary.
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
 * (its containers are dropped, senders fail at once); what an announcement may say is bounded.
 * Requests from other runtimes are served by
 * `_nats_serving.ts`. NATS "no responders" is an {@linkcode UnavailableError}.
 *
 * The NATS client (nats.js v3: `@nats-io/nats-core` with `@nats-io/transport-node`, see
 * `_nats_wire.ts`) is imported only when a bridge starts: isolates that never use NATS (every
 * worker and process container) load nothing of it.
 *
 * @module
 */
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import type { TransportsSpec } from "../config/topology.ts";
import { DEFAULTS } from "../config/topology.ts";
import type { Envelope, LogLevel, RouteTable } from "../protocol/envelope.ts";
import type { WireError } from "../protocol/errors.ts";
import { type Clock, SYSTEM_CLOCK, type TimerHandle, Timers } from "./_clock.ts";
import { NATS_NODE, NATS_SUFFIX, NatsPresence } from "./_nats_presence.ts";
import { NatsMessages } from "./_nats_messages.ts";
import { FORGET, NatsServing, notMsgpack } from "./_nats_serving.ts";
import {
  bounded,
  connectNats,
  NatsLink,
  refusal,
  scrubbed,
  socketsClosed,
  subscribe,
  watch,
} from "./_nats_wire.ts";
import { Throttle } from "./_throttle.ts";
import type { Hub, PeerSnapshot } from "./types.ts";

/** The validated `transports.nats:` block. */
type NatsSpec = NonNullable<TransportsSpec["nats"]>;

/**
 * Routes learnt over NATS are handed to the runtime at once up to 10 times in a row, then once per
 * 100 ms at most: the runtime hands its whole table to each of its isolates each time.
 */
const CHANGES = { every: 100, burst: 10 };

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
  /** This runtime incarnation's id on NATS (a restarted runtime is a new peer): 16 hex digits. */
  readonly id = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
  /** Encodes and signs what leaves, checks and decodes what arrives. */
  readonly #messages: NatsMessages;
  readonly #timers: Timers;
  readonly #presence: NatsPresence;
  readonly #serving: NatsServing;
  #nc: NatsConnection | null = null;
  #inbox = "";
  #link: NatsLink | null = null;
  /** Containers this runtime serves over NATS, with their subscriptions. */
  readonly #served = new Map<string, Subscription>();
  /** Containers whose subscription the server refused (permissions): never announced. */
  readonly #denied = new Set<string>();
  #servedText = "";
  readonly #outgoing = new Map<number, Outgoing>();
  #tick: TimerHandle | undefined;
  /** Hands learnt routes to the runtime: at once, or at most every 100 ms during a flood. */
  readonly #changes: Throttle;
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
    this.#changes = new Throttle(this.#timers, CHANGES, () => options.hooks.changed());
    this.#messages = new NatsMessages({
      id: this.id,
      secret: options.spec.secret,
      hub,
      connection: () => this.#nc,
      log: (level, message) => options.hooks.log(level, message),
      scrub: (error) => this.#scrub(error),
    });
    const hooks = options.hooks;
    this.#presence = new NatsPresence({
      self: this.id,
      keepalive: options.spec.keepalive,
      clock: options.clock ?? SYSTEM_CLOCK,
      hooks: {
        changed: () => this.#changes.request(),
        log: (level, message) => hooks.log(level, message),
        unreachable: (container, instance, silentFor) =>
          hooks.unreachable(container, instance, silentFor),
        refused: (problem) => hub.reportRefused(NATS_NODE, problem),
      },
    });
    this.#serving = new NatsServing({
      hub,
      runtime: options.spec.name,
      served: (name) => this.#served.has(name),
      deliver: (env) => this.#link?.onEnvelope(env),
      publish: (subject, body) => this.#messages.publish(subject, body),
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
    const where = this.#spec.nats.servers.join(", ");
    const { nc, nuid } = await connectNats(
      this.#spec,
      this.#prefix.slice(7),
      (e) => this.#scrub(e),
    );
    this.#nc = nc;
    this.#monitor = this.#watch(nc);
    // Under the application's prefix and this runtime's name: NATS permissions can give each
    // runtime its own inboxes (docs/transports.md, "Permissions").
    this.#inbox = `${this.#prefix}.inbox.${this.#spec.name}.${nuid}`;
    this.#subscribe(nc, `${this.#inbox}.*`, (msg) => this.#answered(msg));
    this.#subscribe(nc, `${this.#prefix}.presence`, (msg) => this.#heard(msg));
    this.#subscribe(nc, `${this.#prefix}.pub`, (msg) => this.#published(msg));
    this.#link = new NatsLink((env) => this.#out(env));
    this.#hub.attachPeer(PEER, this.#link, () => {});
    this.publishOwn();
    this.#announce();
    this.#tick = this.#timers.every(Math.max(10, this.#spec.keepalive / 2), () => this.#beat());
    this.#hooks.log("info", `connected to NATS at ${where} as runtime "${this.#spec.name}"`);
    if (!this.#messages.signed) {
      this.#hooks.log(
        "warn",
        "NATS messages are not signed (no transports.secret): whoever NATS lets publish or " +
          `subscribe on ${this.#prefix}.> can act as any runtime of the application`,
      );
    }
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
      if (this.#served.has(name) || this.#denied.has(name)) continue;
      const sub = this.#subscribe(nc, `${this.#prefix}.c.${name}`, (msg) => {
        const opened = this.#messages.open(msg, `message for "${name}"`, true);
        if (opened) this.#serving.incoming(name, opened.map, msg.reply);
      }, {
        queue: name,
        // Not served after all: no longer announced, and not asked for again by this runtime.
        refused: () => {
          this.#denied.add(name);
          if (this.#served.get(name) !== sub) return;
          this.#served.delete(name);
          this.#servedText = "";
          this.#announce();
        },
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
   * Leaves: stops taking requests, waits (at most a keepalive, 2 s at most) for the ones being
   * served and sends their replies, announces that it left, then drains the connection.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#timers.cancel(this.#tick);
    const nc = this.#nc;
    if (!nc) return;
    for (const sub of this.#served.values()) sub.unsubscribe();
    this.#served.clear();
    // Real time: this waits for replies from real instances, it decides nothing. Meanwhile a new
    // request finds no responder here (another replica's runtime takes it, or its requester may
    // send it again); the leave is announced only after the replies, which NATS delivers first:
    // a requester that heard the leave first would fail them as sent to a runtime gone.
    const end = performance.now() + Math.min(2_000, this.#spec.keepalive);
    while (this.#serving.size > 0 && performance.now() < end && !nc.isClosed()) {
      await new Promise((r) => setTimeout(r, 10));
    }
    this.#messages.publish(`${this.#prefix}.presence`, this.#presenceBody(true));
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
        if (env.tc !== undefined) body.tc = env.tc;
        if (env.ts !== undefined) body.ts = env.ts;
        if (env.e !== undefined) body.e = env.e;
        const refused = this.#messages.publish(
          `${this.#prefix}.c.${name}`,
          body,
          `${this.#inbox}.${token}`,
        );
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
        const body: Record<string, unknown> = { o: this.id, t: env.t, b: env.b };
        if (env.e !== undefined) body.e = env.e;
        if (env.tc !== undefined) body.tc = env.tc;
        if (env.ts !== undefined) body.ts = env.ts;
        this.#messages.publish(`${this.#prefix}.c.${pseudoTarget(env.to)}`, body);
        return;
      }
      case "pub":
        this.#messages.publish(`${this.#prefix}.pub`, { o: this.id, t: env.t, b: env.b });
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
    const { s: d, i, name } = waiting;
    const f = `${name}${NATS_SUFFIX}`; // the pseudo-instance the request was addressed to
    if (msg.data.length === 0 && msg.headers?.code === 503) {
      // Nobody subscribes to the container right now. While a runtime still announces it, that is
      // a moment between subscriptions (it reconnects to another NATS node, or is restarting):
      // nothing ran, so the requester may send it again until its deadline. (The server says so
      // itself: this status is never signed; permissions keep others off our inbox.)
      const e: WireError = {
        name: "UnavailableError",
        message: `no runtime serves container "${name}" on NATS (no responders)`,
        kind: "unavailable",
        ...(this.#presence.announces(name) ? { undelivered: true } : {}),
      };
      this.#outgoing.delete(token);
      return this.#link?.onEnvelope({ k: "err", i, d, f, e });
    }
    const opened = this.#messages.open(msg, "reply", false);
    if (!opened) return; // refused: the request still waits for its real reply
    if (opened.signer !== null && !this.#presence.announcedBy(opened.signer, name)) {
      return this.#hub.reportRefused(
        NATS_NODE,
        `a reply for container "${name}" signed by runtime ${opened.signer}, which does not announce it`,
      );
    }
    this.#outgoing.delete(token);
    // What arrives is checked at the hub's edge like any peer's reply: one whose body or error
    // breaks the rule reaches its requester as a FrameError, at once.
    const reply = opened.map;
    if (!reply) return this.#link?.onEnvelope({ k: "err", i, d, f, e: notMsgpack("reply") });
    if (reply.e !== undefined) {
      this.#link?.onEnvelope({ k: "err", i, d, f, e: reply.e as WireError });
    } else this.#link?.onEnvelope({ k: "res", i, d, f, b: reply.b });
  }

  #published(msg: Msg): void {
    const p = this.#messages.open(msg, "publication", true)?.map;
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
      this.#messages.publish(`${this.#prefix}.presence`, this.#presenceBody());
    });
  }

  /** Another runtime's announcement; a newcomer learns of this runtime now, not a beat later. */
  #heard(msg: Msg): void {
    const p = this.#messages.open(msg, "presence announcement", true)?.map;
    if (p && this.#presence.heard(p)) this.#announce();
  }

  /** Every keepalive / 2: announce, expire silent runtimes, forget what nobody will answer. */
  #beat(): void {
    const now = this.#timers.now();
    this.#messages.publish(`${this.#prefix}.presence`, this.#presenceBody());
    this.#presence.beat(this.#connected);
    for (const [token, out] of this.#outgoing) {
      if (now - out.at < FORGET) break; // insertion order: the rest are younger
      this.#outgoing.delete(token);
    }
    this.#serving.forget(now);
    this.#messages.forget();
  }

  // ---- plumbing ------------------------------------------------------------------------------

  /** Subscribes `subject`; a refusal by the server is logged (`subscribe` in `_nats_wire.ts`). */
  #subscribe(
    nc: NatsConnection,
    subject: string,
    message: (msg: Msg) => void,
    options: { queue?: string; refused?: () => void } = {},
  ): Subscription {
    return subscribe(nc, subject, {
      queue: options.queue,
      message,
      refused: (error) => {
        if (this.#closed) return;
        this.#hooks.log("error", refusal(subject, options.queue, this.#scrub(error)));
        options.refused?.();
      },
    });
  }

  /** Logs connection events until the connection closes; tracks whether it is up. */
  #watch(nc: NatsConnection): Promise<void> {
    const log = (level: LogLevel, message: string) => this.#hooks.log(level, message);
    return watch(nc, {
      down: (server) => {
        this.#connected = false;
        log("warn", `disconnected from NATS server ${server}; reconnecting`);
      },
      up: (server) => {
        this.#connected = true;
        log("info", `reconnected to NATS server ${server}`);
        this.#presence.reconnected();
        this.#announce();
      },
      error: (error) => log("warn", `NATS: ${this.#scrub(error)}`),
      closed: (error) => {
        if (!this.#closed) log("error", `NATS connection closed: ${this.#scrub(error)}`);
      },
    });
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
