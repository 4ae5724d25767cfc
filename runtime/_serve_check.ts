/**
 * What this process must have before it starts a serving container itself: the grant to listen
 * where `serve:` says, and — for an inline or worker container, which share its flags — Deno's
 * unstable `net` feature, without which `reusePort` ends the whole process (exit code 70).
 *
 * @module
 */
import type { ContainerSpec } from "../config/topology.ts";
import { serveGrantItem } from "../config/_read_serve.ts";
import { PermissionEscalationError, TopologyError } from "../protocol/errors.ts";
import { listenerClash, listenGrantWarnings } from "../config/_ports.ts";
import { unstableVisible } from "./_host_flags.ts";

/** Whether this process runs with `--unstable-net` (its APIs show it). */
export function hasUnstableNet(): boolean {
  return unstableVisible("net");
}

/**
 * Refuses a serving container this process cannot serve from.
 *
 * @throws {TopologyError} An inline or worker container, without `--unstable-net` here.
 * @throws {PermissionEscalationError} This process may not listen on the address.
 */
export function assertServableHere(spec: ContainerSpec): void {
  const serve = spec.serve;
  if (!serve || spec.mode === "remote") return;
  if ((spec.mode === "inline" || spec.mode === "worker") && !hasUnstableNet()) {
    throw new TopologyError(
      `${spec.mode} container "${spec.name}" serves port ${serve.port}, which every replica shares with reusePort: that needs Deno's unstable "net" feature, which this process was not started with (and without which Deno would end the whole process); expected the runtime started with --unstable-net, or "unstable": ["net"] in its deno.json (kraken start and kraken new see to it), or mode: process, which gets its own flags`,
      { key: `containers.${spec.name}.serve` },
    );
  }
  const item = serve.port === 0 ? null : serveGrantItem(serve);
  const descriptor: Deno.NetPermissionDescriptor = {
    name: "net",
    ...(item ? { host: item } : { host: serve.hostname }),
  };
  let state: Deno.PermissionState = "denied";
  try {
    state = Deno.permissions.querySync(descriptor).state;
  } catch {
    // an unusable descriptor is no grant
  }
  if (state === "granted") return;
  throw new PermissionEscalationError(
    spec.name,
    "net",
    item ?? serve.hostname,
    `containers.${spec.name}.serve listens on ${
      item ?? `a port of ${serve.hostname}`
    }, where this runtime itself may not: start it with --allow-net (or --allow-net=${
      item ?? serve.hostname
    })`,
  );
}

/**
 * What to tell the operator when this Linux host resets connections on a shared port whose
 * listener closes (`net.ipv4.tcp_migrate_req` is 0: the connections the kernel queued on a
 * draining replica are reset, not handed to the others); `null` when it does not, or cannot be
 * read.
 */
export function migrateReqAdvice(): string | null {
  const file = "/proc/sys/net/ipv4/tcp_migrate_req";
  if (Deno.build.os !== "linux") return null;
  try {
    if (Deno.permissions.querySync({ name: "read", path: file }).state !== "granted") return null;
    if (Deno.readTextFileSync(file).trim() !== "0") return null;
  } catch {
    return null;
  }
  return "net.ipv4.tcp_migrate_req is 0 on this host: when a serving replica stops (restart, reload, scale down), connections the kernel has queued on it but it has not accepted yet are reset instead of handed to the other replicas; for lossless rolling restarts under load set sysctl -w net.ipv4.tcp_migrate_req=1 (see docs/serving.md)";
}

/** The warnings a runtime logs once it started `topology`'s serving containers. */
export function servingWarnings(topology: { containers: readonly ContainerSpec[] }): string[] {
  const advice = topology.containers.some((c) => c.serve) ? migrateReqAdvice() : null;
  return [...(advice ? [advice] : []), ...listenGrantWarnings(topology.containers)];
}

/**
 * Refuses a container spawned into a running topology (`rt.spawn`, `ctx.spawn`) that would serve
 * where another listener already does; `portOf` gives a running container's resolved port.
 *
 * @throws {TopologyError} At the container's `serve` key, naming the listener already there.
 */
export function assertPortFree(
  spec: ContainerSpec,
  topology: Parameters<typeof listenerClash>[1],
  portOf: (name: string) => number | undefined,
): ContainerSpec {
  const clash = listenerClash(spec, topology, portOf);
  if (clash) {
    throw new TopologyError(
      `${spec.serve!.hostname}:${
        spec.serve!.port
      } is where ${clash} already listens; two listeners on one port would split its clients; expected another port`,
      { key: `containers.${spec.name}.serve` },
    );
  }
  return spec;
}
