/**
 * The building block of stream-based transports: a raw byte connection in, an authenticated link
 * out. Both sides prove the shared secret (`handshake.ts`) before any envelope is read; only then
 * is the connection framed as a {@linkcode StreamLink}.
 *
 * @module
 */
import { authenticate } from "./authenticated.ts";
import type { Link } from "./link.ts";
import { StreamLink } from "./stream_link.ts";
import type { ByteConnection, TransportLink, TransportOptions } from "./transport.ts";

/** Links made here: the only ones the runtime accepts from a transport (they authenticated). */
const authenticated = new WeakSet<TransportLink>();

/**
 * Turns a raw byte connection into an authenticated link: runs the handshake as `role` (the
 * listener challenges, the dialer answers; both prove the secret), then frames the connection.
 * A transport's `listen` hands each accepted connection's link to `options.onLink`; its `dial`
 * returns the link of the connection it opened.
 *
 * @param conn The byte connection (closed when the handshake fails and when the link closes).
 * @param role Which side of the handshake this is.
 * @param options The secret, limits, and a `signal` that fails the handshake at once when aborted
 *   (a listener evicting a connection that waits too long).
 * @returns The link, once both sides proved the secret.
 * @throws {AuthenticationError} When the handshake fails (the connection is closed).
 *
 * @example Two ends of an in-process pipe, linked
 * ```ts
 * import assert from "node:assert/strict";
 * import { linkOver } from "./link_over.ts";
 * import type { ByteConnection } from "./transport.ts";
 *
 * const ab = new TransformStream<Uint8Array, Uint8Array>();
 * const ba = new TransformStream<Uint8Array, Uint8Array>();
 * const a: ByteConnection = { readable: ba.readable, writable: ab.writable, close() {} };
 * const b: ByteConnection = { readable: ab.readable, writable: ba.writable, close() {} };
 * const [listener, dialer] = await Promise.all([
 *   linkOver(a, "listener", { secret: "s3cret" }),
 *   linkOver(b, "dialer", { secret: "s3cret" }),
 * ]);
 * listener.close();
 * dialer.close();
 * assert.equal((await dialer.closed).kind, "closed");
 *
 * // A wrong secret is refused on both sides.
 * const cd = new TransformStream<Uint8Array, Uint8Array>();
 * const dc = new TransformStream<Uint8Array, Uint8Array>();
 * await assert.rejects(
 *   Promise.all([
 *     linkOver({ readable: dc.readable, writable: cd.writable, close() {} }, "listener", {
 *       secret: "s3cret",
 *     }),
 *     linkOver({ readable: cd.readable, writable: dc.writable, close() {} }, "dialer", {
 *       secret: "guess",
 *     }),
 *   ]),
 *   { name: "AuthenticationError" },
 * );
 * ```
 */
export async function linkOver(
  conn: ByteConnection,
  role: "listener" | "dialer",
  options: TransportOptions & {
    /** Aborting it fails the handshake at once (a listener evicting a waiting connection). */
    signal?: AbortSignal;
  },
): Promise<TransportLink> {
  return await authenticatedLink(conn, role, options);
}

/** {@linkcode linkOver}, typed for the runtime (which moves envelopes on the link). */
export async function authenticatedLink(
  conn: ByteConnection,
  role: "listener" | "dialer",
  options: TransportOptions & { signal?: AbortSignal },
): Promise<Link> {
  let streams;
  try {
    streams = await authenticate(conn.readable, conn.writable, {
      secret: options.secret,
      role,
      timeout: options.handshakeTimeout,
      signal: options.signal,
    });
    conn.authenticated?.();
  } catch (error) {
    closeQuietly(conn);
    throw error;
  }
  const link = new StreamLink(streams.readable, streams.writable, { maxFrame: options.maxFrame });
  link.closed.then(() => closeQuietly(conn));
  authenticated.add(link);
  return link;
}

/**
 * The runtime's view of a link a transport handed over, or `null` when `linkOver` did not make it
 * (a transport that skipped the handshake).
 */
export function openLink(link: TransportLink): Link | null {
  return authenticated.has(link) ? link as Link : null;
}

function closeQuietly(conn: ByteConnection): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
