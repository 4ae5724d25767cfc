/**
 * The envelopes that travel on every link: between the host and its workers and processes, and
 * (later) between runtimes. One discriminated union, keyed by `k`; short field names because
 * every envelope is encoded on the hot path.
 *
 * Addressing: a *node* is one isolate (the host, a worker, a process); an *instance* is one
 * running incarnation of a container inside a node. Requests name the instance the sender's
 * balancer chose; replies name the node that asked (`d`), so relays need no memory of requests.
 *
 * @module
 */
import type { WireError } from "./errors.ts";

/** Version of the envelope schema, first item of every batch on a byte stream. */
export const ENVELOPE_VERSION = 1;

/**
 * Every kind of {@linkcode ExitReason}, the one list the edge rule and the supervisor's report check
 * compare a reported kind with.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EXIT_KINDS } from "./envelope.ts";
 * assert.ok(EXIT_KINDS.includes("max_memory"));
 * assert.equal(EXIT_KINDS.includes("vanished" as never), false);
 * ```
 */
export const EXIT_KINDS: readonly ExitReason["kind"][] = [
  "normal",
  "stopped",
  "error",
  "crashed",
  "killed",
  "unresponsive",
  "max_memory",
];

/** Why an instance ended. */
export interface ExitReason {
  /**
   * `normal`: ended on its own without error · `stopped`: asked to stop · `error`: a handler, the
   * factory or a subscription threw, or an unhandled rejection · `crashed`: the isolate died ·
   * `killed`: forcibly ended by a signal · `unresponsive`: missed its heartbeats ·
   * `max_memory`: ended because it used more memory than its `max_memory:` (`used`, `limit`).
   */
  kind: "normal" | "stopped" | "error" | "crashed" | "killed" | "unresponsive" | "max_memory";
  /** Human-readable detail. */
  message: string;
  /** The error, where one was thrown. */
  error?: WireError;
  /** The `on_error` verdict for it, when a rule (or the built-in one) chose other than restart. */
  action?: "stop" | "escalate";
  /** With `max_memory`: the bytes it was seen using (a worker's isolate heap, a process's RSS). */
  used?: number;
  /** With `max_memory`: its `max_memory:` in bytes. */
  limit?: number;
}

/** One instance in a routing table. */
export interface RouteInstance {
  /** Instance id, e.g. `greeter#0.1` (replica 0, incarnation 1). */
  i: string;
  /** The node it lives in. */
  n: string;
  /**
   * Suspect: its link to a peer runtime went quiet with requests outstanding (see
   * `runtime/_suspicion.ts`); chosen only when every instance of its container is.
   */
  s?: 1;
}

/** Where each container's live instances are, and how to choose among them. */
export interface RouteTable {
  [container: string]: {
    balance: "round_robin" | "random" | "key_hash";
    instances: RouteInstance[];
    /** Set while the container is restarting: senders hold messages for it (up to `q`). */
    w?: 1;
    /** How many messages a sending node holds for it while it restarts. */
    q?: number;
    /**
     * Instances stopping: they take no new message, but replies to what they already have are
     * still coming (requests waiting for them must not give up).
     */
    x?: RouteInstance[];
  };
}

/** Settings a worker or process node receives before it starts its container. */
export interface InitSettings {
  /** This node's id. */
  node: string;
  /** Container name. */
  name: string;
  /** Instance id. */
  instance: string;
  /** The container's `config:` block. */
  config: Record<string, unknown>;
  /** Graceful stop timeout in ms. */
  shutdown: number;
  /** Lowest log level forwarded. */
  logLevel: string;
  /** The routing table at start. */
  routes: RouteTable;
  /** The container's validated spec (plain data): rules, children, supervisor flags, grant. */
  spec?: unknown;
  /** Folder URL relative module paths of `ctx.spawn` resolve against. */
  baseUrl?: string;
  /** Source files this isolate may read so workers can nest in it (handed on to them). */
  reads?: string[];
  /**
   * Names of containers its predecessors spawned (earlier incarnations, or the one it replaces):
   * it may spawn them again although the application's table still lists them.
   */
  owned?: string[];
  /** Tracing is on in the host: this isolate records spans too (see `runtime/_tracing.ts`). */
  trace?: 1;
}

