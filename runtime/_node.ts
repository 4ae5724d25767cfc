/**
 * The node: one isolate's message router, the same code in the host, in every worker and in every
 * process. It owns the links to other nodes, the routing table (`_route_book.ts`), the requests
 * waiting for replies (`_pending.ts`; their retries and failovers: `_failover.ts`), the messages
 * held for restarting containers (`_held.ts`), the subscriptions (`_topics.ts`) and the container
 * instances hosted here; what crosses its edges is checked (`_edge.ts`). The path of a request
 * that is simply answered stays in this file.
 *
 * The host's node is the hub: it knows every node, relays what a node cannot deliver directly
 * (replies to a process, requests from a process to a worker) and fans publications out. Other
 * nodes have one upstream link to the hub plus direct links to peer workers, so worker-to-worker
 * traffic skips the host thread.
 *
 * @module
 */
import type { Envelope, LogLevel, RouteTable } from "../protocol/envelope.ts";
import { errorFromWire, UnavailableError, type WireError } from "../protocol/errors.ts";
import { copyWireValue } from "../protocol/wire_value.ts";
import { type Edge, envelopeProblem } from "../protocol/envelope_check.ts";
import { checksFor, EdgeGuard, refusalAnswer } from "./_edge.ts";
import type { Link } from "../transports/link.ts";
import type { ContainerRef, RequestOptions, SendOptions } from "./container.ts";
import { PendingRequests } from "./_pending.ts";
import { turnClock } from "./_turn_clock.ts";
import { within } from "../protocol/routes.ts";
import { Failover, goneError, HOLD, retarget, type WaitingRequest } from "./_failover.ts";
import { type Held, HeldMessages, type HeldSend, notHeld } from "./_held.ts";
import { RouteBook } from "./_route_book.ts";
import { type Subscriber, Topics } from "./_topics.ts";
import { checkEntityId, NodeRef } from "./_node_ref.ts";
import { clientSpan, producerContext } from "./_tracing.ts";
import { LinkSuspicion, type Watched } from "./_suspicion.ts";
import { SWITCH_HOLD_LIMIT, SwitchHold } from "./_switch.ts";

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
  onLog(level: LogLevel, message: string, instance: string, from: string, trace?: string): void;
  /**
   * Node `from` sent something it had no right to (a forged sender, a reply to a request it was
   * never given, a routing table or `down` from below) or that breaks the edge rule (malformed,
   * too deep): the envelope was dropped. `logged`: the node already logged it (rate-limited).
   */
  onViolation?(from: string, what: string, logged: boolean): void;
  /** The hub handed down a new application table (a node below the hub). */
  onRoutes?(): void;
  /**
   * The hub's set of suspect peer links changed (its table marks their instances now): the nodes
   * below need the table again.
   */
  onSuspicion?(): void;
  /** This node passed a message from node `from` on to node `to` (the hub may link the two). */
  onRelay?(from: string, to: string): void;
  /**
   * The hub: child node `from` holds its direct port to node `to` now (a `switch` marker).
   * `relay` when the hub gave the two a channel and `from` had not said so yet; `late` when one of
   * them is gone meanwhile (dropped quietly); `refuse` otherwise (dropped as a violation).
   */
  onSwitch?(from: string, to: string): "relay" | "late" | "refuse";
}

const DEFAULT_TIMEOUT = 5000;

/** A bad entity id is the caller's mistake, refused before anything is sent. */
function checkEntity(entity: unknown): void {
  if (entity !== undefined) checkEntityId(entity);
}

