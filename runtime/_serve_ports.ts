/**
 * `serve: { port: 0 }`: the port the runtime picks once, at a container's first start, and every
 * replica then shares (restarts, scaling and replacements keep it). One book per runtime.
 *
 * @module
 */
import type { ContainerSpec, ServeSpec } from "../config/topology.ts";
import { withServeGrant } from "../config/_read_serve.ts";
import { PermissionEscalationError } from "../protocol/errors.ts";

/** The ports picked for `port: 0`, by container and address. */
export class ServePorts {
  readonly #picked = new Map<string, number>();

  /**
   * The spec an instance of `spec` is launched with: port 0 replaced by the port picked for it
   * (picked now if it has none yet), and the grant to listen there added.
   * @throws {PermissionEscalationError} When this process may not listen on that host.
   */
  launchSpec(spec: ContainerSpec): ContainerSpec {
    if (!spec.serve || spec.serve.port !== 0) return spec;
    const serve = { ...spec.serve, port: this.port(spec.name, spec.serve) };
    return { ...spec, serve, permissions: withServeGrant(spec.permissions, serve) };
  }

  /** The address `spec` serves (port 0 resolved when it was picked), if it serves. */
  resolved(spec: ContainerSpec): ServeSpec | undefined {
    if (!spec.serve || spec.serve.port !== 0) return spec.serve;
    const port = this.#picked.get(key(spec.name, spec.serve));
    return port === undefined ? spec.serve : { ...spec.serve, port };
  }

  #pick(name: string, serve: ServeSpec): number {
    let listener: Deno.TcpListener;
    try {
      listener = Deno.listen({ hostname: serve.hostname, port: 0, transport: "tcp" });
    } catch (error) {
      if (
        error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied
      ) {
        throw new PermissionEscalationError(
          name,
          "net",
          serve.hostname,
          `containers.${name}.serve asks for a free port on ${serve.hostname}, where this runtime may not listen: start it with --allow-net (or --allow-net=${serve.hostname})`,
        );
      }
      throw error;
    }
    const port = listener.addr.port;
    listener.close();
    return port;
  }

  port(name: string, serve: ServeSpec): number {
    const k = key(name, serve);
    let port = this.#picked.get(k);
    if (port === undefined) {
      port = this.#pick(name, serve);
      this.#picked.set(k, port);
    }
    return port;
  }
}

function key(name: string, serve: ServeSpec): string {
  return `${name} ${serve.protocol} ${serve.hostname}`;
}
