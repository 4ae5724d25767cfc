/**
 * The shapes distribution and its runtime agree on: what the runtime gives (a hub to attach peers
 * to, and its hooks), what it gets back (one {@linkcode Distribution}), and what `rt.tree()` shows
 * of peers, agents and placements. Types only.
 *
 * @module
 */
import type { TransportSet } from "../transports/transport_set.ts";
import type { Permissions } from "../config/permissions.ts";
import type { ContainerSpec } from "../config/topology.ts";
import type { Envelope, LogLevel, RouteInstance, RouteTable } from "../protocol/envelope.ts";
import type { SupervisorEvent } from "../supervisor/events.ts";
import type { Clock } from "../supervisor/runner.ts";
import type { Link } from "../transports/link.ts";

/** What `kraken node` was started with. */
export interface AgentOptions {
  /** Folder whose modules it may run (relative module paths resolve under it). */
  root: string;
  /** The widest grant it gives any container. */
  maxPermissions: Permissions;
  /** How long it keeps what a silent root placed before stopping it, ms (its keepalive). */
  lease?: number;
}

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
  /**
   * Why it refused this runtime's last link, as it said (while `connecting`; cleared once
   * linked): e.g. a container name both claim.
   */
  refused?: string;
  /** Its containers. */
  containers: string[];
  /**
   * A host agent's load as it last reported it (with its keepalive answers while it runs
   * something placed from here): replicas it runs, its process's resident memory.
   */
  load?: { replicas: number; memoryBytes: number };
  /**
   * Its link is suspect: quiet with requests outstanding, a ping unanswered for the suspicion
   * window (docs/distribution.md); its instances are routed around until it speaks again.
   */
  suspect?: true;
}

/** The state of one remote container (`mode: remote`), placed from this runtime. */
export interface PlacementSnapshot {
  /** Container name. */
  name: string;
  /** The agent it runs on (or is being placed on), if any. */
  host: string | null;
  /** Its current epoch (placements so far). */
  epoch: number;
  /**
   * `placing`, `running`, `held` (its agent is lost; waiting to move), `waiting` (no agent),
   * `failed`.
   */
  state: "placing" | "running" | "held" | "waiting" | "failed";
  /** Milliseconds in that state. */
  since: number;
  /** Times it was placed again after its agent was lost or it failed. */
  restarts: number;
  /** Why it is failed or waiting. */
  why?: string;
  /** Its spec. */
  spec: ContainerSpec;
  /**
   * `placement: spread`: its replicas per agent (those held on a lost agent included); `host` is
   * then the agents joined by ", ".
   */
  replicasOn?: Readonly<Record<string, number>>;
  /** What its agent last reported each instance uses, by instance id (absent: no report yet). */
  usage?: Readonly<Record<string, { memoryBytes: number | null; cpuPercent: number | null }>>;
}

/** A remote container with the instances its agent routes now. */
export interface RemoteContainer extends PlacementSnapshot {
  /** Its live instances, node ids under `@agent/`. */
  instances: RouteInstance[];
}

/** Everything distribution shows of itself, at one moment. */
export interface DistributionSnapshot {
  /** Where this runtime accepts links from peers (`transports.listen`, real port), if it does. */
  listening: URL | null;
  /** Peer runtimes: linked directly, then seen over NATS. */
  peers: PeerSnapshot[];
  /** Remote containers placed from here. */
  remote: RemoteContainer[];
}

/**
 * The part of the runtime's hub node distribution uses: peers attach to it as nodes `@name`.
 * (The runtime's `Node` is one.)
 */
export interface Hub {
  /** The routing table the hub routes by now. */
  readonly routes: RouteTable;
  /** Links peer runtime `name` as node `@name`; what is not traffic goes to `onControl`. */
  attachPeer(name: string, link: Link, onControl: (envelope: Envelope) => void): void;
  /** Unlinks node `id`. */
  detach(id: string): void;
  /** Counts (and logs) input refused at an edge, from node `from`. */
  reportRefused(from: string, problem: string): void;
  /**
   * Sends `body` on `topic` to container `name` (to its entity `entity`, if given; no reply),
   * carrying the W3C trace context `trace` that came with it (already checked).
   */
  send(
    name: string,
    topic: string,
    body: unknown,
    options?: { key?: string },
    entity?: string,
    trace?: { tc?: string; ts?: string },
  ): void;
}

