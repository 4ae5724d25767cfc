/**
 * The node: one isolate's message router, the same code in the host, in every worker and in every
 * process. It owns the links to other nodes, the routing table, the requests waiting for replies,
 * the local subscribers and the container instances hosted here.
 *
 * The host's node is the hub: it knows every node, relays what a node cannot deliver directly
 * (replies to a process, requests from a process to a worker) and fans publications out. Other
 * nodes have one upstream link to the hub plus direct links to peer workers, so worker-to-worker
 * traffic skips the host thread.
 *
 * @module
 */
import type { Envelope, LogLevel, RouteTable } from "../protocol/envelope.ts";
import {
  errorFromWire,
  TimeoutError,
  UnavailableError,
  type WireError,
} from "../protocol/errors.ts";
import { copyWireValue } from "../protocol/wire_value.ts";
import { type CheckOptions, type Edge, envelopeProblem } from "../protocol/envelope_check.ts";
import { refusalAnswer, RefusalCounter } from "./_edge.ts";
import type { Link } from "../transports/link.ts";
import { pickReplica } from "../protocol/balancer.ts";
import type { ContainerRef, MessageMeta, RequestOptions, SendOptions } from "./container.ts";
import { type Pending, PendingRequests } from "./_pending.ts";
import { within } from "../protocol/routes.ts";

/** A container instance as the node sees it. */
export interface HostedInstance {
  /** Handles a request or send addressed to it. */
  receive(envelope: Extract<Envelope, { k: "req" | "send" }>): void;
}

/** What the node's owner handles: envelopes that are not messaging, and log lines. */
export interface NodeHooks {
  /** Control envelopes (init, ready, exit, stopped, stop, ping, pong). */
  onControl(envelope: Envelope, from: string): void;
  /**
   * A log line from a container in this node (or, in the hub, from any node). `from` is the node
   * it came from (this node's id for its own): the owner checks that node may speak for `instance`.
   */
  onLog(level: LogLevel, message: string, instance: string, from: string): void;
  /**
   * Node `from` sent something it had no right to (a forged sender, a reply to a request it was
   * never given, a routing table or `down` from below) or that breaks the edge rule (malformed,
   * too deep): the envelope was dropped. `logged`: the node already logged it (rate-limited).
   */
  onViolation?(from: string, what: string, logged: boolean): void;
}

interface WaitingRequest extends Pending {
  readonly name: string;
  readonly topic: string;
  readonly body: unknown;
  readonly timeout: number;
  readonly key?: string;
  retriesLeft: number;
  /** Sent with retries: every attempt carries the dedupe flag, the last one included. */
  readonly retriable: boolean;
  /** Instances an earlier attempt went to: a late reply from one of them is still its answer. */
  tried?: string[];
  /** Waiting in a restart buffer (not at any instance). */
  held: boolean;
  /** The sender's choice: wait for a restarting container (`true`) or fail at once. */
  readonly hold: boolean;
  /** Its instance left the routing table: a failover is scheduled. */
  orphaned: boolean;
  target: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

type Listener = (body: unknown, meta: MessageMeta) => void;

/** A message waiting for a container to come back: a request, or a send. */
type Held = { request: WaitingRequest } | { send: { t: string; b: unknown; key?: string } };

const DEFAULT_TIMEOUT = 5000;
/**
 * How long an instance that left the routing table is still known by its node: a reply it sent
 * just before it went (e.g. a worker that answered, then crashed) may arrive after the table
 * changed, and is checked against where the instance was.
 */
const GONE_MEMORY_MS = 30_000;
/** At most this many departed instances are remembered (a churning app must not grow it). */
const GONE_MEMORY_MAX = 10_000;
/** What {@linkcode Node.#choose} returns for a restarting container: hold the message. */
const HOLD = Symbol("hold");
const RETRY_DELAY = 25;

/** One isolate's router. */
export class Node {
  /** This node's id (`host`, `w3`, `p4`, …). */
  readonly id: string;
  /** Whether this is the hub (the host's node). */
  readonly isHub: boolean;
  readonly #hooks: NodeHooks;
  #upstream: Link | null = null;
  readonly #links = new Map<string, Link>();
  #routes: RouteTable = {};
  #globalRoutes: RouteTable = {};
  #localRoutes: RouteTable | null = null;
  /** Messages held per container while it restarts (`w` in its route entry). */
  readonly #held = new Map<string, Held[]>();
  readonly #instanceNode = new Map<string, string>();
  /** Instances that left the table recently, with their node and when (see GONE_MEMORY_MS). */
  readonly #departed = new Map<string, { node: string; at: number }>();
  /** Violations per offending node (what they sent was dropped). */
  readonly #violations = new Map<string, number>();
  readonly #turns = new Map<string, { turn: number; random: number; key?: string }>();
  readonly #local = new Map<string, HostedInstance>();
  readonly #pending: PendingRequests<WaitingRequest>;
  readonly #subscribers = new Map<string, Set<Listener>>();
  readonly #nodeSubscriptions = new Map<string, Set<string>>();
  readonly #retryTimers = new Set<ReturnType<typeof setTimeout>>();
  /** Links to peer runtimes (hub only): replies crossing them lose their `@peer/` prefix. */
  readonly #peerLinks = new Set<Link>();
  #nextId = 1;
  #closed = false;
  #relayed = 0;
  readonly #refusals = new RefusalCounter();

