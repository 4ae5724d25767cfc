/**
 * The `unix:///path/to.sock` transport: links between runtimes on one host over a unix socket.
 *
 * @module
 */
import { authenticatedLink } from "./link_over.ts";
import { socketListener } from "./_socket.ts";
import type { Transport } from "./transport.ts";

/**
 * The `unix:///path/to.sock` transport (the path is the URL's, percent-decoded). Invisible from
 * the network, and the shortest round trip between two runtimes on one host.
 *
 * @returns The transport, for `RuntimeOptions.transports`.
 *
 * @example A link over a unix socket
 * ```ts
 * import assert from "node:assert/strict";
 * import { unix } from "./unix.ts";
 * import type { TransportLink } from "./transport.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const url = new URL(`unix://${dir}/a.sock`);
 * const accepted = Promise.withResolvers<TransportLink>();
 * const listener = await unix().listen(url, {
 *   secret: "s3cret",
 *   onLink: (link) => accepted.resolve(link),
 * });
 * const link = await unix().dial(url, { secret: "s3cret" });
 * (await accepted.promise).close();
 * assert.equal((await link.closed).kind, "eof");
 * await listener.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function unix(): Transport {
  return {
    schemes: ["unix"],
    listen(url, options) {
      const listener = Deno.listen({ transport: "unix", path: decodeURIComponent(url.pathname) });
      return Promise.resolve(
        socketListener(listener, url, options, () => ({ name: "unix", address: "unix" })),
      );
    },
    async dial(url, options) {
      const path = decodeURIComponent(url.pathname);
      const conn = await Deno.connect({ transport: "unix", path });
      return authenticatedLink(conn, "dialer", options);
    },
  };
}