/** Every envelope kind. */
export type Envelope =
  /**
   * A request: reply expected at node `s` under id `i`; `r` marks a retriable (deduplicated) one.
   * `tc` and `ts`: the W3C `traceparent` and `tracestate` of the span that sent it (set only while
   * tracing is on; a malformed one is removed at the edge). `dl` (milliseconds the sender still
   * waits) is reserved: a peer may send it, this version neither sets nor requires it. `tk` is the
   * tick id of a request a schedule sent (`name@ISO time`): the handler sees it as `meta.tick`
   * when the request comes from a runtime's hub (a container cannot pass one off as a tick). `e`:
   * the entity the request is for (see `entity_owner.ts`), when the container hosts entities; a
   * node that predates entities ignores it.
   */
  | {
    k: "req";
    i: number;
    s: string;
    to: string;
    t: string;
    b?: unknown;
    r?: 1;
    dl?: number;
    tc?: string;
    tk?: string;
    ts?: string;
    e?: string;
  }
  /**
   * A fire-and-forget message; `tc`/`ts` as a request's (the sender's producer span), `e`: the
   * entity it is for, as for a request.
   */
  | { k: "send"; to: string; t: string; b?: unknown; tc?: string; ts?: string; e?: string }
  /**
   * A reply for request `i` of node `d`, from instance `f` (the one the request was addressed to):
   * relays and the requester accept it only from the link toward `f`, so a node cannot answer a
   * request that was not delivered to it.
   */
  | { k: "res"; i: number; d: string; f: string; b?: unknown }
  /** An error reply for request `i` of node `d`, from (or on behalf of) instance `f`. */
  | { k: "err"; i: number; d: string; f: string; e: WireError }
  /** A publication on topic `t`. */
  | { k: "pub"; t: string; b?: unknown }
  /** Node subscribes to / unsubscribes from topic `t` (sent to the hub). */
  | { k: "sub"; t: string }
  | { k: "unsub"; t: string }
  /** Hub → node: the routing table changed. */
  | { k: "routes"; r: RouteTable }
  /**
   * Hub → node: what changed in the routing table since the last one it sent (`r`: entries new or
   * changed, `g`: names gone). Never crosses an edge from below or from a peer.
   */
  | { k: "routes_delta"; r: RouteTable; g: string[] }
  /** Hub → node: node `n` is gone (drop any direct link to it). */
  | { k: "down"; n: string }
  /**
   * Worker → hub: "I hold my direct port to node `n` now; what I sent it before went through you".
   * Hub → worker: "node `n` sends to you directly from here on; all it sent you through me is
   * behind you". What came over the direct port from `n` before this waits for it (per-sender
   * order across the switch; see `runtime/_switch.ts`).
   */
  | { k: "switch"; n: string }
  /** Hub → node: start the container. */
  | { k: "init"; s: InitSettings }
  /** Node → hub: the container started. */
  | { k: "ready"; topics: string[] }
  /**
   * Node → hub: the instance ended (`reason`); cleanup may still be running. `m`: the isolate's
   * metrics at that moment (the runtime's figure set; untrusted, checked on arrival).
   */
  | { k: "exit"; reason: ExitReason; m?: unknown }
  /** Node → hub: cleanup finished, the node may be discarded (`m`: last metrics). */
  | { k: "stopped"; m?: unknown }
  /** Hub → node: stop gracefully. */
  | { k: "stop" }
  /** Heartbeat and its answer. */
  | { k: "ping" }
  /**
   * `m`: the isolate's metrics, so they reach the host with every heartbeat; `u`: what the isolate
   * itself uses, `[memory bytes, cpu µs so far]` (its heap and external memory; the CPU time of its
   * thread in a worker, of its whole process in a process).
   */
  | { k: "pong"; m?: unknown; u?: [number, number] }
  /**
   * Node → hub: a log line from instance `c`; `x`: the trace id of the span it was logged in
   * (tracing on; a malformed one is removed at the edge).
   */
  | { k: "log"; l: LogLevel; m: string; c: string; x?: string }
  /** Node → parent: the routes of the containers this node supervises (its subtree). */
  | { k: "subroutes"; r: RouteTable }
  /** Node → parent: a snapshot of the subtree this node supervises (`t`, plain data). */
  | { k: "subtree"; t: unknown[] }
  /**
   * Runtime → peer runtime, first on a link (the dialer's first; the listener's once it accepted
   * the dialer's): its name and the containers it runs. A host agent (`kraken node`) adds `a`
   * (that it is one, and its lease) and `p` (the placements it runs for that peer, with their
   * epochs). (`a.permissions`, the agent's limits, is no longer sent; older agents sent it.)
   */
  | {
    k: "join";
    n: string;
    c: string[];
    a?: { permissions?: Record<string, unknown>; lease?: number };
    p?: { n: string; e: number; b?: string }[];
  }
  /**
   * Runtime → a runtime that dialed it, instead of its introduction: why it refused that
   * runtime's `join` (`m`, naming only what the dialer itself said: never another runtime), then
   * it closes the link. The dialer logs it and shows it on the peer in its tree.
   */
  | { k: "refused"; m: string }
  /** Node → parent: a supervision event in its subtree (`e`, plain data with a `type`). */
  | { k: "event"; e: Record<string, unknown> }
  /**
   * Root runtime → host agent: run container `n` (`s`: its validated spec, module relative to the
   * agent's root), placement epoch `e` (a later epoch fences every earlier one). `l`: the root
   * leads lease group `g` (its `leadership:` bucket) in term `t`, whose standby takes over within
   * `w` ms: a lost root's placements are held that long, and a later term of the group adopts them.
   */
  | {
    k: "place";
    n: string;
    s: Record<string, unknown>;
    e: number;
    l?: { g: string; t: number; w: number };
  }
  /** Root runtime → host agent: stop placement `n` of epoch `e` or older. */
  | { k: "unplace"; n: string; e: number }
  /** Host agent → root runtime: placement `n`/`e` runs (`ok`), or was refused or failed (`x`). */
  | { k: "placed"; n: string; e: number; ok: boolean; x?: WireError }
  /**
   * Host agent → root runtime: how loaded it is (containers it runs, resident memory), and `u`:
   * what each instance it runs for that root uses (id, resident bytes, CPU %; `null` unmeasured).
   */
  | { k: "load"; c: number; m: number; u?: [string, number | null, number | null][] };

/** Log levels, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Rank of each level (and `silent`, above all): a line is logged when its rank is >= the threshold's. */
export const LOG_LEVEL_RANK: Readonly<Record<LogLevel | "silent", number>> = Object.freeze({
  debug: 0,
  info: 1,
  warn: 2,
  error: 3,
  silent: 9,
});
