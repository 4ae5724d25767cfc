/**
 * Requests from other runtimes, served here over NATS: each is checked at the edge by the rule
 * every link applies, then handed to a live local instance as a `req` envelope from node
 * `@nats/<origin>:<node>` (so deduplication of retries, typed errors and undelivered refusals
 * work as on any link), held while its container restarts (up to its buffer), or refused. The
 * instance's reply goes back to the request's reply inbox. A request whose instance leaves before
 * replying is refused after a short grace (a reply may still be on its way), on the injected clock.
 *
 * @module
 */
import { DEFAULTS } from "../config/topology.ts";
import type { Envelope, LogLevel, RouteTable } from "../protocol/envelope.ts";
import { envelopeProblem } from "../protocol/envelope_check.ts";
import type { WireError } from "../protocol/errors.ts";
import { pickReplica } from "../protocol/balancer.ts";
import { ownerIndex } from "../protocol/entity_owner.ts";
import type { Timers } from "./_clock.ts";
import { NATS_NODE } from "./_nats_presence.ts";
import type { Hub } from "./types.ts";

/** Grace before failing requests whose instance left (a reply may still be on its way), ms. */
const GRACE = 25;
/** Requests nobody answers (hung handler, dead runtime) are forgotten after this, ms. */
export const FORGET = 10 * 60_000;
/** Recently served retriable requests remembered, so a retry reaches the same instance. */
const RECENT = 10_000;

/** Why a message could not be published. */
export interface Refusal {
  name: string;
  message: string;
  kind: WireError["kind"];
}

/** What serving needs from its bridge. */
export interface ServingSite {
  /** The hub node (routes, local sends, refusal counts). */
  readonly hub: Hub;
  /** This runtime's name (in refusals). */
  readonly runtime: string;
  /** Whether this runtime serves container `name` over NATS now (it subscribes to it). */
  served(name: string): boolean;
  /** Hands an envelope to the hub as coming from `@nats`. */
  deliver(env: Envelope): void;
  /** Publishes `body` on `subject`; `null` when it left, else why not. */
  publish(subject: string, body: unknown): Refusal | null;
  /** The routes of this runtime's own containers. */
  ownRoutes(): RouteTable;
  /** Logs a line. */
  log(level: LogLevel, message: string): void;
}

/** A request received over NATS, before it reaches an instance. */
interface Incoming {
  name: string;
  from: string;
  i: number;
  t: string;
  b: unknown;
  r: boolean;
  /** W3C trace context, checked at the edge (a malformed one is dropped there). */
  tc?: string;
  ts?: string;
  /** The entity it is for: it goes to that id's owner. */
  e?: string;
  reply: string;
}

/** A request served here, waiting for its instance's reply. */
interface Serving {
  reply: string;
  to: string;
  at: number;
}

/** The requests this runtime serves for others over NATS. */
export class NatsServing {
  readonly #site: ServingSite;
  readonly #timers: Timers;
  readonly #serving = new Map<string, Serving>();
  /** Where recently served requests went, by key, with their slot in `#recentOrder`. */
  readonly #recent = new Map<string, { to: string; slot: number }>();
  /**
   * The keys of `#recent` in the order served, a ring: the oldest is found at once (deleting a
   * Map's first key and asking for the next first one costs a walk over the holes left behind).
   */
  readonly #recentOrder: (string | undefined)[] = new Array(RECENT);
  #recentNext = 0;
  readonly #held = new Map<string, Incoming[]>();
  readonly #turns = new Map<string, { turn: number; random: number }>();

  constructor(site: ServingSite, timers: Timers) {
    this.#site = site;
    this.#timers = timers;
  }

  /** How many requests wait for their instance's reply. */
  get size(): number {
    return this.#serving.size;
  }

