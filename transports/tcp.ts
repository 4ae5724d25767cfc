/**
 * The `tcp://host:port` transport, with optional TLS: links between runtimes over TCP sockets.
 *
 * @module
 */
import { authenticatedLink } from "./link_over.ts";
import { netPeer, socketListener } from "./_socket.ts";
import type { Transport } from "./transport.ts";

/**
 * The `tcp://host:port` transport. With `tls` in the options (from the topology's
 * `transports.tls`), a listener serves TLS with `cert` and `key`, and a dialer trusts the system's
 * roots plus `ca`; the HMAC handshake still runs inside TLS. Port 0 listens on a free port (the
 * listener's `url` says which). Accepted and dialed sockets send at once (TCP_NODELAY).
 *
 * @returns The transport, for `RuntimeOptions.transports`.
 *
 * @example A link over TCP on a free port
 * ```ts
 * import assert from "node:assert/strict";
 * import { tcp } from "./tcp.ts";
 * import type { TransportLink } from "./transport.ts";
 *
 * const transport = tcp();
 * assert.deepEqual(transport.schemes, ["tcp"]);
 * const accepted = Promise.withResolvers<TransportLink>();
 * const listener = await transport.listen(new URL("tcp://127.0.0.1:0"), {
 *   secret: "s3cret",
 *   onLink: (link) => accepted.resolve(link),
 * });
 * assert.notEqual(listener.url.port, "0");
 * const link = await transport.dial(listener.url, { secret: "s3cret" });
 * (await accepted.promise).close();
 * assert.equal((await link.closed).kind, "eof");
 * await listener.close();
 * ```
 */
export function tcp(): Transport {
  return {
    schemes: ["tcp"],
    listen(url, options) {
      const where = { hostname: url.hostname || "127.0.0.1", port: Number(url.port || 0) };
      let listener: Deno.Listener;
      if (options.tls) {
        const { cert, key } = options.tls;
        if (!cert || !key) throw new TypeError("a TLS listener needs tls.cert and tls.key");
        listener = Deno.listenTls({
          ...where,
          cert: Deno.readTextFileSync(cert),
          key: Deno.readTextFileSync(key),
        });
      } else listener = Deno.listen(where);
      const addr = listener.addr as Deno.NetAddr;
      const real = new URL(`tcp://${addr.hostname}:${addr.port}`);
      return Promise.resolve(socketListener(listener, real, options, netPeer));
    },
    async dial(url, options) {
      const where = { hostname: url.hostname, port: Number(url.port) };
      if (options.tls) {
        const ca = options.tls.ca;
        const conn = await Deno.connectTls({
          ...where,
          ...(ca ? { caCerts: [Deno.readTextFileSync(ca)] } : {}),
        });
        try {
          await conn.handshake(); // certificate problems surface here, before the HMAC handshake
        } catch (error) {
          conn.close();
          throw error;
        }
        return authenticatedLink(conn, "dialer", options);
      }
      const conn = await Deno.connect(where);
      conn.setNoDelay(true);
      return authenticatedLink(conn, "dialer", options);
    },
  };
}