  /**
   * @param id This node's id.
   * @param hooks Control and log handlers.
   * @param options `hub` for the host's node; `now` to inject a clock.
   */
  constructor(id: string, hooks: NodeHooks, options: { hub?: boolean; now?: () => number } = {}) {
    this.id = id;
    this.isHub = options.hub ?? false;
    this.#hooks = hooks;
    this.#pending = new PendingRequests<WaitingRequest>({
      onExpire: (p) => this.#expired(p),
      now: options.now,
    });
  }

  // ---- links -------------------------------------------------------------------------------

  /** Sets the link to the hub (non-hub nodes). */
  setUpstream(link: Link): void {
    this.#upstream = link;
    link.onEnvelope = (env) => this.receive(env, "host");
  }

  /**
   * Adds a direct link to node `id` (the hub: every node; a worker: peer workers). What comes
   * over it is checked at the edge (a node below, or a sibling worker's port) before anything
   * handles it.
   */
  attach(id: string, link: Link): void {
    this.#links.get(id)?.close();
    this.#links.set(id, link);
    const edge: Edge = this.#below(id) ? "child" : "sibling";
    const checks = checksFor(link, id);
    link.onRefused = (problem) => this.reportRefused(id, problem);
    link.onEnvelope = (env, checked) => {
      const problem = envelopeProblem(env, edge, checked ? checks.checked : checks.unchecked);
      if (problem === null) this.receive(env, id);
      else this.#refuse(env, id, link, problem, edge);
    };
  }

  /** Drops the link to node `id` and everything that depended on it. */
  detach(id: string): void {
    const link = this.#links.get(id);
    if (!link) return;
    this.#links.delete(id);
    link.close();
    for (const nodes of this.#nodeSubscriptions.values()) nodes.delete(id);
  }

  /**
   * Links a peer runtime (hub only) as node `@name`: requests from it get their sender prefixed
   * (`@name/w3`), replies to it lose the prefix, publications cross both ways once.
   * @param onControl Receives the peer's control envelopes (join, routes, ping, pong).
   */
  attachPeer(name: string, link: Link, onControl: (envelope: Envelope) => void): void {
    const id = `@${name}`;
    this.#links.get(id)?.close();
    this.#links.set(id, link);
    this.#peerLinks.add(link);
    link.closed.then(() => this.#peerLinks.delete(link));
    const checks = checksFor(link);
    link.onRefused = (problem) => this.reportRefused(id, problem);
    link.onEnvelope = (env, checked) => {
      const problem = envelopeProblem(env, "peer", checked ? checks.checked : checks.unchecked);
      if (problem !== null) return this.#refuse(env, id, link, problem, "peer");
      switch (env.k) {
        case "req":
          return this.receive({ ...env, s: `${id}/${env.s}` }, id);
        case "send":
        case "res":
        case "err":
        case "pub":
          return this.receive(env, id);
        default:
          return onControl(env);
      }
    };
  }

  /** An envelope refused at the edge: never handled here, answered where it is owed, counted. */
  #refuse(env: unknown, from: string, link: Link, problem: string, edge: Edge): void {
    this.reportRefused(from, problem);
    const answer = refusalAnswer(env, from, edge, problem);
    if (answer?.via === "back") link.send(answer.env);
    else if (answer) this.receive(answer.env, from);
  }

  /**
   * Counts input refused from node `from` (by this node's edge check, or before it: a link's
   * malformed frame, a NATS message) and logs it, at most once a second.
   */
  reportRefused(from: string, problem: string): void {
    const line = this.#refusals.note(from, problem);
    if (line !== null) this.log("warn", line, this.isHub ? "runtime" : this.id);
    this.#violations.set(from, (this.#violations.get(from) ?? 0) + 1);
    this.#hooks.onViolation?.(from, problem, true);
  }

  /** Envelopes and frames refused at this node's edges so far. */
  get refused(): number {
    return this.#refusals.count;
  }

  /** Sends `env` over `link` toward node `node`; a reply leaving for a peer loses the prefix. */
  #send(link: Link, env: Envelope, _node: string): void {
    if ((env.k === "res" || env.k === "err") && this.#peerLinks.has(link)) {
      const slash = env.d.indexOf("/");
      link.send({ ...env, d: env.d.slice(slash + 1) });
    } else link.send(env);
  }

  /** Sends an envelope straight over the link to node `id` (control traffic). */
  sendTo(id: string, envelope: Envelope): boolean {
    const link = id === "host" && !this.isHub ? this.#upstream : this.#links.get(id);
    if (!link) return false;
    link.send(envelope);
    return true;
  }

  /**
   * The next hop toward node `id`. Node ids are paths: `w1` is a child of the host, `p2/w1` a child
   * of `p2`. A node reaches its own children (and direct peers) by link, and everything else
   * through its upstream.
   */
  #hop(id: string): Link | undefined {
    const direct = this.#links.get(id);
    if (direct) return direct;
    if (this.isHub) {
      const slash = id.indexOf("/");
      return slash < 0 ? undefined : this.#links.get(id.slice(0, slash));
    }
    const mine = `${this.id}/`;
    if (id.startsWith(mine)) {
      const slash = id.indexOf("/", mine.length);
      return this.#links.get(slash < 0 ? id : id.slice(0, slash));
    }
    return this.#upstream ?? undefined;
  }

  /** Whether node `id` is a child (or deeper) of this one. */
  #below(id: string): boolean {
    return this.isHub ? id !== this.id : id.startsWith(`${this.id}/`);
  }

  /** Node ids this node has direct links to. */
  get linkedNodes(): string[] {
    return [...this.#links.keys()];
  }

  // ---- instances and routes ----------------------------------------------------------------

  /** Hosts an instance here: envelopes addressed to `id` reach it. */
  host(id: string, instance: HostedInstance): void {
    this.#local.set(id, instance);
  }

  /** Stops hosting instance `id`. */
  unhost(id: string): void {
    this.#local.delete(id);
  }

  /** Replaces the routing table (in a non-hub node: the application's, from the hub). */
  setRoutes(routes: RouteTable): void {
    this.#globalRoutes = routes;
    this.#applyRoutes();
  }

  /**
   * Routes of the subtree this node supervises: they override the hub's table, which learns of
   * them one round trip later.
   */
  setLocalRoutes(routes: RouteTable | null): void {
    this.#localRoutes = routes;
    this.#applyRoutes();
  }

  #applyRoutes(): void {
    const routes = this.#localRoutes
      ? { ...this.#globalRoutes, ...this.#localRoutes }
      : this.#globalRoutes;
    this.#routes = routes;
    const before = new Map(this.#instanceNode);
    this.#instanceNode.clear();
    for (const name in routes) {
      for (const inst of routes[name].instances) this.#instanceNode.set(inst.i, inst.n);
      for (const inst of routes[name].x ?? []) this.#instanceNode.set(inst.i, inst.n);
    }
    this.#rememberDeparted(before);
    if (this.#held.size > 0) this.#release();
    if (this.#pending.size > 0) this.#watchTargets();
  }

  /** Keeps the node of each instance that just left the table, for a while (bounded). */
  #rememberDeparted(before: Map<string, string>): void {
    const now = this.#pending.now();
    for (const [instance, node] of before) {
      if (!this.#instanceNode.has(instance)) this.#departed.set(instance, { node, at: now });
    }
    for (const [instance, { at }] of this.#departed) {
      // Oldest first (insertion order): stop at the first one still young enough.
      if (now - at <= GONE_MEMORY_MS && this.#departed.size <= GONE_MEMORY_MAX) break;
      this.#departed.delete(instance);
    }
  }

  /** The node instance `id` lives in (or lived in until a moment ago). */
  #nodeOf(id: string): string | undefined {
    return this.#instanceNode.get(id) ?? this.#departed.get(id)?.node;
  }

  /**
   * Whether what node `from` sends is taken on trust: this node's own envelopes and, in a node
   * below the hub, its parent's (the authority that started it). Everything from a child, a
   * sibling worker or a peer runtime is checked: it runs container code.
   */
  #trusted(from: string): boolean {
    return from === this.id || (!this.isHub && from === "host");
  }

  /** Drops an envelope node `from` had no right to send, and reports it. */
  #violation(from: string, what: string): void {
    this.#violations.set(from, (this.#violations.get(from) ?? 0) + 1);
    const line = this.#refusals.note(from, what);
    if (this.#hooks.onViolation) this.#hooks.onViolation(from, what, false);
    else if (line !== null) this.log("warn", line, this.isHub ? "runtime" : this.id);
  }

  /** How many envelopes each node sent that were dropped as violations. */
  get violations(): ReadonlyMap<string, number> {
    return this.#violations;
  }

  /**
   * Requests whose instance left the routing table will get no reply: after a short grace (a reply
   * may still be on its way over another channel), they fail over, or fail with UnavailableError.
   */
  #watchTargets(): void {
    const orphans: [WaitingRequest, string][] = [];
    for (const waiting of this.#pending.values()) {
      if (
        !waiting.held && !waiting.orphaned && waiting.target !== "" &&
        !this.#instanceNode.has(waiting.target)
      ) {
        waiting.orphaned = true; // one failover per loss, however many tables follow
        orphans.push([waiting, waiting.target]);
      }
    }
    if (orphans.length === 0) return;
    const timer = setTimeout(() => {
      this.#retryTimers.delete(timer);
      for (const [waiting, target] of orphans) {
        waiting.orphaned = false;
        if (this.#pending.get(waiting.id) !== waiting || waiting.held) continue;
        // Sent elsewhere meanwhile (e.g. refused undelivered and re-sent): not this loss's to fail.
        if (waiting.target !== target) continue;
        if (this.#instanceNode.has(waiting.target)) continue;
        this.#failover(waiting, `instance ${waiting.target} is gone`);
      }
    }, RETRY_DELAY);
    this.#retryTimers.add(timer);
  }

  /** The routing table in force. */
  get routes(): RouteTable {
    return this.#routes;
  }

  // ---- messaging API -----------------------------------------------------------------------

  /** A reference to container `name` that sends from this node. */
  ref(name: string): ContainerRef {
    return new NodeRef(this, name);
  }

  /** Sends a request to container `name` and waits for its reply. */
  request(
    name: string,
    topic: string,
    body: unknown,
    options: RequestOptions = {},
  ): Promise<unknown> {
    const copied = copyWireValue(body, "body");
    const timeout = options.timeout ?? DEFAULT_TIMEOUT;
    if (!(timeout > 0) || !Number.isFinite(timeout)) {
      throw new RangeError(`request timeout must be a positive number of ms, got ${timeout}`);
    }
    const retries = options.retries ?? 0;
    if (!Number.isInteger(retries) || retries < 0) {
      throw new RangeError(`request retries must be a whole number >= 0, got ${retries}`);
    }
    if (typeof topic !== "string") {
      throw new TypeError(`topic must be a string, got ${typeof topic}`);
    }
    const target = this.#choose(name, options.key, retries > 0);
    return new Promise((resolve, reject) => {
      const waiting: WaitingRequest = {
        id: this.#nextId++,
        deadline: this.#pending.now() + timeout,
        name,
        topic,
        body: copied,
        timeout,
        key: options.key,
        retriesLeft: retries,
        retriable: retries > 0,
        held: false,
        hold: options.hold !== false,
        orphaned: false,
        target: typeof target === "string" ? target : "",
        resolve,
        reject,
      };
      if (target === HOLD) {
        if (!waiting.hold) throw this.#notHeld(name);
        this.#hold(name, { request: waiting }); // throws when the buffer is full
        this.#pending.add(waiting);
        return;
      }
      this.#pending.add(waiting);
      if (target === undefined) this.#retryLater(waiting);
      else this.#sendRequest(waiting);
    });
  }

  #notHeld(name: string): UnavailableError {
    return new UnavailableError(
      `container "${name}" is restarting or its runtime is away (and the sender chose hold: false)`,
    );
  }

  /** Holds a message for a restarting container, or throws when its buffer here is full. */
  #hold(name: string, held: Held): void {
    if ("request" in held && held.request.held) return; // already waiting in the buffer
    let queue = this.#held.get(name);
    if (!queue) this.#held.set(name, queue = []);
    // Requests that timed out meanwhile no longer take room.
    const live = queue.filter((h) =>
      !("request" in h) || this.#pending.get(h.request.id) === h.request
    );
    if (live.length !== queue.length) this.#held.set(name, queue = live);
    const limit = this.#routes[name]?.q ?? 0;
    if (queue.length >= limit) {
      throw new UnavailableError(
        `container "${name}" is restarting and ${
          limit === 0
            ? "holds no messages (buffer: 0)"
            : `already holds ${limit} messages from here`
        }`,
      );
    }
    queue.push(held);
    if ("request" in held) held.request.held = true;
  }

  /** Delivers held messages to containers that are back; fails them for containers that are gone. */
  #release(): void {
    for (const [name, queue] of this.#held) {
      const entry = this.#routes[name];
      if (entry && entry.instances.length === 0 && entry.w) continue; // still restarting
      this.#held.delete(name);
      for (const held of queue) {
        if ("request" in held) {
          const waiting = held.request;
          waiting.held = false;
          if (this.#pending.get(waiting.id) !== waiting) continue; // timed out meanwhile
          this.#resend(waiting);
        } else if (entry && entry.instances.length > 0) {
          const target = this.#choose(name, held.send.key, false) as string;
          this.#deliver(
            { k: "send", to: target, t: held.send.t, b: held.send.b },
            this.#instanceNode.get(target)!,
          );
        }
      }
    }
  }

  /**
   * Messages this node holds per restarting container (read-only; requests that timed out
   * meanwhile are not counted): part of a container's queue depth in `rt.metrics()`.
   */
  heldCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const [name, queue] of this.#held) {
      let n = 0;
      for (const held of queue) {
        if (!("request" in held) || this.#pending.get(held.request.id) === held.request) n++;
      }
      if (n > 0) counts[name] = n;
    }
    return counts;
  }

  /** Sends a message to container `name` without waiting. */
  send(name: string, topic: string, body: unknown, options: SendOptions = {}): void {
    const copied = copyWireValue(body, "body");
    const target = this.#choose(name, options.key, false);
    if (target === HOLD) {
      if (options.hold === false) throw this.#notHeld(name);
      return this.#hold(name, { send: { t: topic, b: copied, key: options.key } });
    }
    this.#deliver(
      { k: "send", to: target!, t: topic, b: copied },
      this.#instanceNode.get(target!)!,
    );
  }

  /** Publishes to every subscriber of `topic` across the application. */
  publish(topic: string, body: unknown): void {
    const env: Envelope = { k: "pub", t: topic, b: copyWireValue(body, "body") };
    if (this.isHub) this.receive(env, this.id);
    else this.#upstream?.send(env);
  }

  /** Subscribes a listener here; the hub learns this node wants the topic. */
  subscribe(topic: string, listener: Listener): () => void {
    const wanted = this.#wants(topic);
    let set = this.#subscribers.get(topic);
    if (!set) this.#subscribers.set(topic, set = new Set());
    set.add(listener);
    if (!this.isHub && !wanted) this.#upstream?.send({ k: "sub", t: topic });
    return () => {
      const current = this.#subscribers.get(topic);
      if (!current?.delete(listener) || current.size > 0) return;
      this.#subscribers.delete(topic);
      if (!this.isHub && !this.#wants(topic)) this.#upstream?.send({ k: "unsub", t: topic });
    };
  }

  /** Replies to a request (called by the instance it was addressed to). */
  reply(request: { i: number; s: string; to: string }, body: unknown): void {
    this.#deliver({ k: "res", i: request.i, d: request.s, f: request.to, b: body }, request.s);
  }

  /** Sends an error reply to a request, from (or on behalf of) the instance it was addressed to. */
  replyError(request: { i: number; s: string; to: string }, error: WireError): void {
    this.#deliver({ k: "err", i: request.i, d: request.s, f: request.to, e: error }, request.s);
  }

  /** Sends a log line toward the hub (or hands it to the hub's owner). */
  log(level: LogLevel, message: string, instance: string): void {
    if (this.isHub || !this.#upstream) this.#hooks.onLog(level, message, instance, this.id);
    else this.#upstream.send({ k: "log", l: level, m: message, c: instance });
  }

  /** Fails every waiting request and drops every link. */
  close(reason = "the runtime is shutting down"): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#retryTimers) clearTimeout(timer);
    this.#retryTimers.clear();
    for (const waiting of this.#pending.drain()) waiting.reject(new UnavailableError(reason));
    for (const id of [...this.#links.keys()]) this.detach(id);
    this.#upstream?.close();
  }

  // ---- receiving ---------------------------------------------------------------------------

  /**
   * Handles one envelope that arrived from node `from` (or was sent locally). What comes from a
   * node below or beside this one speaks only for that node: a request's sender must be that node
   * (or below it), a reply must come from the node of the instance it answers for, and a routing
   * table or `down` is taken only from above. Anything else is dropped and reported.
   */
  receive(env: Envelope, from: string): void {
    switch (env.k) {
      case "req":
      case "send": {
        if (env.k === "req" && !this.#trusted(from) && !within(env.s, from)) {
          return this.#violation(from, `a request claiming to come from node ${env.s}`);
        }
        const local = this.#local.get(env.to);
        if (local) return local.receive(env);
        const node = this.#instanceNode.get(env.to);
        if (node !== undefined && node !== this.id && node !== from) {
          if (this.#forward(env, node, from)) return;
        }
        if (env.k === "req") {
          this.replyError(env, {
            name: "UnavailableError",
            message: `instance ${env.to} is gone`,
            kind: "unavailable",
            undelivered: true,
          });
        }
        return;
      }
      case "res":
      case "err": {
        if (!this.#trusted(from)) {
          const node = typeof env.f === "string" ? this.#nodeOf(env.f) : undefined;
          if (node === undefined || !within(node, from)) {
            return this.#violation(from, `a reply on behalf of instance ${env.f}, not its own`);
          }
        }
        if (env.d === this.id) return this.#settle(env, from);
        this.#forward(env, env.d, from);
        return;
      }
      case "pub":
        return this.#publishHere(env, from);
      case "sub":
      case "unsub": {
        const before = this.#wants(env.t);
        let nodes = this.#nodeSubscriptions.get(env.t);
        if (env.k === "sub") {
          if (!nodes) this.#nodeSubscriptions.set(env.t, nodes = new Set());
          nodes.add(from);
        } else nodes?.delete(from);
        // A middle node subscribes upstream on behalf of the nodes below it.
        if (!this.isHub && before !== this.#wants(env.t)) this.#upstream?.send(env);
        return;
      }
      case "routes":
        if (this.isHub || from !== "host") {
          return this.#violation(from, "a routing table (only the hub hands one down)");
        }
        this.setRoutes(env.r);
        // The nodes below this one get the application's table from here.
        for (const id of this.#links.keys()) if (this.#below(id)) this.#links.get(id)!.send(env);
        return;
      case "down":
        if (this.isHub || from !== "host") {
          return this.#violation(
            from,
            `a "down" for node ${env.n} (only the hub says one is gone)`,
          );
        }
        return this.detach(env.n);
      case "log":
        if (this.isHub || !this.#upstream) this.#hooks.onLog(env.l, env.m, env.c, from);
        else this.#upstream.send(env);
        return;
      default:
        return this.#hooks.onControl(env, from);
    }
  }

  /** Whether anything at or below this node listens to `topic`. */
  #wants(topic: string): boolean {
    return (this.#subscribers.get(topic)?.size ?? 0) > 0 ||
      (this.#nodeSubscriptions.get(topic)?.size ?? 0) > 0;
  }

  #publishHere(env: Extract<Envelope, { k: "pub" }>, from: string): void {
    if (!this.isHub && from !== "host" && from !== this.id) {
      // From below: the hub fans it out to everyone, this node included.
      this.#upstream?.send(env);
      return;
    }
    const listeners = this.#subscribers.get(env.t);
    if (listeners) {
      const meta: MessageMeta = { topic: env.t, kind: "publish" };
      for (const listener of [...listeners]) listener(env.b, meta);
    }
    if (!this.isHub && from === this.id) return;
    const nodes = this.#nodeSubscriptions.get(env.t);
    if (nodes) { for (const node of nodes) this.#links.get(node)?.send(env); }
    // The hub hands its application's publications to peer runtimes (not back to one).
    if (this.isHub && !from.startsWith("@")) {
      for (const [id, link] of this.#links) if (id.startsWith("@")) link.send(env);
    }
  }

  #forward(env: Envelope, node: string, from: string): boolean {
    const link = this.#hop(node);
    if (!link || link === this.#hop(from)) return false;
    this.#relayed++;
    this.#send(link, env, node);
    return true;
  }

  /** Requests and replies this hub passed on between two other nodes. */
  get relayed(): number {
    return this.#relayed;
  }

  #deliver(env: Envelope, node: string): void {
    if (node === this.id) return this.receive(env, this.id);
    const link = this.#hop(node);
    if (link) return this.#send(link, env, node);
    // No way to that node any more: a request fails over, a reply has nobody left to wait.
    if (env.k === "req") {
      this.receive({
        k: "err",
        i: env.i,
        d: env.s,
        f: env.to,
        e: {
          name: "UnavailableError",
          message: `instance ${env.to} is gone`,
          kind: "unavailable",
          undelivered: true,
        },
      }, this.id);
    }
  }

  // ---- requests ----------------------------------------------------------------------------

  /**
   * The instance to address; {@linkcode HOLD} when the container is restarting (hold the message);
   * `undefined` when none is live but retries may wait for one.
   */
  #choose(
    name: string,
    key: string | undefined,
    mayWait: boolean,
    prefer?: string,
  ): string | typeof HOLD | undefined {
    const entry = this.#routes[name];
    if (!entry) {
      throw new UnavailableError(
        `no container named "${name}" (known: ${Object.keys(this.#routes).join(", ") || "none"})`,
      );
    }
    const instances = entry.instances;
    if (instances.length === 0) {
      if (entry.w) return HOLD;
      if (mayWait) return undefined;
      throw new UnavailableError(`container "${name}" has no live instance (it may be restarting)`);
    }
    if (prefer !== undefined && instances.some((inst) => inst.i === prefer)) return prefer;
    let state = this.#turns.get(name);
    if (!state) this.#turns.set(name, state = { turn: 0, random: 0 });
    state.key = key;
    state.random = Math.random();
    return instances[pickReplica(entry.balance, instances.length, state)].i;
  }

  #sendRequest(waiting: WaitingRequest): void {
    const env: Envelope = {
      k: "req",
      i: waiting.id,
      s: this.id,
      to: waiting.target,
      t: waiting.topic,
      b: waiting.body,
    };
    if (waiting.retriable) env.r = 1;
    const node = this.#instanceNode.get(waiting.target);
    if (node === undefined) return this.#failover(waiting, `instance ${waiting.target} is gone`);
    this.#deliver(env, node);
  }

  #settle(env: Extract<Envelope, { k: "res" | "err" }>, from: string): void {
    const waiting = this.#pending.get(env.i);
    if (!waiting) return; // late: its requester already gave up, and nobody else may get it
    if (env.f !== waiting.target && !waiting.tried?.includes(env.f)) {
      // Not from an instance this request went to: a forged (or misrouted) answer.
      return this.#violation(
        from,
        `a reply to request ${env.i} from instance ${env.f}, which it was not sent to`,
      );
    }
    if (env.k === "res") {
      this.#pending.take(env.i);
      return waiting.resolve(env.b);
    }
    if (env.e.kind === "unavailable" && env.e.undelivered) {
      // Refused before any handler ran (its instance was stopping, e.g. replaced or scaled
      // down, or gone): sending it elsewhere cannot run it twice, so it goes on until its
      // deadline whatever its retries. Not to the instance that refused it.
      retarget(waiting, "");
      return this.#retryLater(waiting);
    }
    if (env.e.kind === "unavailable" && waiting.retriesLeft > 0) {
      return this.#failover(waiting, env.e.message);
    }
    this.#pending.take(env.i);
    waiting.reject(errorFromWire(env.e));
  }

  /** The target went away: wait a moment for a live instance, then try again. */
  #failover(waiting: WaitingRequest, why: string): void {
    if (waiting.retriesLeft <= 0) {
      this.#pending.take(waiting.id);
      return waiting.reject(new UnavailableError(why));
    }
    waiting.retriesLeft--;
    this.#retryLater(waiting);
  }

  #retryLater(waiting: WaitingRequest): void {
    const timer = setTimeout(() => {
      this.#retryTimers.delete(timer);
      if (this.#pending.get(waiting.id) !== waiting) return;
      this.#resend(waiting);
    }, RETRY_DELAY);
    this.#retryTimers.add(timer);
  }

  #resend(waiting: WaitingRequest): void {
    let target: string | typeof HOLD | undefined;
    try {
      target = this.#choose(waiting.name, waiting.key, true, waiting.target);
      if (target === HOLD) {
        if (!waiting.hold) throw this.#notHeld(waiting.name);
        return this.#hold(waiting.name, { request: waiting });
      }
    } catch (error) {
      this.#pending.take(waiting.id);
      return waiting.reject(error as Error);
    }
    if (target === undefined) {
      // Still nothing live: keep waiting until the deadline (the timer will expire it).
      return this.#retryLater(waiting);
    }
    retarget(waiting, target);
    this.#sendRequest(waiting);
  }

  #expired(waiting: WaitingRequest): void {
    if (waiting.retriesLeft > 0) {
      waiting.retriesLeft--;
      waiting.deadline = this.#pending.now() + waiting.timeout;
      this.#pending.add(waiting);
      if (waiting.held) return; // still in the restart buffer: it keeps its place
      return this.#resend(waiting);
    }
    waiting.reject(new TimeoutError(waiting.name, waiting.topic, waiting.timeout));
  }
}

/** Points a request at a new instance, remembering the one it leaves (its reply may still come). */
function retarget(waiting: WaitingRequest, target: string): void {
  if (waiting.target !== "" && waiting.target !== target) {
    (waiting.tried ??= []).push(waiting.target);
  }
  waiting.target = target;
}

/**
 * The edge check's options for what comes over `link` from node `from`: whether its values came
 * by structured clone, were decoded from bytes, or were decoded with the wire rule enforced.
 */
function checksFor(link: Link, from?: string): { checked: CheckOptions; unchecked: CheckOptions } {
  return {
    checked: { from, values: "checked" },
    unchecked: { from, values: link.clones ? "clone" : "tree" },
  };
}

/** A {@linkcode ContainerRef} bound to one node. */
class NodeRef implements ContainerRef {
  readonly name: string;
  readonly #node: Node;
  constructor(node: Node, name: string) {
    this.#node = node;
    this.name = name;
  }
  request(topic: string, body?: unknown, options?: RequestOptions): Promise<unknown> {
    try {
      return this.#node.request(this.name, topic, body, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }
  send(topic: string, body?: unknown, options?: SendOptions): void {
    this.#node.send(this.name, topic, body, options);
  }
}
