/**
 * What a worker or process node does once its container module is loaded: wait for `init`, start
 * the instance, answer heartbeats, report exits, and turn global errors into a failed instance.
 *
 * Imports no npm package, so a new isolate is ready quickly.
 *
 * @module
 */
import type { Envelope, ExitReason, InitSettings, LogLevel } from "../protocol/envelope.ts";
import type { ContainerSpec } from "../config/topology.ts";
import type { InstanceHandle } from "./_modes.ts";
import type { ChildSupervision } from "./_boot_children.ts";
import { errorToWire } from "../protocol/errors.ts";
import type { Link } from "../transports/link.ts";
import { ContainerInstance } from "./_instance.ts";
import { Node } from "./_node.ts";
import { metricsBook } from "./_metrics.ts";
import type { UsageReading } from "./_usage.ts";
import { startTracing } from "./_tracing.ts";

/** How the node leaves once its instance has stopped. */
export interface BootOptions {
  /** Called when the instance has stopped and everything was sent (process: exit). */
  onStopped: () => void;
  /** Called when the link to the host is gone. */
  onHostLost: (instance: ContainerInstance | null) => void;
  /** Called with the instance id once the host says which instance this isolate is. */
  onInit?: (instance: string) => void;
  /** Reads what this isolate uses (see `_usage.ts`), sent with every pong. */
  usage?: () => UsageReading;
}

/**
 * Runs a container in this isolate, driven by the host over `upstream`. When the container has
 * children, a supervisor in this isolate starts them first (inline here, workers nested
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
  const handles = new Map<string, InstanceHandle>();
  const early: [string, Link][] = [];
  /**
   * What the host sent after `init` while this isolate was not yet listening as a node (loading
   * the tracing API is awaited first): handed to the node once it is. Dropping it lost the whole
   * routing table the hub sends a node right after its init, which may already be newer than the
   * init's: a container starting beside another then held its requests to it for good.
   */
  let afterInit: Envelope[] | null = null;
  /** Attaches this isolate's figures (`m`) to an envelope for the host; none before `init`. */
  let withFigures = <E extends Envelope>(env: E): E => env;
  const pong = (): Envelope => options.usage ? { k: "pong", u: options.usage() } : { k: "pong" };

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
    // Loaded before the container's first message, so its handlers' spans link up.
    if (settings.trace === 1) await startTracing().catch(() => {});
    const spec = settings.spec as ContainerSpec | undefined;
    let supervision: ChildSupervision | null = null;
    const here = new Node(settings.node, {
      onControl(env: Envelope, from: string) {
        if (from !== "host") return handles.get(from)?.control(env);
        if (env.k === "ping") upstream.send(withFigures(pong()));
        else if (env.k === "stop") instance?.end({ kind: "stopped", message: "stop requested" });
      },
      onLog() {},
      onViolation(from: string, what: string) {
        // A node below this one (a nested worker) overstepped: the host hears it in our name.
        here.log("warn", `dropped from node ${from}: ${what}`, settings.instance);
      },
      // A name one of its children spawned may have been declared elsewhere meanwhile.
      onRoutes: () => supervision?.recheck(),
    });
    node = here;
    // This isolate's figures: its instance, the children it supervises (their handles join the
    // same book), and what its node holds for restarting containers. They go up with every pong.
    const book = metricsBook(here);
    withFigures = (env) => Object.assign(env, { m: book.collectSet(here.heldCounts()) });
    here.setUpstream(upstream);
    here.setRoutes(settings.routes);
    for (const [id, link] of early.splice(0)) here.attachDirect(id, link);
    // In the order sent, after the init's table: a later table overrides it.
    const waiting = afterInit ?? [];
    afterInit = null;
    for (const env of waiting) here.receive(env, "host");

    // The supervising code loads only when this container has or spawns children: an isolate
    // without any starts lighter (the import is allowed: Kraken's folders are readable here).
    let children: Promise<ChildSupervision> | null = null;
    const supervise = () =>
      children ??= import("./_boot_children.ts").then((m) =>
        m.superviseChildren({
          here,
          upstream,
          settings,
          moduleName,
          handles,
          definitions,
          onGiveUp: (error) => instance?.escalated(error),
        })
      ).then((made) => (supervision = made));
    const stopChildren = async () => {
      if (children) await children.catch(() => {});
      await supervision?.stopAll(`its parent ${settings.instance} stopped`);
    };
    instance = new ContainerInstance(here, {
      ...settings,
      logLevel: settings.logLevel as LogLevel,
      onError: spec?.onError,
      serve: spec?.serve,
      entities: spec?.entities,
    }, {
      exit(reason: ExitReason) {
        // With the figures: the error that ended it is counted there, whenever the next pong.
        upstream.send(withFigures({ k: "exit", reason }));
      },
      stopped() {
        // Its children go with it, in reverse start order, before the host hears it stopped.
        stopChildren().finally(() => {
          upstream.send(withFigures({ k: "stopped" }));
          options.onStopped();
        });
      },
    }, {
      spawn: async (name, input, opts) => (await supervise()).spawn(name, input, opts),
      stop: async (name, mode) => (await supervise()).stop(name, mode),
    });
    const own = instance;
    book.track({ figures: () => ({ [settings.name]: own.metrics.figures() }) });
    try {
      if (spec && spec.children.length > 0) await (await supervise()).start(spec.children);
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
    if (env.k === "init") {
      options.onInit?.(env.s.instance);
      afterInit ??= [];
      start(env.s);
    } else if (env.k === "ping") upstream.send(pong());
    // The host is this isolate's parent (trusted), and the wait is one module load: unbounded.
    else if (afterInit !== null) afterInit.push(env);
  };

  return (id, link) => {
    if (node) node.attachDirect(id, link);
    else early.push([id, link]);
  };
}
