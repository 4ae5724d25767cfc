/**
 * A link over a pair of byte streams (a subprocess's stdin/stdout, later a socket): each batch is
 * one length-prefixed msgpack frame `[version, ...envelopes]`.
 *
 * Envelopes are encoded as they are sent; while one write is in flight, the frames of new ones
 * keep gathering, so under load each write carries everything queued since the last one (up to
 * about 1 MiB a write). What waits is bounded by envelopes and by bytes — a peer that stops
 * reading closes its link rather than growing the sender's memory. An oversize frame (or a broken length prefix) closes the
 * link with a `FrameError`; a well-framed frame that holds no envelope batch is dropped
 * and reported through `onRefused`, and the link stays up.
 *
 * @module
 */
import { type Envelope, ENVELOPE_VERSION } from "../protocol/envelope.ts";
import { UnavailableError } from "../protocol/errors.ts";
import { DEFAULT_MAX_FRAME, FrameDecoder } from "../protocol/framing.ts";
import { decodeLenient, MsgpackEncoder } from "../protocol/msgpack.ts";
import { MAX_WIRE_DEPTH } from "../protocol/wire_value.ts";
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
  /**
   * Bytes (encoded) that may wait likewise (default {@linkcode DEFAULT_MAX_QUEUED_BYTES}, and at
   * least four maximum frames): a few large replies to a peer that does not read would pass the
   * envelope bound only after gigabytes.
   */
  maxQueuedBytes?: number;
}

/** Bytes after which a batch is cut into another frame (1 MiB). */
const SOFT_FRAME = 1024 * 1024;

/** Default of {@linkcode StreamLinkOptions.maxQueued}. */
export const DEFAULT_MAX_QUEUED = 100_000;

/** Default of {@linkcode StreamLinkOptions.maxQueuedBytes}: 64 MiB (four default frames). */
export const DEFAULT_MAX_QUEUED_BYTES = 64 * 1024 * 1024;

/** Encoded frames waiting for the write in flight, and the envelopes they carry. */
interface Queued {
  frame: Uint8Array;
  envelopes: number;
}

/** An envelope link over a readable and a writable byte stream. */
export class StreamLink extends BatchingLink {
  #writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  #reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  readonly #encoder = new MsgpackEncoder();
  readonly #decoder: FrameDecoder;
  #writing = false;
  #lastWrite: Promise<void> = Promise.resolve();
  #waiting: Queued[] = [];
  #waitingBytes = 0;
  #waitingEnvelopes = 0;
  readonly #maxQueued: number;
  readonly #maxQueuedBytes: number;
  readonly #maxFrame: number;
  // A long queue leaves in frames of about this size, so no write outgrows the peer's maximum.
  readonly #softLimit: number;