/** One isolate's router. */
export class Node {
  /** This node's id (`host`, `w3`, `p4`, …). */
  readonly id: string;
  /** Whether this is the hub (the host's node). */
  readonly isHub: boolean;
  readonly #hooks: NodeHooks;
  #upstream: Link | null = null;
  readonly #links = new Map<string, Link>();
  /** The routing table, and (at hand: every message reads it) where each instance lives. */
  readonly #book: RouteBook;
  readonly #instanceNode: Map<string, string>;
  /** Messages held per container while it restarts (`w` in its route entry). */
  readonly #held: HeldMessages;
  readonly #local = new Map<string, HostedInstance>();
  readonly #pending: PendingRequests<WaitingRequest>;
  readonly #failover: Failover;
  readonly #topics: Topics;
  /** Links to peer runtimes (hub only): replies crossing them lose their `@peer/` prefix. */
  readonly #peerLinks = new Set<Link>();
  /** The suspicion of each peer link (hub only; made with the first peer link). */
  #suspicion: LinkSuspicion<string> | null = null;
  readonly #peerWatch = new Map<Link, Watched<string>>();
  /** The peer nodes suspect as last told to the book (for the log). */
  #suspectNodes: ReadonlySet<string> = new Set();
  #nextId = 1;
  #closed = false;
  #relayed = 0;
  readonly #guard: EdgeGuard;
  /** What sibling workers sent over their new direct ports before their switch marker came. */
  readonly #switchHold = new SwitchHold();

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
      onExpire: (p) => this.#failover.expired(p),
      // A request's deadline needs the time; one reading serves every request of a turn.
      now: options.now ?? turnClock(),
    });
    this.#book = new RouteBook(this.#pending.now);
    this.#instanceNode = this.#book.instanceNode;
    this.#held = new HeldMessages(this.#pending);
    this.#failover = new Failover(this.#pending, {
      choose: (name, key, mayWait, prefer, entity) =>
        this.#book.choose(name, key, mayWait, prefer, entity),
      hold: (waiting) => {
        if (!waiting.hold) throw notHeld(waiting.name);
        this.#hold(waiting.name, { request: waiting });
      },
      send: (waiting) => this.#sendRequest(waiting),
      routed: (instance) => this.#instanceNode.has(instance),
      suspect: (instance) => this.#book.isSuspect(instance),
    });
    this.#topics = new Topics({
      id,
      isHub: this.isHub,
      links: this.#links,
      upstream: () => this.#upstream,
      refuse: (from, what) => this.#guard.violation(from, what),
    });
    this.#guard = new EdgeGuard(
      (line) => this.log("warn", line, this.isHub ? "runtime" : this.id),
      hooks,
    );
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
      if (problem !== null) return this.#refuse(env, id, link, problem, edge);
      if (this.#switchHold.size > 0) {
        const held = this.#switchHold.hold(id, env);
        if (held === "held") return;
        if (held === "full") {
          return this.#guard.violation(
            id,
            `a ${env.k} over its new direct port past the ${SWITCH_HOLD_LIMIT} held until its switch marker comes through the hub (dropped)`,
          );
        }
      }
      this.receive(env, id);
    };
  }

  /**
   * Takes a direct port to sibling worker `id`, handed over by the hub. What this node sent `id`
   * before went through the hub, so a `switch` marker follows it there first: `id` holds what
   * comes over the port until the marker arrives behind it. Likewise, what `id` sends over the
   * port waits here for `id`'s own marker (see `_switch.ts`).
   */
  attachDirect(id: string, link: Link): void {
    this.#upstream?.send({ k: "switch", n: id });
    this.attach(id, link);
    this.#switchHold.open(id);
  }

  /** Drops the link to node `id` and everything that depended on it. */
  detach(id: string): void {
    const link = this.#links.get(id);
    this.#switchHold.drop(id);
    if (!link) return;
    this.#links.delete(id);
    link.close();
    this.#topics.dropNode(id);
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
    const suspicion = this.#suspicion ??= this.#newSuspicion();
    const watched = suspicion.watch(id);
    this.#peerWatch.set(link, watched);
    link.closed.then(() => {
      this.#peerLinks.delete(link);
      this.#peerWatch.delete(link);
      suspicion.unwatch(watched);
    });
    const checks = checksFor(link);
    link.onRefused = (problem) => this.reportRefused(id, problem);
    link.onEnvelope = (env, checked) => {
      // Whatever arrives, well-formed or not, shows the peer is alive.
      if (env.k === "res" || env.k === "err") suspicion.replied(watched);
      else suspicion.heard(watched, env.k === "pong");
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

  /** The suspicion of peer links: probes are pings; a change re-marks the table. */
  #newSuspicion(): LinkSuspicion<string> {
    return new LinkSuspicion<string>({
      now: this.#pending.now,
      probe: (id) => this.#links.get(id)?.send({ k: "ping" }),
      changed: () => this.#suspicionChanged(),
    });
  }

  #suspicionChanged(): void {
    if (this.#closed) return;
    const before = this.#suspectNodes;
    const now = new Set(this.#suspicion?.suspects ?? []);
    this.#suspectNodes = now;
    for (const id of now) {
      if (!before.has(id)) {
        this.log(
          "warn",
          `runtime "${
            id.slice(1)
          }" is suspect: requests wait on its link and a probe went unanswered; its instances are routed around until it speaks`,
          "runtime",
        );
      }
    }
    for (const id of before) {
      if (!now.has(id) && this.#links.has(id)) {
        this.log("info", `runtime "${id.slice(1)}" spoke again: trusted`, "runtime");
      }
    }
    this.#book.setSuspects(now);
    this.#routesChanged();
    this.#hooks.onSuspicion?.();
  }

  /** Peer nodes (`@name`) whose link is suspect now (hub only). */
  get suspects(): ReadonlySet<string> {
    return this.#suspectNodes;
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
    this.#guard.refusal(from, problem);
  }

  /** Envelopes and frames refused at this node's edges so far. */
  get refused(): number {
    return this.#guard.refused;
  }

  /** How many envelopes each node sent that were dropped as violations. */
  get violations(): ReadonlyMap<string, number> {
    return this.#guard.violations;
  }

  /** Sends `env` over `link` toward node `node`; a reply leaving for a peer loses the prefix. */
  #send(link: Link, env: Envelope, _node: string): void {
    if (env.k === "req" && this.#peerWatch.size > 0) {
      const watched = this.#peerWatch.get(link);
      if (watched !== undefined) this.#suspicion!.requested(watched);
    }
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

  /** Whether node `id` is a sibling worker, linked here by a direct port (never for the hub). */
  #sibling(id: string): boolean {
    return !this.isHub && id !== "host" && id !== this.id && !this.#below(id);
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
    this.#book.setGlobal(routes);
    this.#routesChanged();
  }

  /**
   * Routes of the subtree this node supervises: they override the hub's table, which learns of
   * them one round trip later.
   */
  setLocalRoutes(routes: RouteTable | null): void {
    this.#book.setLocal(routes);
    this.#routesChanged();
  }

  /** Held messages may go now; requests whose instance left may have to fail over. */
  #routesChanged(): void {
    if (this.#held.size > 0) {
      this.#held.release(this.#book.routes, {
        request: (waiting) => this.#failover.resend(waiting),
        send: (name, send) => {
          const target = this.#book.choose(name, send.key, false, undefined, send.e) as string;
          const env: Envelope = { k: "send", to: target, t: send.t, b: send.b };
          if (send.e !== undefined) env.e = send.e;
          if (send.tc !== undefined) {
            env.tc = send.tc;
            if (send.ts !== undefined) env.ts = send.ts;
          }
          this.#deliver(env, this.#instanceNode.get(target)!);
        },
      });
    }
    if (this.#pending.size > 0) this.#failover.watch();
  }

  /**
   * Whether what node `from` sends is taken on trust: this node's own envelopes and, in a node
   * below the hub, its parent's (the authority that started it). Everything from a child, a
   * sibling worker or a peer runtime is checked: it runs container code.
   */
  #trusted(from: string): boolean {
    return from === this.id || (!this.isHub && from === "host");
  }

  /** The routing table in force. */
  get routes(): RouteTable {
    return this.#book.routes;
  }

  /** The application's table as the hub last handed it down (without the local subtree's). */
  get appRoutes(): RouteTable {
    return this.#book.global;
  }

  // ---- messaging API -----------------------------------------------------------------------

  /** A reference to container `name` that sends from this node. */
  ref(name: string): ContainerRef {
    return new NodeRef(this, name);
  }

  /**
   * Sends a request to container `name` (to the owner of `entity` among its replicas, when given)
   * and waits for its reply.
   */
  request(
    name: string,
    topic: string,
    body: unknown,
    options: RequestOptions & { tick?: string } = {},
    entity?: string,
  ): Promise<unknown> {
    checkEntity(entity);
    const copied = copyWireValue(body, "body");
    const timeout = options.timeout ?? DEFAULT_TIMEOUT;
    if (!(timeout > 0) || !Number.isFinite(timeout)) {
      throw new RangeError(`request timeout must be a positive number of ms, got ${timeout}`);
    }
    const retries = options.retries ?? 0;
    if (!Number.isInteger(retries) || retries < 0) {
      throw new RangeError(`request retries must be a whole number >= 0, got ${retries}`);
    }
    const total = options.totalTimeout ?? Infinity;
    if (!(total > 0)) {
      throw new RangeError(`request totalTimeout must be a positive number of ms, got ${total}`);
    }
    if (typeof topic !== "string") {
      throw new TypeError(`topic must be a string, got ${typeof topic}`);
    }
    const target = this.#book.choose(name, options.key, retries > 0, undefined, entity);
    const start = this.#pending.now();
    // null unless tracing is on: then the request's client span, ended when it settles.
    const span = clientSpan(name, topic, this.id);
    return new Promise((resolve, reject) => {
      if (span !== null) {
        const [settled, failed] = [resolve, reject];
        resolve = (value) => (span.end(), settled(value));
        reject = (error) => (span.end(error), failed(error));
      }
      const waiting: WaitingRequest = {
        id: this.#nextId++,
        deadline: Math.min(start + timeout, start + total),
        name,
        topic,
        body: copied,
        timeout,
        key: options.key,
        // One shape for every request (no spread, no field added later): a spread in the
        // literal built each request through the runtime's slow object-copy path.
        tick: options.tick,
        entity,
        retriesLeft: retries,
        until: start + total,
        start,
        retriable: retries > 0,
        held: false,
        hold: options.hold !== false,
        orphaned: false,
        target: typeof target === "string" ? target : "",
        resolve,
        reject,
        tc: span?.tc,
        ts: span?.ts,
        tried: undefined,
      };
      if (target === HOLD) {
        if (!waiting.hold) throw notHeld(name);
        this.#hold(name, { request: waiting }); // throws when the buffer is full
        this.#pending.add(waiting);
        return;
      }
      this.#pending.add(waiting);
      if (target === undefined) this.#failover.later(waiting);
      else this.#sendRequest(waiting);
    });
  }

  /** Holds a message for a restarting container, or throws when its buffer here is full. */
  #hold(name: string, held: Held): void {
    this.#held.hold(name, held, this.#book.routes[name]?.q ?? 0);
  }

  /**
   * Messages this node holds per restarting container (read-only; requests that timed out
   * meanwhile are not counted): part of a container's queue depth in `rt.metrics()`.
   */
  heldCounts(): Record<string, number> {
    return this.#held.counts();
  }

  /**
   * Sends a message to container `name` (to the owner of `entity` among its replicas, when given)
   * without waiting. `trace`: the trace context it carries (one that arrived with it from
   * elsewhere, e.g. over NATS); while tracing is on and none is given, that of a producer span made
   * here.
   */
  send(
    name: string,
    topic: string,
    body: unknown,
    options: SendOptions = {},
    entity?: string,
    trace?: { tc?: string; ts?: string },
  ): void {
    checkEntity(entity);
    const copied = copyWireValue(body, "body");
    const target = this.#book.choose(name, options.key, false, undefined, entity);
    const context = trace ?? producerContext(name, topic, this.id);
    if (target === HOLD) {
      if (options.hold === false) throw notHeld(name);
      const held: HeldSend = { t: topic, b: copied, key: options.key, e: entity };
      if (context?.tc !== undefined) Object.assign(held, context);
      return this.#hold(name, { send: held });
    }
    const env: Envelope = { k: "send", to: target!, t: topic, b: copied };
    if (entity !== undefined) env.e = entity;
    if (context?.tc !== undefined) {
      env.tc = context.tc;
      if (context.ts !== undefined) env.ts = context.ts;
    }
    this.#deliver(env, this.#instanceNode.get(target!)!);
  }

  /** Publishes to every subscriber of `topic` across the application. */
  publish(topic: string, body: unknown): void {
    const env: Envelope = { k: "pub", t: topic, b: copyWireValue(body, "body") };
    if (this.isHub) this.receive(env, this.id);
    else this.#upstream?.send(env);
  }

  /** Subscribes a listener here; the hub learns this node wants the topic. */
  subscribe(topic: string, listener: Subscriber): () => void {
    return this.#topics.subscribe(topic, listener);
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
  log(level: LogLevel, message: string, instance: string, trace?: string): void {
    if (this.isHub || !this.#upstream) this.#hooks.onLog(level, message, instance, this.id, trace);
    else if (trace === undefined) {
      this.#upstream.send({ k: "log", l: level, m: message, c: instance });
    } else this.#upstream.send({ k: "log", l: level, m: message, c: instance, x: trace });
  }

  /** Fails every waiting request and drops every link. */
  close(reason = "the runtime is shutting down"): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#failover.close();
    this.#suspicion?.close();
    for (const waiting of this.#pending.drain()) waiting.reject(new UnavailableError(reason));
    for (const id of [...this.#links.keys()]) this.detach(id);
    this.#upstream?.close();
  }

  // ---- receiving ---------------------------------------------------------------------------

  /**
   * Handles one envelope that arrived from node `from` (or was sent locally). What comes from a
   * node below or beside this one speaks only for that node. Its link's edge check (`attach`) has
   * already refused a kind that may not come that way (a routing table or `down` from below) and a
   * request in another node's name; here, where the routing table is known, a reply must come from
   * the node of the instance it answers for. Anything else is dropped and reported.
   *
   * What a sibling worker sends over its direct port is for this node alone: a request reaches
   * only an instance here, a reply only this node or one below it. Passed on upstream, it would
   * arrive as this node's own, and whatever the sibling forged would be counted against this one.
   */
  receive(env: Envelope, from: string): void {
    switch (env.k) {
      case "req":
      case "send": {
        const local = this.#local.get(env.to);
        if (local) return local.receive(env);
        const node = this.#instanceNode.get(env.to);
        if (
          node !== undefined && node !== this.id && node !== from && !this.#sibling(from)
        ) {
          if (this.#forward(env, node, from)) return;
        }
        if (env.k === "req") this.replyError(env, goneError(env.to));
        return;
      }
      case "res":
      case "err": {
        if (!this.#trusted(from)) {
          const node = typeof env.f === "string" ? this.#book.nodeOf(env.f) : undefined;
          if (node === undefined || !within(node, from)) {
            return this.#guard.violation(
              from,
              `a reply on behalf of instance ${env.f}, not its own`,
            );
          }
        }
        if (env.d === this.id) return this.#settle(env, from);
        if (this.#sibling(from) && !this.#below(env.d)) {
          return this.#guard.violation(
            from,
            `a reply for node ${env.d} over its direct port (only this node's and those below it are taken there)`,
          );
        }
        this.#forward(env, env.d, from);
        return;
      }
      case "pub":
        return this.#topics.route(env, from);
      case "sub":
      case "unsub":
        return this.#topics.note(env, from);
      case "routes":
      case "routes_delta":
        if (env.k === "routes") this.setRoutes(env.r);
        else {
          this.#book.patchGlobal(env);
          this.#routesChanged();
        }
        // The nodes below this one get the application's table from here.
        for (const id of this.#links.keys()) if (this.#below(id)) this.#links.get(id)!.send(env);
        this.#hooks.onRoutes?.();
        return;
      case "down":
        return this.detach(env.n);
      case "switch":
        return this.#switched(env.n, from);
      case "log":
        if (this.isHub || !this.#upstream) this.#hooks.onLog(env.l, env.m, env.c, from, env.x);
        else this.#upstream.send(env);
        return;
      default:
        return this.#hooks.onControl(env, from);
    }
  }

  #forward(env: Envelope, node: string, from: string): boolean {
    const link = this.#hop(node);
    if (!link || link === this.#hop(from)) return false;
    this.#relayed++;
    this.#send(link, env, node);
    this.#hooks.onRelay?.(from, node);
    return true;
  }

  /**
   * A `switch` marker from node `from` about node `to`. In the hub, from a child it was paired
   * with: passed on to `to`, behind all it relayed there from `from`. In a worker, from the hub:
   * what `to` sent over its direct port meanwhile goes on now, in order.
   */
  #switched(to: string, from: string): void {
    if (this.isHub) {
      const link = this.#links.get(to);
      const verdict = from === this.id ? "refuse" : this.#hooks.onSwitch?.(from, to) ?? "refuse";
      if (verdict === "late") return;
      if (verdict === "relay") return link?.send({ k: "switch", n: from });
      return this.#guard.violation(
        from,
        `a switch marker toward node ${to}, which it was given no direct port to (or said so before)`,
      );
    }
    if (from !== "host") {
      return this.#guard.violation(
        from,
        `a switch marker about node ${to} (only the hub sends one)`,
      );
    }
    const held = this.#switchHold.release(to);
    if (held) { for (const env of held) this.receive(env, to); }
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
      this.receive({ k: "err", i: env.i, d: env.s, f: env.to, e: goneError(env.to) }, this.id);
    }
  }

  // ---- requests ----------------------------------------------------------------------------

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
    if (waiting.tick !== undefined) env.tk = waiting.tick;
    if (waiting.tc !== undefined) {
      env.tc = waiting.tc;
      if (waiting.ts !== undefined) env.ts = waiting.ts;
    }
    if (waiting.entity !== undefined) env.e = waiting.entity;
    const node = this.#instanceNode.get(waiting.target);
    if (node === undefined) {
      // Never sent: the instance's node is gone while the routes (a new table on its way) still
      // list it. Nothing ran, so like a refusal before any handler it goes on, elsewhere or held
      // for a restart, until its deadline — whatever its retries.
      retarget(waiting, "");
      return this.#failover.later(waiting);
    }
    this.#deliver(env, node);
  }

  #settle(env: Extract<Envelope, { k: "res" | "err" }>, from: string): void {
    const waiting = this.#pending.get(env.i);
    if (!waiting) return; // late: its requester already gave up, and nobody else may get it
    if (env.f !== waiting.target && !waiting.tried?.includes(env.f)) {
      // Not from an instance this request went to: a forged (or misrouted) answer.
      return this.#guard.violation(
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
      return this.#failover.later(waiting);
    }
    if (env.e.kind === "unavailable" && waiting.retriesLeft > 0) {
      return this.#failover.failover(waiting, env.e.message);
    }
    this.#pending.take(env.i);
    waiting.reject(errorFromWire(env.e));
  }
}
