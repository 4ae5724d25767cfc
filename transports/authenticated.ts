/**
 * Runs the link handshake (`handshake.ts`) over a pair of byte streams, then hands back the
 * streams for a {@linkcode StreamLink}: nothing but handshake frames is accepted before both sides
 * are proven, and a handshake that takes too long fails.
 *
 * Handshake frames use the link's framing (`u32` length + msgpack) with `0` as first item, where
 * envelope batches carry their version (`1`). They are small: a frame over 4 KiB during the
 * handshake is refused before it is buffered.
 *
 * @module
 */
import { AuthenticationError, FrameError } from "../protocol/errors.ts";
import { decodeMsgpack, MsgpackEncoder } from "../protocol/msgpack.ts";
import { DialerHandshake, type HandshakeMessage, ListenerHandshake } from "./handshake.ts";

/** Largest handshake frame accepted, bytes. */
export const MAX_HANDSHAKE_FRAME = 4096;

/** Options of {@linkcode authenticate}. */
export interface AuthenticateOptions {
  /** The shared secret. */
  secret: string;
  /** `listener` sends the challenge; `dialer` answers it. */
  role: "listener" | "dialer";
  /** Longest the whole handshake may take, ms (default 5000). */
  timeout?: number;
  /** Aborting it fails the handshake at once, with the signal's reason. */
  signal?: AbortSignal;
}

/** Streams after a successful handshake (bytes the peer sent early are kept). */
export interface AuthenticatedStreams {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
}

class HandshakeReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buffer = new Uint8Array(0);
  constructor(readable: ReadableStream<Uint8Array>) {
    this.#reader = readable.getReader();
  }

  async next(): Promise<unknown> {
    while (true) {
      if (this.#buffer.length >= 4) {
        const b = this.#buffer;
        const len = ((b[0] << 24) >>> 0) + (b[1] << 16) + (b[2] << 8) + b[3];
        if (len > MAX_HANDSHAKE_FRAME) {
          throw new FrameError(
            `handshake frame of ${len} bytes exceeds the maximum of ${MAX_HANDSHAKE_FRAME} bytes`,
          );
        }
        if (b.length >= 4 + len) {
          const payload = b.slice(4, 4 + len);
          this.#buffer = b.slice(4 + len);
          const item = decodeMsgpack(payload);
          if (!Array.isArray(item) || item[0] !== 0 || item.length !== 2) {
            throw new AuthenticationError("the peer sent a message before authenticating");
          }
          return item[1];
        }
      }
      const { value, done } = await this.#reader.read();
      if (done) throw new AuthenticationError("the peer closed the link during the handshake");
      const joined = new Uint8Array(this.#buffer.length + value.length);
      joined.set(this.#buffer);
      joined.set(value, this.#buffer.length);
      this.#buffer = joined;
    }
  }

  /** The rest of the stream, starting with any bytes already read past the handshake. */
  rest(): ReadableStream<Uint8Array> {
    const reader = this.#reader;
    let early: Uint8Array | null = this.#buffer.length > 0 ? this.#buffer : null;
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (early) {
          controller.enqueue(early);
          early = null;
          return;
        }
        const { value, done } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    });
  }

  release(): void {
    this.#reader.cancel().catch(() => {});
  }
}

/**
 * Authenticates a byte-stream link: both sides prove they hold `secret`.
 *
 * @returns The streams to build the link on.
 * @throws {AuthenticationError} Wrong or missing secret, a message before authentication, a
 *   timeout. {@linkcode FrameError} for an oversize or malformed handshake frame. The caller
 *   closes the connection.
 */
export async function authenticate(
  readable: ReadableStream<Uint8Array>,
  writable: WritableStream<Uint8Array>,
  options: AuthenticateOptions,
): Promise<AuthenticatedStreams> {
  const reader = new HandshakeReader(readable);
  const writer = writable.getWriter();
  const encoder = new MsgpackEncoder();
  const send = (message: HandshakeMessage) => writer.write(encoder.encodeFrame([0, message]));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new AuthenticationError("the handshake did not complete in time")),
      options.timeout ?? 5000,
    );
  });
  const exchange = async () => {
    if (options.role === "listener") {
      const handshake = new ListenerHandshake(options.secret);
      await send(handshake.hello());
      let welcome: HandshakeMessage;
      try {
        welcome = await handshake.check(await reader.next());
      } catch (error) {
        await send({ k: "denied", reason: "authentication failed" }).catch(() => {});
        throw error;
      }
      await send(welcome);
    } else {
      const handshake = new DialerHandshake(options.secret);
      await send(await handshake.answer(await reader.next()));
      await handshake.verify(await reader.next());
    }
  };
  const signal = options.signal;
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal!.reason);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
  });
  try {
    await Promise.race([exchange(), timeout, aborted]);
  } catch (error) {
    reader.release();
    writer.releaseLock();
    throw error;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
  writer.releaseLock();
  return { readable: reader.rest(), writable };
}
