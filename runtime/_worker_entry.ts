/**
 * Entry of a worker container. The host starts each worker from a short module that imports,
 * statically and in this order, the container guard (`_guard.ts`, so that no container code runs
 * unguarded), this file and the container module (static imports are allowed whatever the
 * worker's own `read` grant; a dynamic import would need it), then calls {@linkcode bootWorker}.
 *
 * @module
 */
import { type MessageEndpoint, PortLink } from "../transports/port_link.ts";
import type { LogLevel } from "../protocol/envelope.ts";
import { bootNode } from "./_boot.ts";
import { usageReader } from "./_usage.ts";
// Loaded by the guard already (`_guard_shared.ts`): the thread CPU reader costs no extra module.
import process from "node:process";

/** Taken before any container code runs (see `_usage.ts`): this worker's heap and thread CPU. */
const usage = usageReader(process.threadCpuUsage.bind(process));

/** A console argument as text (objects as JSON where they can be). */
function text(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Error) return value.stack ?? `${value.name}: ${value.message}`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Boots the container exported by `moduleName` in this worker. */
export function bootWorker(
  definition: unknown,
  moduleName: string,
  definitions: Record<string, unknown> = {},
): void {
  const link = new PortLink(globalThis as unknown as MessageEndpoint);
  // What a worker prints would go straight to the host's terminal, past the logs (and into
  // `kraken start --json`'s output): it becomes log lines of the instance, like a process's.
  let source = moduleName;
  const forward = (level: LogLevel) => (...args: unknown[]) =>
    link.send({ k: "log", l: level, m: args.map(text).join(" "), c: source });
  console.log = forward("info");
  console.info = forward("info");
  console.debug = forward("debug");
  console.warn = forward("warn");
  console.error = forward("error");
  const attach = bootNode(link, definition, moduleName, {
    onStopped() {},
    onHostLost() {},
    onInit: (instance) => (source = instance),
    usage,
  }, definitions);
  link.onPort = ({ node, port }) => attach(node, new PortLink(port, () => port.close()));
}
