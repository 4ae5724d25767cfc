/**
 * What a container's factory returns, read as a serving entry: every instance reads it, and only a
 * serving one (`serve:`) loads the listener (`_serve.ts`, with the HTTP and TCP servers), so a
 * container that does not serve loads none of that code.
 *
 * @module
 */

/** What a container's factory may return to serve: its HTTP entry, or its TCP one. */
export interface ServingEntry {
  /** HTTP: answers one request (`info.remoteAddr`, as `Deno.serve` gives it). */
  fetch?: (request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => unknown;
  /** TCP: takes one accepted connection; the promise it returns is the connection's life. */
  accept?: (conn: Deno.TcpConn) => unknown;
}

/** Keys of a handler map that are entries of a serving container, never topics. */
export const RESERVED: ReadonlySet<string> = new Set(["fetch", "accept"]);

/**
 * What a factory's result serves, and whether its keys are topics: an object that is not a plain
 * one (a hono app, a class instance) with a `fetch` method serves only; a plain handler map serves
 * its `fetch` / `accept` and its other functions are topics.
 */
export function servingEntry(handlers: object): ServingEntry & { topics: boolean } {
  const proto = Object.getPrototypeOf(handlers);
  const plain = proto === Object.prototype || proto === null;
  const h = handlers as Record<string, unknown>;
  const fetch = typeof h.fetch === "function"
    ? (request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) =>
      (h.fetch as (r: Request, i: unknown) => unknown).call(handlers, request, info)
    : undefined;
  const accept = typeof h.accept === "function"
    ? (conn: Deno.TcpConn) => (h.accept as (c: Deno.TcpConn) => unknown).call(handlers, conn)
    : undefined;
  if (!plain && fetch) return { fetch, topics: false };
  return { fetch, accept, topics: true };
}

/** How long a stopping listener waits for the WebSockets it closed to finish closing. */
export const CLOSE_GRACE_MS = 250;
