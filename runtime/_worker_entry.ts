/**
 * Entry of a worker container. The host starts each worker from a two-line module that imports
 * this file and the container module statically (static imports are allowed whatever the
 * worker's own `read` grant; a dynamic import would need it), then calls {@linkcode bootWorker}.
 *
 * @module
 */
import { type MessageEndpoint, PortLink } from "../transports/port_link.ts";
import { bootNode } from "./_boot.ts";

/** Boots the container exported by `moduleName` in this worker. */
export function bootWorker(
  definition: unknown,
  moduleName: string,
  definitions: Record<string, unknown> = {},
): void {
  const link = new PortLink(globalThis as unknown as MessageEndpoint);
  const attach = bootNode(link, definition, moduleName, {
    onStopped() {},
    onHostLost() {},
  }, definitions);
  link.onPort = ({ node, port }) => attach(node, new PortLink(port, () => port.close()));
}
