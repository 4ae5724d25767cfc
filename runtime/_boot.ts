/**
 * What a worker or process node does once its container module is loaded: wait for `init`, start
 * the instance, answer heartbeats, report exits, and turn global errors into a failed instance.
 *
 * Imports no npm package, so a new isolate is ready quickly.
 *
 * @module
 */
import type { Envelope, ExitReason, InitSettings, LogLevel } from "../protocol/envelope.ts";
import { type ContainerInput, type ContainerSpec, validateContainer } from "../config/topology.ts";
import { grantOutside, type Permissions, validatePermissions } from "../config/permissions.ts";
import { assertWithinHost } from "./_grant.ts";
import type { InstanceHandle } from "./_modes.ts";
import { Supervisor, type SupervisorSite } from "./_supervisor.ts";
import { errorToWire, PermissionEscalationError } from "../protocol/errors.ts";
import type { Link } from "../transports/link.ts";
import { ContainerInstance } from "./_instance.ts";
import { Node } from "./_node.ts";

/** How the node leaves once its instance has stopped. */
export interface BootOptions {
  /** Called when the instance has stopped and everything was sent (process: exit). */
  onStopped: () => void;
  /** Called when the link to the host is gone. */
  onHostLost: (instance: ContainerInstance | null) => void;
}

/**
 * Runs a container in this isolate, driven by the host over `upstream`. When the container has
 * children, a {@linkcode Supervisor} in this isolate starts them first (inline here, workers nested
 * in this isolate), supervises them, and reports routes, tree and events up the link.
 *
 * @param upstream The link to the parent node.
 * @param definition The module's default export.
 * @param moduleName The module URL, for error messages.
 * @param options Exit behaviour.
 * @param definitions Every container definition loaded in this isolate, by module URL.
 * @returns A function that hands a direct link to another node to this node.
 */
