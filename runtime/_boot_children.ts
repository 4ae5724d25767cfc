/**
 * The supervisor of a worker's or process's own children: started inside that isolate, it reports
 * its routes, tree and events up the link. Loaded by the boot only when the container has or
 * spawns children, so an isolate without any carries none of this code.
 *
 * @module
 */
import type { InitSettings, LogLevel } from "../protocol/envelope.ts";
import { PermissionEscalationError } from "../protocol/errors.ts";
import type { Link } from "../transports/link.ts";
import { type ContainerInput, type ContainerSpec, validateContainer } from "../config/topology.ts";
import { grantOutside, validatePermissions } from "../config/permissions.ts";
import { DENO_FS } from "../config/_deno_fs.ts";
import type { SpawnOptions, StopMode } from "./container.ts";
import { assertWithinHost } from "../config/_grant.ts";
import type { InstanceHandle } from "./_modes.ts";
import type { Node } from "./_node.ts";
import { Supervisor, type SupervisorSite } from "./_supervisor.ts";
import { declaredNames } from "./_trust.ts";
import { within } from "../protocol/routes.ts";
import { NameClaims } from "./_claims.ts";

/** What the boot needs from its children's supervisor. */
export interface ChildSupervision {
  /** Starts the declared children, in order. */
  start(specs: readonly ContainerSpec[]): Promise<void>;
  /** `ctx.spawn`: validates (module, grant within this container's, unique name) and starts. */
  spawn(name: string, input: ContainerInput, options?: SpawnOptions): Promise<void>;
  /** `ctx.stop`. */
  stop(name: string, mode?: StopMode): Promise<void>;
  /** Stops every child in reverse order and reports the empty subtree. */
  stopAll(message: string): Promise<void>;
  /** The application's table changed: a name a child spawned may be declared elsewhere now. */
  recheck(): void;
}

/** Creates the supervisor of this isolate's container's children. */
export function superviseChildren(options: {
  here: Node;
  upstream: Link;
  settings: InitSettings;
  moduleName: string;
  handles: Map<string, InstanceHandle>;
  definitions: Record<string, unknown>;
  onGiveUp: (error: Error) => void;
}): ChildSupervision {
  const { here, upstream, settings, moduleName } = options;
  const spec = settings.spec as ContainerSpec | undefined;
  if (!spec) throw new Error(`container "${settings.name}" cannot supervise children here`);
  if (spec.replicas > 1) {
    throw new Error(
      `container "${spec.name}" has ${spec.replicas} replicas: only a single-replica container can supervise named children (each replica would start its own copy)`,
    );
  }
  let nextChild = 1;
  let reportQueued = false;
  /** The names this isolate last announced up its link (its subtree's). */
  let announced = new Set<string>();
  const baseUrl = settings.baseUrl ?? new URL(".", moduleName).href;
  /** Sends the queued report of routes and tree, if one is queued. */
  const report = () => {
    if (!reportQueued) return;
    reportQueued = false;
    const routes = supervisor.routes();
    announced = new Set(Object.keys(routes));
    upstream.send({ k: "subroutes", r: routes });
    upstream.send({ k: "subtree", t: supervisor.snapshot() });
  };
  const site: SupervisorSite = {
    node: here,
    handles: options.handles,
    newNodeId: () => `${settings.node}/w${nextChild++}`,
    logLevel: settings.logLevel as LogLevel,
    log: (level, message, source) => here.log(level, message, source),
    emit: (event) => {
      // The host takes an event only about a container it knows is below: the report that
      // announces it goes first.
      report();
      upstream.send({ k: "event", e: event as Record<string, unknown> });
    },
    changed() {
      here.setLocalRoutes(supervisor.routes());
      if (reportQueued) return;
      reportQueued = true;
      queueMicrotask(report);
    },
    definitions: new Map(Object.entries(options.definitions)),
    validate(name, input, parent) {
      // A name its predecessors spawned (a restart, a replacement) is its to spawn again.
      if (here.routes[name] && !supervisor.has(name) && !settings.owned?.includes(name)) {
        throw new Error(`a container named "${name}" already exists in the application`);
      }
      if (parent && typeof input === "object" && input !== null) {
        const dir = decodeURIComponent(new URL(".", baseUrl).pathname);
        const wanted = validatePermissions((input as ContainerInput).permissions, dir);
        const outside = wanted.ok
          ? grantOutside(wanted.value, parent.permissions, { fs: DENO_FS })
          : null;
        if (outside) {
          throw new PermissionEscalationError(
            name,
            outside.kind,
            outside.value,
            `${
              outside.resolved === undefined
                ? ""
                : `it is ${outside.resolved ?? "a symbolic link loop"}, and `
            }its parent "${parent.name}" does not have it, and a child runs inside its parent's sandbox`,
          );
        }
      }
      const child = validateContainer(name, input, {
        baseUrl,
        parent: parent ?? undefined,
        fs: DENO_FS,
      });
      assertWithinHost(name, child.permissions);
      return child;
    },
    baseUrl,
    sourceReads: () => settings.reads ?? [],
    claims: new NameClaims(),
    taken() {
      // Declared or supervised here; or in the application's table and not what this isolate
      // announced itself (a name it did not announce, or one served outside its node).
      const names = declaredNames(spec.children, new Set(supervisor.names()));
      const app = here.appRoutes;
      const ours = (name: string) =>
        announced.has(name) &&
        [...app[name].instances, ...app[name].x ?? []].every((i) => within(i.n, here.id));
      return (name) => names.has(name) || (Object.hasOwn(app, name) && !ours(name));
    },
  };
  const supervisor = new Supervisor(spec.name, spec.supervisor, site);
  supervisor.onGiveUp = options.onGiveUp;
  return {
    start: (specs) => supervisor.start(specs),
    spawn: (name, input, opts) => supervisor.spawn(site.validate(name, input, spec), opts),
    stop: (name, mode) => supervisor.remove(name, mode),
    recheck() {
      if (supervisor.recheckClaims()) site.changed();
    },
    async stopAll(message) {
      await supervisor.stopAll(message);
      site.changed();
      upstream.send({ k: "subtree", t: supervisor.snapshot() });
    },
  };
}
