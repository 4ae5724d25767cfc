/**
 * A link over a pair of byte streams (a subprocess's stdin/stdout, later a socket): each batch is
 * one length-prefixed msgpack frame `[version, ...envelopes]`.
 *
 * While one write is in flight, new envelopes keep gathering, so under load each write carries
 * everything queued since the last one. A malformed or oversize frame closes the link with a
 * {@linkcode FrameError}.
 *
 * @module
 */
import { type Envelope, ENVELOPE_VERSION } from "../protocol/envelope.ts";
import { FrameError, UnavailableError } from "../protocol/errors.ts";
import { DEFAULT_MAX_FRAME, FrameDecoder } from "../protocol/framing.ts";
import { decodeMsgpack, MsgpackEncoder } from "../protocol/msgpack.ts";
import { BatchingLink } from "./link.ts";

/** Options of {@linkcode StreamLink}. */
export interface StreamLinkOptions {
  /** Largest frame accepted, in bytes (default 16 MiB). */
  maxFrame?: number;
  /**
   * Envelopes that may wait for a slow peer to take the previous write (default 100,000). Beyond
   * that the link closes with an error instead of growing the sender's memory without bound.
   */
  maxQueued?: number;
}

/** Default of {@linkcode StreamLinkOptions.maxQueued}. */
export const DEFAULT_MAX_QUEUED = 100_000;

/** An envelope link over a readable and a writable byte stream. */
export class StreamLink extends BatchingLink {
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #encoder = new MsgpackEncoder();
  readonly #decoder: FrameDecoder;
  #writing = false;
  #lastWrite: Promise<void> = Promise.resolve();
  #waiting: Envelope[] = [];
  readonly #maxQueued: number;

  /**
   * @param readable Incoming bytes.
   * @param writable Outgoing bytes.
   * @param options Limits.
   */
  constructor(
    readable: ReadableStream<Uint8Array>,
    writable: WritableStream<Uint8Array>,
    options: StreamLinkOptions = {},
  ) {
    super();
    this.#decoder = new FrameDecoder(options.maxFrame ?? DEFAULT_MAX_FRAME);
    this.#maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    this.#reader = readable.getReader();
    this.#writer = writable.getWriter();
    this.#readLoop();
  }

  async #readLoop(): Promise<void> {
    try {
      while (true) {
        const { value, done } = await this.#reader.read();
        if (done) break;
        for (const frame of this.#decoder.push(value)) {
          const batch = decodeMsgpack(frame);
          if (!Array.isArray(batch) || batch[0] !== ENVELOPE_VERSION) {
            throw new FrameError(
              `frame is not an envelope batch of version ${ENVELOPE_VERSION} (got ${
                Array.isArray(batch) ? `version ${String(batch[0])}` : typeof batch
              })`,
            );
          }
          for (let i = 1; i < batch.length; i++) {
            const env = batch[i];
            if (!env || typeof env !== "object" || typeof env.k !== "string") {
              throw new FrameError(`envelope ${i - 1} of a batch has no kind`);
            }
          }
          this.deliver(batch.slice(1) as Envelope[]);
          if (this.isClosed) return;
        }
      }
      this.finish({ kind: "eof" });
    } catch (error) {
      if (this.isClosed) return;
      this.finish({
        kind: "error",
        error: error instanceof Error ? error : new Error(String(error)),
      });
    }
  }

  protected postBatch(batch: Envelope[]): void {
    if (this.#writing) {
      for (const env of batch) this.#waiting.push(env);
      if (this.#waiting.length > this.#maxQueued) {
        const waiting = this.#waiting.length;
        this.#waiting = [];
        this.finish({
          kind: "error",
          error: new UnavailableError(
            `the peer reads too slowly: ${waiting} envelopes were waiting to be written (limit ${this.#maxQueued}); link closed`,
          ),
        });
      }
      return;
    }
    this.#write(batch);
  }

  #write(batch: Envelope[]): void {
    this.#writing = true;
    const frame = this.#encoder.encodeFrame([ENVELOPE_VERSION, ...batch]);
    this.#lastWrite = this.#writer.write(frame).then(
      () => {
        this.#writing = false;
        if (this.#waiting.length > 0 && !this.isClosed) {
          const next = this.#waiting;
          this.#waiting = [];
          this.#write(next);
        }
      },
      // A failed write means the other side is gone (broken pipe): an end, not bad input.
      (error) => this.finish({ kind: "eof", error }),
    );
  }

  /** Resolves once everything queued so far has been written. */
  async drain(): Promise<void> {
    this.flush();
    while (this.#writing && !this.isClosed) await this.#lastWrite;
  }

  protected release(): void {
    this.#writer.close().catch(() => {});
    this.#reader.cancel().catch(() => {});
  }
}
