/**
 * Transports: links move envelopes between nodes, and nothing else (routing is the node's). Within
 * one runtime a worker is reached over `postMessage` (`port_link.ts`) and a process over a byte
 * stream (`stream_link.ts`); between runtimes, a {@linkcode Transport} listens and dials links that
 * have proved the shared secret (`handshake.ts`) before any envelope. Transports are objects passed
 * to a runtime (`RuntimeOptions.transports`), never registered globally.
 *
 * | file                 | what                                                                    |
 * | -------------------- | ----------------------------------------------------------------------- |
 * | `link.ts`            | the link interface, and batching: one turn's envelopes leave together    |
 * | `port_link.ts`       | a link over `postMessage` (a worker, its scope, a direct port)           |
 * | `stream_link.ts`     | a link over a byte stream: length-prefixed msgpack frames, bounded queue |
 * | `transport.ts`       | what a transport is (`schemes`, `listen`, `dial`) and its options        |
 * | `transport_set.ts`   | the transports one runtime uses, by URL scheme                           |
 * | `link_over.ts`       | a byte connection in, an authenticated link out: a custom transport      |
 * | `handshake.ts`       | mutual HMAC-SHA256 authentication on the shared secret                   |
 * | `authenticated.ts`   | the handshake over a pair of byte streams                                |
 * | `tcp.ts`, `unix.ts`  | `tcp://` (optional TLS) and `unix://`                                    |
 * | `ws.ts`              | `ws://` and `wss://` (`websocket.ts` loaded on first use)                |
 * | `memory.ts`          | `memory://`, in one process                                              |
 * | `defaults.ts`        | the set a runtime uses when given none                                   |
 * | `_socket.ts`, `_accept.ts`, `_pending.ts`, `_ws_server.ts` | listening: accept loops that never give up, bounded pre-auth connections, RFC 6455 on the socket |
 *
 * @module
 */
export * from "./link.ts";
export * from "./port_link.ts";
export * from "./stream_link.ts";
export * from "./transport.ts";
export * from "./transport_set.ts";
export * from "./link_over.ts";
export * from "./handshake.ts";
export * from "./authenticated.ts";
export * from "./tcp.ts";
export * from "./unix.ts";
export * from "./ws.ts";
export * from "./memory.ts";
export * from "./defaults.ts";
