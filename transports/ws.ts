/**
 * The `ws://` and `wss://` transport's factory. Its implementation (`websocket.ts`, and the `ws`
 * package a dialer uses) is loaded on first use, so an isolate that never links over WebSocket
 * never loads it.
 *
 * @module
 */
import type { Transport } from "./transport.ts";

/**
 * The `ws://host:port/path` and `wss://host:port/path` transport: links over WebSocket, the path
 * being the endpoint (`/` by default). A `wss://` listener serves TLS with the options' `tls.cert`
 * and `tls.key`; a `wss://` dialer trusts the system's roots plus `tls.ca`. Every message is
 * bounded before it is read (4 KiB before authentication, `maxFrame` after).
 *
 * @returns The transport, for `RuntimeOptions.transports`.
 *
 * @example A link over WebSocket on a free port
 * ```ts
 * import assert from "node:assert/strict";
 * import { ws } from "./ws.ts";
 * import type { TransportLink } from "./transport.ts";
 *
 * const transport = ws();
 * assert.deepEqual(transport.schemes, ["ws", "wss"]);
 * const accepted = Promise.withResolvers<TransportLink>();
 * const listener = await transport.listen(new URL("ws://127.0.0.1:0/kraken"), {
 *   secret: "s3cret",
 *   onLink: (link) => accepted.resolve(link),
 * });
 * assert.equal(listener.url.pathname, "/kraken");
 * const link = await transport.dial(listener.url, { secret: "s3cret" });
 * (await accepted.promise).close();
 * assert.equal((await link.closed).kind, "eof");
 * await listener.close();
 * ```
 */
export function ws(): Transport {
  return {
    schemes: ["ws", "wss"],
    async listen(url, options) {
      const { listenWebSocket } = await import("./websocket.ts");
      return await listenWebSocket(url, options);
    },
    async dial(url, options) {
      const { dialWebSocket } = await import("./websocket.ts");
      return await dialWebSocket(url, options);
    },
  };
}