/** What distribution needs from its runtime. */
export interface DistributionSite {
  /** The hub node. */
  readonly hub: Hub;
  /** This root lost its lease (`leadership:`): it must stop, with this error. */
  fail?(error: Error): void;
  /** The names of the containers this runtime runs itself (nested ones included). */
  ownNames(): string[];
  /** The routes of this runtime's own containers (never a peer's). */
  ownRoutes(): RouteTable;
  /** Routes from outside changed (peers, NATS, placements): publish the table again. */
  changed(): void;
  /**
   * Logs a line as `source` (`runtime`, `agent`, or a remote instance `name#r.i@agent`), with the
   * trace id of the span it was logged in, when it came with one.
   */
  log(level: LogLevel, message: string, source: string, trace?: string): void;
  /** A supervision event from outside (a peer's instance unreachable, a placement's start/exit). */
  emit(event: SupervisorEvent): void;
  /** As a host agent: starts placed container `spec` (or replaces it, or scales it). */
  run(spec: ContainerSpec): Promise<void>;
  /** As a host agent: stops placed container `name` and removes it. */
  stop(name: string): Promise<void>;
  /** As a host agent: how many replicas this runtime runs (its load, for `least_loaded`). */
  replicas(): number;
  /**
   * As a host agent: the figures of containers `names` (the runtime's own shape, opaque here), for
   * the runtime that placed them; `undefined` when there are none.
   */
  figures?(names: readonly string[]): unknown;
  /**
   * Figures host agent `peer` reported for what it runs (untrusted: the runtime checks them),
   * and which containers it may report on (those placed on it from here).
   */
  remoteFigures?(peer: string, figures: unknown, placedOn: (name: string) => boolean): void;
  /**
   * As a host agent: what each of its running instances uses (resident bytes, CPU %; `null`
   * where it is not measured), reported to the roots that placed them. Absent: nothing reported.
   */
  usage?(): readonly InstanceUsage[];
}

/** What one instance uses, as a host agent reports it to the root that placed it. */
export interface InstanceUsage {
  /** Container name. */
  container: string;
  /** Instance id, `name#replica.incarnation`. */
  instance: string;
  /** Resident memory, bytes (`null`: not measured, e.g. inline). */
  memoryBytes: number | null;
  /** CPU, percent of one core over the last window (`null`: not measured yet). */
  cpuPercent: number | null;
}

/** How distribution is made, beyond its topology and site. */
export interface DistributionOptions {
  /** Makes this runtime a host agent (what `kraken node` runs). */
  agent?: AgentOptions;
  /** Time for every decision distribution takes (default: this isolate's clock and timers). */
  clock?: Clock;
  /** The transports links listen and dial with (default: the built-in set). */
  transports?: TransportSet;
  /**
   * With a `leadership:` block: wait as a standby while another root leads, instead of failing
   * the start (what `kraken start --standby` sets).
   */
  standby?: boolean;
}

/** Something this runtime's own supervisors reported, which a host agent forwards to its placer. */
export type Forwarded = SupervisorEvent | {
  type: "log";
  level: LogLevel;
  message: string;
  /** `runtime`, or the instance that logged it. */
  source: string;
  /** The trace id of the span it was logged in. */
  trace?: string;
};

/**
 * Federation, NATS, placement and the host agent, as the runtime sees them: one object, built
 * once from the topology.
 */
export interface Distribution {
  /**
   * Listens and dials peers, connects to NATS, then places `remote` containers on host agents,
   * waiting a bounded while for agents to link.
   * @param local With a `leadership:` block, on a root: starts the root's local containers. It
   *   is called once this root leads — at once when it takes the lease at start, else when it
   *   takes over as a standby, before it places — so a standby runs none of them (a cold
   *   standby: its links claim no container name the leading root runs).
   * @throws {AuthenticationError} NATS refused the credentials.
   * @throws {UnavailableError} No NATS server could be reached.
   */
  start(remote: readonly ContainerSpec[], local?: () => Promise<void>): Promise<void>;
  /** Whether this root stands by (started with a `leadership:` block, another root leading). */
  standingBy(): boolean;
  /** Stops placing, closes every link and the NATS connection. */
  close(): Promise<void>;
  /** Containers reached outside this runtime (peers, NATS, placements held for). */
  routes(): RouteTable;
  /**
   * The hub's table: this runtime's own routes over those from outside; on a host agent, a
   * container it runs a group of, also run on other agents, is served here while any of its own
   * instances is live and by the other groups otherwise.
   */
  overlay(own: RouteTable): RouteTable;
  /** This runtime's own routes changed: tell its peers and NATS. */
  announce(): void;
  /** Places remote container `spec` (again: a new epoch, same agent unless `host:` moved it). */
  place(spec: ContainerSpec): Promise<void>;
  /** Stops remote container `name` on its agent and forgets it. */
  unplace(name: string): Promise<void>;
  /**
   * Moves one replica of `placement: spread` container `name` toward even (a returning or new
   * agent takes it back): `undefined` when already even.
   */
  rebalance(name: string): Promise<{ from: string; to: string } | undefined>;
  /** Peers, agents and remote containers now. */
  snapshot(now?: number): DistributionSnapshot;
  /** As a host agent: sends what happened to a placed container to the runtime that placed it. */
  forward(report: Forwarded): void;
}