  /**
   * @param readable Incoming bytes; `null` with `writable` `null` too: a link whose byte streams
   *   come later, through {@linkcode StreamLink.attach} (what is sent meanwhile waits, bounded).
   * @param writable Outgoing bytes.
   * @param options Limits.
   */
  constructor(
    readable: ReadableStream<Uint8Array> | null,
    writable: WritableStream<Uint8Array> | null,
    options: StreamLinkOptions = {},
  ) {
    super();
    this.#maxFrame = options.maxFrame ?? DEFAULT_MAX_FRAME;
    this.#softLimit = Math.min(SOFT_FRAME, this.#maxFrame >>> 1);
    this.#decoder = new FrameDecoder(this.#maxFrame);
    this.#maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
    this.#maxQueuedBytes = options.maxQueuedBytes ??
      Math.max(DEFAULT_MAX_QUEUED_BYTES, 4 * this.#maxFrame);
    if (readable && writable) this.attach(readable, writable);
    else this.#writing = true; // nothing can be written yet: batches gather in #waiting
  }

  /**
   * Gives a link made without streams its byte streams (once): reading starts, and what was sent
   * meanwhile leaves first.
   */
  attach(readable: ReadableStream<Uint8Array>, writable: WritableStream<Uint8Array>): void {
    if (this.#reader) throw new Error("this link already has its streams");
    this.#reader = readable.getReader();
    this.#writer = writable.getWriter();
    if (this.isClosed) return this.release();
    this.#readLoop(this.#reader);
    this.#writing = false;
    this.#writeNext();
  }

  async #readLoop(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    try {
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const frame of this.#decoder.push(value)) {
          const batch = this.#batch(frame);
          if (batch) this.deliver(batch.items, 1, batch.checked);
          if (this.isClosed) return;
        }
      }
      this.finish({ kind: "eof" });
    } catch (error) {
      if (this.isClosed) return;
      // A reset is the other side going away (e.g. it closed with our bytes unread): an end.
      if (error instanceof Deno.errors.ConnectionReset || error instanceof Deno.errors.BrokenPipe) {
        return this.finish({ kind: "eof", error });
      }
      this.finish({
        kind: "error",
        error: error instanceof Error ? error : new Error(String(error)),
      });
    }
  }

  /**
   * The envelopes of one frame, or `null` when it holds none (reported; the link stays up: the
   * framing around it is intact) — or when decoding it would build more than `MAX_OBJECTS`
   * objects (a lawful frame of a million empty maps would cost ~64 bytes of heap per byte; it is
   * refused whole, like bytes that are not msgpack). Decoding is lenient: a part that cannot be decoded but whose
   * extent is known (an unknown extension, bad UTF-8, too deep) is marked, not fatal, so the
   * envelope holding it can be refused alone — and a request answered. The decoder enforces the
   * wire-value rule's depth on the envelopes' values (a batch holds envelopes at depth 1, their
   * values at depth 2): a frame with nothing marked holds only values that satisfy the rule
   * (`checked`), and the receiver need not walk them again.
   */
  #batch(frame: Uint8Array): { items: unknown[]; checked: boolean } | null {
    let batch: unknown;
    let marked: number;
    try {
      ({ value: batch, marked } = decodeLenient(frame, 2 + MAX_WIRE_DEPTH));
    } catch (error) {
      this.onRefused(
        `a frame of ${frame.length} bytes cannot be decoded: ${(error as Error).message}`,
      );
      return null;
    }
    if (!Array.isArray(batch) || batch[0] !== ENVELOPE_VERSION) {
      this.onRefused(
        `a frame is not an envelope batch of version ${ENVELOPE_VERSION} (got ${
          Array.isArray(batch) ? `version ${String(batch[0])}` : typeof batch
        })`,
      );
      return null;
    }
    return { items: batch, checked: marked === 0 };
  }

  protected postBatch(batch: Envelope[]): void {
    const backedUp = this.#writing;
    if (!this.#encode(batch)) return;
    if (!backedUp) return this.#writeNext();
    if (this.#waitingEnvelopes > this.#maxQueued || this.#waitingBytes > this.#maxQueuedBytes) {
      const what = this.#waitingEnvelopes > this.#maxQueued
        ? `${this.#waitingEnvelopes} envelopes were waiting to be written (limit ${this.#maxQueued})`
        : `${this.#waitingBytes} bytes were waiting to be written (limit ${this.#maxQueuedBytes})`;
      this.#waiting = [];
      this.#waitingBytes = this.#waitingEnvelopes = 0;
      this.finish({
        kind: "error",
        error: new UnavailableError(`the peer reads too slowly: ${what}; link closed`),
      });
    }
  }

  /**
   * Encodes `batch` into frames of about the soft size (never over the maximum) and queues them;
   * `false` when the link closed on the way. What is too large for any frame is refused
   * (`#refuseOversize`); an error reply standing for a reply too large follows the batch.
   */
  #encode(batch: Envelope[]): boolean {
    const instead: Envelope[] = [];
    try {
      for (let next = 0; next < batch.length;) {
        const part = this.#encoder.encodeBatchFrame(
          ENVELOPE_VERSION,
          batch,
          next,
          this.#softLimit,
          this.#maxFrame,
        );
        for (const { index, size } of part.tooLarge) {
          const error = this.#refuseOversize(batch[index], size);
          if (error) instead.push(error);
        }
        if (part.frame) {
          const envelopes = part.next - next - part.tooLarge.length;
          this.#waiting.push({ frame: part.frame, envelopes });
          this.#waitingBytes += part.frame.length;
          this.#waitingEnvelopes += envelopes;
        }
        next = part.next;
      }
    } catch (error) {
      this.finish({ kind: "error", error: error as Error });
      return false;
    }
    return instead.length === 0 || this.#encode(instead);
  }

  /** Writes what waits (frames joined up to about the soft size), then what gathered meanwhile. */
  #writeNext(): void {
    if (this.#writing || this.#waiting.length === 0 || this.isClosed) return;
    let take = 1;
    let size = this.#waiting[0].frame.length;
    while (
      take < this.#waiting.length && size + this.#waiting[take].frame.length <= this.#softLimit
    ) size += this.#waiting[take++].frame.length;
    const parts = this.#waiting.splice(0, take);
    let chunk = parts[0].frame;
    if (take > 1) {
      chunk = new Uint8Array(size);
      let at = 0;
      for (const { frame } of parts) {
        chunk.set(frame, at);
        at += frame.length;
      }
    }
    this.#waitingBytes -= size;
    for (const { envelopes } of parts) this.#waitingEnvelopes -= envelopes;
    this.#writing = true;
    this.#lastWrite = this.#writer!.write(chunk).then(
      () => {
        this.#writing = false;
        this.#writeNext();
      },
      // A failed write means the other side is gone (broken pipe): an end, not bad input.
      (error) => this.finish({ kind: "eof", error }),
    );
  }

  /**
   * An envelope larger than a frame may be never leaves. A request is answered here with a
   * FrameError (its sender learns at once, not at its timeout); a reply too large becomes an
   * error reply (returned, for the caller to send); anything else is dropped and reported through
   * `onOversize`.
   */
  #refuseOversize(env: Envelope, size: number): Envelope | null {
    const what = `${size} bytes exceed the link's maximum frame of ${this.#maxFrame} bytes`;
    if (env.k === "req") {
      const e = {
        name: "FrameError",
        message: `request "${env.t}" not sent: ${what}`,
        kind: "frame" as const,
      };
      queueMicrotask(() => {
        if (!this.isClosed) this.deliver([{ k: "err", i: env.i, d: env.s, f: env.to, e }]);
      });
    } else if (env.k === "res") {
      return {
        k: "err",
        i: env.i,
        d: env.d,
        f: env.f,
        e: { name: "FrameError", message: `reply not sent: ${what}`, kind: "frame" },
      };
    } else this.onOversize(env, size);
    return null;
  }

  /** Called with each envelope other than a request or reply that was too large to send. */
  onOversize: (envelope: Envelope, size: number) => void = (env, size) => {
    console.error(
      `kraken: a "${env.k}" envelope of ${size} bytes exceeds the link's maximum frame of ${this.#maxFrame} bytes and was dropped`,
    );
  };

  /** Resolves once everything queued so far has been written. */
  async drain(): Promise<void> {
    this.flush();
    while (this.#writing && this.#writer && !this.isClosed) await this.#lastWrite;
  }

  protected release(): void {
    this.#writer?.close().catch(() => {});
    this.#reader?.cancel().catch(() => {});
  }
}