export function bootNode(
  upstream: Link,
  definition: unknown,
  moduleName: string,
  options: BootOptions,
  definitions: Record<string, unknown> = {},
): (id: string, link: Link) => void {
  let node: Node | null = null;
  let instance: ContainerInstance | null = null;
  let supervisor: Supervisor | null = null;
  const handles = new Map<string, InstanceHandle>();
  const early: [string, Link][] = [];

  const report = (error: unknown) => {
    if (instance) instance.fail(error);
    else {
      const wire = errorToWire(error);
      upstream.send({
        k: "exit",
        reason: { kind: "error", message: `${wire.name}: ${wire.message}`, error: wire },
      });
    }
  };
  globalThis.addEventListener("error", (event) => {
    event.preventDefault();
    report(event.error ?? new Error(event.message));
  });
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    report(event.reason);
  });
  upstream.closed.then(() => options.onHostLost(instance));

  const start = async (settings: InitSettings) => {
    const spec = settings.spec as ContainerSpec | undefined;
    const here = new Node(settings.node, {
      onControl(env: Envelope, from: string) {
        if (from !== "host") return handles.get(from)?.control(env);
        if (env.k === "ping") upstream.send({ k: "pong" });
        else if (env.k === "stop") instance?.end({ kind: "stopped", message: "stop requested" });
      },
      onLog() {},
    });
    node = here;
    here.setUpstream(upstream);
    here.setRoutes(settings.routes);
    for (const [id, link] of early.splice(0)) here.attach(id, link);

    let nextChild = 1;
    let reportQueued = false;
    const site: SupervisorSite = {
      node: here,
      handles,
      newNodeId: (mode) => `${settings.node}/${mode === "worker" ? "w" : "i"}${nextChild++}`,
      logLevel: settings.logLevel as LogLevel,
      log: (level, message, source) => here.log(level, message, source),
      emit: (event) => upstream.send({ k: "event", e: event as Record<string, unknown> }),
      changed() {
        if (!supervisor) return;
        here.setLocalRoutes(supervisor.routes());
        if (reportQueued) return;
        reportQueued = true;
        queueMicrotask(() => {
          reportQueued = false;
          if (!supervisor) return;
          upstream.send({ k: "subroutes", r: supervisor.routes() });
          upstream.send({ k: "subtree", t: supervisor.snapshot() });
        });
      },
      definitions: new Map(Object.entries(definitions)),
      validate(name, input, parent) {
        if (here.routes[name] && !supervisor?.has(name)) {
          throw new Error(`a container named "${name}" already exists in the application`);
        }
        const outside = parent && typeof input === "object" && input !== null
          ? grantOutside(
            validatePermissionsOrEmpty((input as ContainerInput).permissions, settings.baseUrl),
            parent.permissions,
          )
          : null;
        if (outside) {
          throw new PermissionEscalationError(
            name,
            outside.kind,
            outside.value,
            `its parent "${
              parent!.name
            }" does not have it, and a child runs inside its parent's sandbox`,
          );
        }
        const child = validateContainer(name, input, {
          baseUrl: settings.baseUrl ?? new URL(".", moduleName).href,
          parent: parent ?? undefined,
        });
        assertWithinHost(name, child.permissions);
        return child;
      },
      baseUrl: settings.baseUrl,
      sourceReads: () => settings.reads ?? [],
    };
    const childSupervisor = () => {
      if (supervisor) return supervisor;
      if (!spec) throw new Error(`container "${settings.name}" cannot supervise children here`);
      if (spec.replicas > 1) {
        throw new Error(
          `container "${spec.name}" has ${spec.replicas} replicas: only a single-replica container can supervise named children`,
        );
      }
      supervisor = new Supervisor(spec.name, spec.supervisor, site);
      supervisor.onGiveUp = (error) => instance?.escalated(error);
      return supervisor;
    };
    const stopChildren = async () => {
      const sup = supervisor;
      if (!sup) return;
      await sup.stopAll(`its parent ${settings.instance} stopped`);
      site.changed();
      upstream.send({ k: "subtree", t: sup.snapshot() });
    };
    instance = new ContainerInstance(here, {
      ...settings,
      logLevel: settings.logLevel as LogLevel,
      onError: spec?.onError,
    }, {
      exit(reason: ExitReason) {
        upstream.send({ k: "exit", reason });
      },
      stopped() {
        // Its children go with it, in reverse start order, before the host hears it stopped.
        stopChildren().finally(() => {
          upstream.send({ k: "stopped" });
          options.onStopped();
        });
      },
    }, {
      spawn: (child, opts) => childSupervisor().spawn(child, opts),
      stop: (name, mode) => childSupervisor().remove(name, mode),
      validate: (name, input) => site.validate(name, input, spec ?? null),
    });
    try {
      if (spec && spec.children.length > 0) await childSupervisor().start(spec.children);
      const topics = await instance.start(definition, moduleName);
      if (instance.state === "running") upstream.send({ k: "ready", topics });
    } catch (error) {
      await stopChildren();
      const wire = errorToWire(error);
      upstream.send({
        k: "exit",
        reason: { kind: "error", message: `${wire.name}: ${wire.message}`, error: wire },
      });
      upstream.send({ k: "stopped" });
      options.onStopped();
    }
  };

  upstream.onEnvelope = (env) => {
    if (env.k === "init") start(env.s);
    else if (env.k === "ping") upstream.send({ k: "pong" });
  };

  return (id, link) => {
    if (node) node.attach(id, link);
    else early.push([id, link]);
  };
}

/** A permissions block resolved like the topology does, or nothing when it is invalid. */
function validatePermissionsOrEmpty(input: unknown, baseUrl: string | undefined): Permissions {
  const dir = baseUrl ? decodeURIComponent(new URL(".", baseUrl).pathname) : Deno.cwd();
  const result = validatePermissions(input, dir);
  return result.ok ? result.value : {}; // invalid ones are reported by validateContainer
}
