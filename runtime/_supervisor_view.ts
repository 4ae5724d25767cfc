/**
 * A supervisor's routes and tree as the runtime publishes them: the pure views of its state
 * (`supervisor/views.ts`) with the nodes its instances live in and what the isolates of instances
 * with children report about them.
 *
 * @module
 */
import type { ContainerSpec, ServeSpec } from "../config/topology.ts";
import type { RouteTable } from "../protocol/envelope.ts";
import type { SupervisorState } from "../supervisor/state.ts";
import type { ContainerSnapshot, InstanceSnapshot } from "./snapshots.ts";
import { childReports, type RoutedInstance, routeViews } from "../supervisor/views.ts";
import { mergeRoutes } from "../protocol/routes.ts";
import type { Usage } from "./_usage.ts";

/** What a replica's isolate last reported about its own children (kept across incarnations). */
export interface Reports {
  /** Their routes. */
  subRoutes: RouteTable | null;
  /** Their tree, and when it came. */
  subTree: ContainerSnapshot[] | null;
  subTreeAt: number;
}

/** The children supervised in this isolate by an instance (an inline container's). */
export interface LocalChildren {
  routes(): RouteTable;
  snapshot(now: number): ContainerSnapshot[];
}

/** What the views need beyond the state. */
export interface ViewSources {
  /** The node instance `key` lives in, once it has a handle. */
  node(key: number | null): string | undefined;
  /** The OS process id of instance `key`, for a `process` instance while its process lives. */
  pid?(key: number | null): number | undefined;
  /** The memory and CPU share of instance `key`'s own isolate (worker, process). */
  usage?(key: number | null): Usage | undefined;
  /** Entities active in instance `key` of container `name`, for one made by `entities()`. */
  entities?(key: number | null, name: string): number | undefined;
  /** The supervisor of instance `key`'s children in this isolate, if it has one. */
  children(key: number | null): LocalChildren | null;
  /** What replica `replica` of child `child` reported. */
  reports(child: number, replica: number): Reports | undefined;
  /** The address a serving container listens on (port 0 resolved once picked). */
  serving?(spec: ContainerSpec): ServeSpec | undefined;
}

/**
 * Routes of every live instance at or below a supervisor. Its own children's entries come first:
 * where what a child's isolate reported lists an instance id they already list, theirs stands.
 */
export function routesOf(state: SupervisorState<ContainerSpec>, from: ViewSources): RouteTable {
  const table: RouteTable = {};
  const below: RouteTable[] = [];
  const refs = (list: readonly RoutedInstance[]) =>
    list.flatMap((r) => {
      const n = from.node(r.key);
      return n === undefined ? [] : [{ i: r.id, n }];
    });
  for (const view of routeViews(state)) {
    const { spec } = view;
    // A removed child (being stopped, or replaced and draining) takes no new message: its running
    // instances are listed as draining, so replies still reach their requesters.
    const entry: RouteTable[string] = {
      balance: spec.balance,
      instances: refs(view.live),
      q: spec.buffer,
    };
    const draining = refs(view.draining);
    if (draining.length > 0) entry.x = draining;
    if (view.waiting) entry.w = 1;
    mergeRoutes(table, { [spec.name]: entry });
    for (const slot of view.slots) {
      const local = from.children(slot.key);
      const reported = from.reports(view.id, slot.replica)?.subRoutes ?? null;
      if (local) below.push(local.routes());
      else if (reported && (slot.state === "running" || slot.state === "stopping")) {
        // A stopping parent's children live until its hooks are done.
        below.push(reported);
      } else if (view.coming) {
        // Its children come back with it: senders hold messages for them meanwhile.
        below.push(waitingRoutes(spec.children, reported));
      }
    }
  }
  for (const routes of below) mergeRoutes(table, routes);
  return table;
}

/** The live tree below a supervisor, at `now`. */
export function snapshotOf(
  state: SupervisorState<ContainerSpec>,
  from: ViewSources,
  now: number,
): ContainerSnapshot[] {
  return childReports(state, now).map((report) => {
    const { spec } = report;
    const instances = report.instances.map((i): InstanceSnapshot => {
      const pid = from.pid?.(i.key);
      const usage = i.state === "running" ? from.usage?.(i.key) : undefined;
      const entities = i.state === "running" ? from.entities?.(i.key, spec.name) : undefined;
      return {
        id: i.id,
        replica: i.replica,
        incarnation: i.incarnation,
        state: i.state,
        node: from.node(i.key) ?? "-",
        restarts: i.restarts,
        uptime: i.uptime,
        ...(pid !== undefined ? { pid } : {}),
        ...(usage?.memoryBytes != null ? { memoryBytes: usage.memoryBytes } : {}),
        ...(usage?.cpuPercent != null ? { cpuPercent: usage.cpuPercent } : {}),
        ...(entities !== undefined ? { entities } : {}),
        ...(i.lastExit ? { lastExit: i.lastExit } : {}),
      };
    });
    const snapshot: ContainerSnapshot = {
      name: spec.name,
      mode: spec.mode,
      host: "local",
      replicas: report.replicas,
      running: report.running,
      restarts: report.restarts,
      held: report.held,
      instances,
    };
    const serving = spec.serve && (from.serving?.(spec) ?? spec.serve);
    if (serving) {
      snapshot.serving = {
        hostname: serving.hostname,
        port: serving.port,
        protocol: serving.protocol,
      };
    }
    const first = report.instances[0];
    const local = first ? from.children(first.key) : null;
    const reported = first ? from.reports(report.id, first.replica) : undefined;
    const children = local
      ? local.snapshot(now)
      : reported?.subTree
      ? aged(reported.subTree, now - reported.subTreeAt)
      : spec.children.length > 0
      ? []
      : undefined;
    if (children) {
      const { strategy, intensity, period } = spec.supervisor;
      snapshot.supervisor = { strategy, intensity, period };
      snapshot.children = children;
    }
    return snapshot;
  });
}

/**
 * Route entries for the children of a restarting container: no instance yet, but senders hold
 * messages for them (the names last reported, else the declared children).
 */
function waitingRoutes(children: readonly ContainerSpec[], last: RouteTable | null): RouteTable {
  const table: RouteTable = {};
  if (last) {
    for (const [name, entry] of Object.entries(last)) {
      table[name] = { balance: entry.balance, instances: [], w: 1, q: entry.q };
    }
    return table;
  }
  const walk = (specs: readonly ContainerSpec[]) => {
    for (const spec of specs) {
      table[spec.name] = { balance: spec.balance, instances: [], w: 1, q: spec.buffer };
      walk(spec.children);
    }
  };
  walk(children);
  return table;
}

/** A subtree reported `age` ms ago, with its running uptimes brought up to now. */
function aged(tree: ContainerSnapshot[], age: number): ContainerSnapshot[] {
  return tree.map((c) => ({
    ...c,
    instances: c.instances.map((i) =>
      i.state === "running" ? { ...i, uptime: Math.round(i.uptime + age) } : i
    ),
    ...(c.children ? { children: aged(c.children, age) } : {}),
  }));
}
