/**
 * The `memory://name` transport: links between runtimes in one process, over in-process streams
 * (tests, examples, and the smallest worked example of a transport).
 *
 * @module
 */
import { authenticatedLink } from "./link_over.ts";
import type { ByteConnection, ListenOptions, Transport } from "./transport.ts";

/**
 * Who listens on each `memory://` name. One per process, as the kernel's port table is one per
 * host: every `memory()` transport reaches what any other listens on, so two runtimes of one
 * process link whether they were given the same transport object or not.
 */
const listening = new Map<string, ListenOptions>();

/** Two connected byte connections. */
function pipe(): [ByteConnection, ByteConnection] {
  const ab = new TransformStream<Uint8Array, Uint8Array>();
  const ba = new TransformStream<Uint8Array, Uint8Array>();
  const end = (t: TransformStream<Uint8Array, Uint8Array>) => {
    t.writable.close().catch(() => {});
  };
  return [
    { readable: ba.readable, writable: ab.writable, close: () => end(ab) },
    { readable: ab.readable, writable: ba.writable, close: () => end(ba) },
  ];
}

/**
 * The `memory://name` transport: in-process links, authenticated like any other (the handshake
 * runs over in-memory streams). A name is listened on at most once at a time in the process.
 *
 * @returns The transport, for `RuntimeOptions.transports`.
 * @throws {Error} From `listen`, when the name is already listened on; from `dial`, when nothing
 *   listens on it.
 *
 * @example Two runtimes in one process, linked over memory://
 * ```ts
 * import assert from "node:assert/strict";
 * import { memory } from "./memory.ts";
 * import type { TransportLink } from "./transport.ts";
 *
 * const accepted = Promise.withResolvers<TransportLink>();
 * const listener = await memory().listen(new URL("memory://shop"), {
 *   secret: "s3cret",
 *   onLink: (link) => accepted.resolve(link),
 * });
 * const link = await memory().dial(new URL("memory://shop"), { secret: "s3cret" });
 * (await accepted.promise).close();
 * assert.equal((await link.closed).kind, "eof");
 * await listener.close();
 * await assert.rejects(memory().dial(new URL("memory://shop"), { secret: "s3cret" }), {
 *   message: "nothing listens on memory://shop",
 * });
 * ```
 */
export function memory(): Transport {
  return {
    schemes: ["memory"],
    listen(url, options) {
      const name = url.host + url.pathname;
      if (listening.has(name)) {
        return Promise.reject(new Error(`memory://${name} is already listened on`));
      }
      listening.set(name, options);
      return Promise.resolve({
        url,
        close() {
          if (listening.get(name) === options) listening.delete(name);
          return Promise.resolve();
        },
      });
    },
    async dial(url, options) {
      const name = url.host + url.pathname;
      const listener = listening.get(name);
      if (!listener) throw new Error(`nothing listens on memory://${name}`);
      const [mine, theirs] = pipe();
      authenticatedLink(theirs, "listener", listener).then(
        (link) => listener.onLink(link, "memory"),
        (error: Error) => listener.onRefused?.(error, "memory"),
      );
      return await authenticatedLink(mine, "dialer", options);
    },
  };
}
