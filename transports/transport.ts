/**
 * What a transport is: an object that listens for and dials **authenticated** links between
 * runtimes, for one or more URL schemes. The built-in ones are made by `tcp()`, `unix()`, `ws()`
 * and `memory()`; a runtime uses the set it is given (`RuntimeOptions.transports`, these four when
 * none is given), so a transport of your own is one more object in that list. A stream-based
 * transport only produces byte connections ({@linkcode ByteConnection}) and hands them to
 * `linkOver`, which runs the handshake and builds the link.
 *
 * Types only: nothing here touches `Deno.*`.
 *
 * @module
 */
import type { LinkClosed } from "./link.ts";

export type { LinkClosed } from "./link.ts";

/** What every transport's `listen` and `dial` take (the runtime fills them from `transports:`). */
export interface TransportOptions {
  /** The shared secret both sides must prove (never logged). */
  secret: string;
  /** Largest frame accepted once authenticated, bytes (default 16 MiB). */
  maxFrame?: number;
  /** Longest a handshake may take, ms (default 5000). */
  handshakeTimeout?: number;
  /**
   * TLS (file paths), for the transports that offer it (`tcp://`, `wss://`): a listener needs
   * `cert` and `key`; a dialer trusts the system's roots plus `ca` (e.g. a self-signed
   * certificate). The HMAC handshake still runs inside TLS.
   */
  tls?: { cert?: string; key?: string; ca?: string };
}

/** Options of {@linkcode Transport.listen}. */
export interface ListenOptions extends TransportOptions {
  /** Called with each authenticated incoming link, and a name for its peer (e.g. `host:port`). */
  onLink(link: TransportLink, peer: string): void;
  /**
   * Called when an incoming connection fails to authenticate, or is refused because the listener
   * holds `maxLinks` links already (it is closed).
   */
  onRefused?(error: Error, peer: string): void;
  /**
   * Called when accepting a connection fails (e.g. the process is out of file descriptors), at
   * most once a second with the count since; the listener keeps accepting, pausing up to 1 s
   * between tries. Default: a line on stderr.
   */
  onAcceptError?(error: Error): void;
  /**
   * Authenticated links the socket listeners (`tcp://`, `unix://`, `ws://`, `wss://`) keep open
   * at once (default 1024); a connection beyond is closed before its handshake and reported
   * through `onRefused`.
   */
  maxLinks?: number;
}

/** A listening endpoint. */
export interface Listener {
  /** Where it listens (with the real port when 0 was asked for). */
  readonly url: URL;
  /** Stops listening and closes the connections it accepted. */
  close(): Promise<void>;
}

/**
 * An authenticated link, as a transport hands it over: made by `linkOver` once both sides proved
 * the secret. The runtime accepts no other (what travels on it is the runtime's business).
 */
export interface TransportLink {
  /** Closes the link (idempotent). */
  close(): void;
  /** Settles once, when the link closes for any reason. */
  readonly closed: Promise<LinkClosed>;
}

/**
 * A transport: listens for and dials authenticated links for the URL schemes it names.
 *
 * @example A transport of your own, here delegating to `memory()` under another scheme
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Transport, TransportLink } from "./transport.ts";
 * import { memory } from "./memory.ts";
 *
 * const inner = memory();
 * const loop: Transport = {
 *   schemes: ["loop"],
 *   listen: (url, options) => inner.listen(new URL(`memory://loop-${url.host}`), options),
 *   dial: (url, options) => inner.dial(new URL(`memory://loop-${url.host}`), options),
 * };
 * const accepted = Promise.withResolvers<TransportLink>();
 * const listener = await loop.listen(new URL("loop://a"), {
 *   secret: "s3cret",
 *   onLink: (link) => accepted.resolve(link),
 * });
 * const dialed = await loop.dial(new URL("loop://a"), { secret: "s3cret" });
 * const theirs = await accepted.promise;
 * dialed.close();
 * assert.equal((await theirs.closed).kind, "eof"); // the other end saw it go
 * await listener.close();
 * ```
 */
export interface Transport {
  /**
   * The URL schemes it serves, without `:` (e.g. `["ws", "wss"]`): lower case, a letter then
   * letters, digits, `+`, `-` or `.`.
   */
  readonly schemes: readonly string[];
  /**
   * Listens at `url`; each incoming connection that proves the secret reaches `options.onLink`.
   * @throws When it cannot listen there (address in use, a missing TLS file, …).
   */
  listen(url: URL, options: ListenOptions): Promise<Listener>;
  /**
   * Dials `url`; resolves once both sides proved the secret.
   * @throws {AuthenticationError} When the handshake fails.
   */
  dial(url: URL, options: TransportOptions): Promise<TransportLink>;
}

/** A raw duplex byte connection: what most transports have before the handshake. */
export interface ByteConnection {
  /** Bytes from the peer. */
  readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer. */
  writable: WritableStream<Uint8Array>;
  /** Closes the connection (called on a failed handshake and when the link closes). */
  close(): void;
  /**
   * Called once the peer has proven the secret, before any envelope is read: a connection may
   * then lift what bounds it before authentication (e.g. a WebSocket's largest message).
   */
  authenticated?(): void;
}
