/**
 * Serving links on a listening socket, shared by the socket transports (`tcp://`, `unix://`,
 * `ws://`, `wss://`): each accepted connection is authenticated while at most
 * `MAX_UNAUTHENTICATED` wait for their handshake at once.
 *
 * @module
 */
import { linkOver } from "./link_over.ts";
import { PendingConnections } from "./_pending.ts";
import type { ByteConnection, Listener, ListenOptions } from "./transport.ts";

/**
 * Serves links on a listening socket: each accepted connection is (optionally upgraded, then)
 * authenticated, while at most `MAX_UNAUTHENTICATED` wait for their handshake at once
 * (`transports/_pending.ts`: the oldest of the busiest address makes room) and none waits longer
 * than the handshake timeout.
 *
 * @param listener The socket listener.
 * @param url Where it listens (as reported).
 * @param options Listen options.
 * @param peer What to call a connection's peer, and its address (host, without port) for the bound.
 * @param upgrade Turns an accepted connection into the byte connection to authenticate (default
 *   the connection itself); aborting `signal` must make it reject.
 */
export function socketListener(
  listener: Deno.Listener,
  url: URL,
  options: ListenOptions,
  peer: (conn: Deno.Conn) => { name: string; address: string },
  upgrade: (conn: Deno.Conn, signal: AbortSignal) => Promise<ByteConnection> = (conn) =>
    Promise.resolve(conn),
): Listener {
  const open = new Set<Deno.Conn>();
  const pending = new PendingConnections({ timeout: options.handshakeTimeout ?? 5000 });
  const accepting = (async () => {
    for await (const conn of listener) {
      // Batches leave as soon as they are ready; Nagle would hold a second one for a delayed ACK.
      if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
      open.add(conn);
      const { name, address } = peer(conn);
      const slot = pending.admit(address);
      const done = () => open.delete(conn);
      upgrade(conn, slot.signal)
        .then((bytes) => linkOver(bytes, "listener", { ...options, signal: slot.signal }))
        .then(
          (link) => {
            slot.settle();
            link.closed.then(done);
            options.onLink(link, name);
          },
          (error: Error) => {
            slot.settle();
            done();
            try {
              conn.close();
            } catch {
              // already closed
            }
            options.onRefused?.(error, name);
          },
        );
    }
  })().catch(() => {});
  return {
    url,
    async close() {
      try {
        listener.close();
      } catch {
        // already closed
      }
      pending.clear();
      for (const conn of open) {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
      await accepting;
    },
  };
}

/** A TCP peer: `host:port`, counted by host. */
export function netPeer(conn: Deno.Conn): { name: string; address: string } {
  const a = conn.remoteAddr as Deno.NetAddr;
  return { name: `${a.hostname}:${a.port}`, address: a.hostname };
}
