/**
 * What a worker or process node does once its container module is loaded: wait for `init`, start
 * the instance, answer heartbeats, report exits, and turn global errors into a failed instance.
 *
 * Imports no npm package, so a new isolate is ready quickly.
 *
 * @module
 */
import type { Envelope, ExitReason, InitSettings } from "../protocol/envelope.ts";
import { errorToWire } from "../protocol/errors.ts";
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
 * Runs a container in this isolate, driven by the host over `upstream`.
 *
 * @param upstream The link to the host.
 * @param definition The module's default export.
 * @param moduleName The module URL, for error messages.
 * @param options Exit behaviour.
 * @returns A function that hands a direct link to another node to this node.
 */
export function bootNode(
  upstream: Link,
  definition: unknown,
  moduleName: string,
  options: BootOptions,
): (id: string, link: Link) => void {
  let node: Node | null = null;
  let instance: ContainerInstance | null = null;
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
    node = new Node(settings.node, {
      onControl(env: Envelope) {
        if (env.k === "ping") upstream.send({ k: "pong" });
        else if (env.k === "stop") instance?.end({ kind: "stopped", message: "stop requested" });
      },
      onLog() {},
    });
    node.setUpstream(upstream);
    node.setRoutes(settings.routes);
    for (const [id, link] of early.splice(0)) node.attach(id, link);
    instance = new ContainerInstance(node, { ...settings, logLevel: settings.logLevel as "info" }, {
      exit(reason: ExitReason) {
        upstream.send({ k: "exit", reason });
      },
      stopped() {
        upstream.send({ k: "stopped" });
        options.onStopped();
      },
    });
    try {
      const topics = await instance.start(definition, moduleName);
      if (instance.state === "running") upstream.send({ k: "ready", topics });
    } catch (error) {
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
