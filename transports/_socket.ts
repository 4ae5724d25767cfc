/**
 * Serving links on a listening socket, shared by the socket transports (`tcp://`, `unix://`,
 * `ws://`, `wss://`): each accepted connection is authenticated while at most
 * `MAX_UNAUTHENTICATED` wait for their handshake at once, at most {@linkcode MAX_LINKS}
 * authenticated links are open at once, and a failed accept (out of file descriptors) never ends
 * the listener.
 *
 * @module
 */
import { UnavailableError } from "../protocol/errors.ts";
import { acceptLoop, andMore } from "./_accept.ts";
import { linkOver } from "./link_over.ts";
import { PendingConnections } from "./_pending.ts";
import type { ByteConnection, Listener, ListenOptions } from "./transport.ts";

/**
 * Authenticated links one listener keeps open at once (default of `ListenOptions.maxLinks`). A
 * holder of the secret could otherwise open links until the process runs out of file
 * descriptors; beyond the bound a new connection is closed at once, before its handshake (the
 * links already open are never dropped for it), and reported through `onRefused`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_LINKS } from "./_socket.ts";
 * assert.equal(MAX_LINKS, 1024);
 * ```
 */
export const MAX_LINKS = 1024;

/**
 * Serves links on a listening socket: each accepted connection is (optionally upgraded, then)
 * authenticated, while at most `MAX_UNAUTHENTICATED` wait for their handshake at once
 * (`transports/_pending.ts`: the oldest of the busiest address makes room) and none waits longer
 * than the handshake timeout. At most `options.maxLinks` ({@linkcode MAX_LINKS}) authenticated
 * links are open at once: a connection beyond is closed before its handshake. A failed accept is
 * retried (`_accept.ts`) and reported through `options.onAcceptError` (or stderr), at most once a
 * second.
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
  const maxLinks = options.maxLinks ?? MAX_LINKS;
  let links = 0;
  const pending = new PendingConnections({ timeout: options.handshakeTimeout ?? 5000 });
  const closeQuietly = (conn: Deno.Conn) => {
    try {
      conn.close();
    } catch {
      // already closed
    }
  };
  const full = () =>
    new UnavailableError(
      `the listener already holds ${links} authenticated links (its limit is ${maxLinks}); connection closed`,
    );
  const accepting = acceptLoop(listener, (conn) => {
    const { name, address } = peer(conn);
    if (links >= maxLinks) {
      closeQuietly(conn);
      return options.onRefused?.(full(), name);
    }
    // Batches leave as soon as they are ready; Nagle would hold a second one for a delayed ACK.
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    open.add(conn);
    const slot = pending.admit(address);
    const done = () => open.delete(conn);
    upgrade(conn, slot.signal)
      .then((bytes) => linkOver(bytes, "listener", { ...options, signal: slot.signal }))
      .then(
        (link) => {
          slot.settle();
          // Others authenticated while this one did: the bound holds at the handshake's end too.
          if (links >= maxLinks) {
            link.close();
            done();
            return options.onRefused?.(full(), name);
          }
          links++;
          link.closed.then(() => {
            links--;
            done();
          });
          options.onLink(link, name);
        },
        (error: Error) => {
          slot.settle();
          done();
          closeQuietly(conn);
          options.onRefused?.(error, name);
        },
      )
      // A handler that throws is a bug to show, never an unhandled rejection ending the process.
      .catch((error) => console.error(`kraken: a listener's handler threw: ${error}`));
  }, (error, more, pause) => {
    const report = options.onAcceptError ?? ((e: Error) => console.error(`kraken: ${e.message}`));
    report(
      new UnavailableError(
        `the listener at ${url.href} cannot accept a connection: ${error.message}${
          andMore(more, "failed in the last second")
        }; it keeps trying (every ${pause} ms now)`,
      ),
    );
  });
  return {
    url,
    async close() {
      accepting.close();
      pending.clear();
      for (const conn of open) closeQuietly(conn);
      await accepting.done;
    },
  };
}

/** A TCP peer: `host:port`, counted by host. */
export function netPeer(conn: Deno.Conn): { name: string; address: string } {
  const a = conn.remoteAddr as Deno.NetAddr;
  return { name: `${a.hostname}:${a.port}`, address: a.hostname };
}