  /**
   * A request or send for container `name`, which this runtime runs (its payload decoded, or
   * `null` when it was not a msgpack map). It is checked here, at the edge, by the rule every
   * link applies: a request that breaks it is answered with a FrameError saying why, a send is
   * dropped; both are counted and logged, and no container sees them.
   */
  incoming(name: string, p: Record<string, unknown> | null, reply: string | undefined): void {
    const hub = this.#site.hub;
    if (!p) {
      if (reply) this.#refuse(reply, notMsgpack(`request to "${name}"`));
      return;
    }
    if (!reply) {
      const send: Record<string, unknown> = { k: "send", to: name, t: p.t, b: p.b, e: p.e };
      if (p.tc !== undefined) send.tc = p.tc;
      if (p.ts !== undefined) send.ts = p.ts;
      const problem = envelopeProblem(send, "peer", { values: "tree" });
      if (problem !== null) return hub.reportRefused(NATS_NODE, `a send to "${name}": ${problem}`);
      try {
        // With what the edge check left of its trace context (a malformed one was removed).
        const trace = send.tc === undefined
          ? undefined
          : { tc: send.tc as string, ts: send.ts as string | undefined };
        hub.send(name, p.t as string, p.b, {}, p.e as string | undefined, trace);
      } catch (error) {
        this.#site.log(
          "debug",
          `a send to "${name}" over NATS dropped: ${(error as Error).message}`,
        );
      }
      return;
    }
    const req = { k: "req", i: p.i, s: p.s, to: name, t: p.t, b: p.b, r: p.r, tc: p.tc, ts: p.ts };
    if (p.tc === undefined) delete req.tc;
    if (p.ts === undefined) delete req.ts;
    const problem =
      (typeof p.o === "string"
        ? null
        : `field "o" (the requesting runtime) is ${typeof p.o}, expected a string`) ??
        envelopeProblem(req, "peer", { values: "tree" });
    if (problem !== null) {
      hub.reportRefused(NATS_NODE, `a request to "${name}": ${problem}`);
      const topic = typeof p.t === "string" ? `"${p.t}" ` : "";
      return this.#refuse(reply, {
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
      // What the edge check left: a malformed trace context was removed from `req`.
      tc: req.tc as string | undefined,
      ts: req.ts as string | undefined,
      e: p.e as string | undefined,
      reply,
    });
  }

  /** An instance's reply (or a refusal) to a request served here. */
  replied(env: Extract<Envelope, { k: "res" | "err" }>): void {
    const key = `${env.d}#${env.i}`;
    const serving = this.#serving.get(key);
    if (!serving) return;
    this.#serving.delete(key);
    const slot = this.#recentNext;
    this.#recentNext = (slot + 1) % RECENT;
    const oldest = this.#recentOrder[slot];
    if (oldest !== undefined && this.#recent.get(oldest)?.slot === slot) {
      this.#recent.delete(oldest);
    }
    this.#recentOrder[slot] = key;
    this.#recent.set(key, { to: serving.to, slot });
    const refused = this.#site.publish(
      serving.reply,
      env.k === "res" ? { b: env.b } : { e: env.e },
    );
    if (refused) {
      this.#refuse(serving.reply, {
        name: refused.name,
        message: `reply not sent: ${refused.message}`,
        kind: refused.kind,
      });
    }
  }

  /**
   * This runtime's own routes changed: held requests whose container is back go to it (those of
   * a container gone are refused); requests whose instance left are refused after a grace.
   */
  ownChanged(own: RouteTable): void {
    if (this.#held.size > 0) this.#release();
    if (this.#serving.size > 0) this.#watch(own);
  }

  /** Forgets requests older than {@linkcode FORGET} (nobody will answer them). */
  forget(now: number): void {
    for (const [key, serving] of this.#serving) {
      if (now - serving.at < FORGET) break; // insertion order: the rest are younger
      this.#serving.delete(key);
    }
  }

  /** Hands a request to a live instance of its container, holds it, or refuses it. */
  #dispatch(req: Incoming): void {
    const entry = this.#site.served(req.name) ? this.#site.hub.routes[req.name] : undefined;
    if (!entry || (entry.instances.length === 0 && !entry.w)) {
      return this.#refuse(req.reply, {
        name: "UnavailableError",
        message: `container "${req.name}" no longer runs on runtime "${this.#site.runtime}"`,
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
    const earlier = this.#serving.get(key)?.to ?? this.#recent.get(key)?.to;
    let to = earlier;
    if (req.e !== undefined) to = entry.instances[ownerIndex(req.e, entry.instances)].i;
    else if (to === undefined || !entry.instances.some((inst) => inst.i === to)) {
      let turns = this.#turns.get(req.name);
      if (!turns) this.#turns.set(req.name, turns = { turn: 0, random: 0 });
      turns.random = Math.random();
      to = entry.instances[pickReplica(entry.balance, entry.instances.length, turns)].i;
    }
    this.#serving.set(key, { reply: req.reply, to, at: this.#timers.now() });
    const env: Envelope = { k: "req", i: req.i, s: req.from, to, t: req.t, b: req.b };
    if (req.r) env.r = 1;
    if (req.tc !== undefined) env.tc = req.tc;
    if (req.ts !== undefined) env.ts = req.ts;
    if (req.e !== undefined) env.e = req.e;
    this.#site.deliver(env);
  }

  #refuse(reply: string, e: WireError): void {
    this.#site.publish(reply, { e });
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
  #watch(own: RouteTable): void {
    const live = liveInstances(own);
    const lost = [...this.#serving].filter(([, s]) => !live.has(s.to));
    if (lost.length === 0) return;
    this.#timers.after(GRACE, () => {
      const now = liveInstances(this.#site.ownRoutes());
      for (const [key, serving] of lost) {
        if (this.#serving.get(key) !== serving || now.has(serving.to)) continue;
        this.#serving.delete(key);
        this.#refuse(serving.reply, {
          name: "UnavailableError",
          message: `instance ${serving.to} is gone`,
          kind: "unavailable",
        });
      }
    });
  }
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

/** The refusal of a payload that is not a msgpack map. */
export function notMsgpack(what: string): WireError {
  return {
    name: "FrameError",
    message: `${what} refused: its NATS payload is not a msgpack map`,
    kind: "frame",
  };
}
