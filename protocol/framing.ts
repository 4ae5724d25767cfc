/**
 * Length-prefixed framing for byte-stream links: `u32 big-endian length` then that many bytes.
 *
 * Pure: bytes in, frames out. The declared length is checked against the maximum before any
 * buffer is grown, so a hostile 4 GiB prefix costs nothing but a {@linkcode FrameError}. Frames
 * that sit whole inside one chunk are handed out as views of it, without copying.
 *
 * @module
 */
import { FrameError } from "./errors.ts";

/** Default largest frame accepted: 16 MiB. */
export const DEFAULT_MAX_FRAME = 16 * 1024 * 1024;

/** Splits a byte stream into frames. */
export class FrameDecoder {
  readonly #max: number;
  // A frame split across chunks is gathered in a buffer sized once from its prefix.
  #header = new Uint8Array(4);
  #headerFilled = 0;
  #frame: Uint8Array | null = null;
  #frameFilled = 0;

  /** @param maxFrame The largest payload accepted, in bytes. */
  constructor(maxFrame: number = DEFAULT_MAX_FRAME) {
    this.#max = maxFrame;
  }

  /** Bytes held waiting for the rest of a frame. */
  get buffered(): number {
    return this.#headerFilled + this.#frameFilled;
  }

  /**
   * Feeds a chunk and returns the whole frames it completes (payloads only).
   * @throws {FrameError} When a length prefix exceeds the maximum.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    const frames: Uint8Array[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.#frame) {
        const take = Math.min(this.#frame.length - this.#frameFilled, chunk.length - at);
        this.#frame.set(chunk.subarray(at, at + take), this.#frameFilled);
        this.#frameFilled += take;
        at += take;
        if (this.#frameFilled === this.#frame.length) {
          frames.push(this.#frame);
          this.#frame = null;
          this.#frameFilled = 0;
        }
        continue;
      }
      let len: number;
      if (this.#headerFilled === 0 && chunk.length - at >= 4) {
        len = ((chunk[at] << 24) >>> 0) + (chunk[at + 1] << 16) + (chunk[at + 2] << 8) +
          chunk[at + 3];
        at += 4;
      } else {
        while (this.#headerFilled < 4 && at < chunk.length) {
          this.#header[this.#headerFilled++] = chunk[at++];
        }
        if (this.#headerFilled < 4) break;
        const h = this.#header;
        len = ((h[0] << 24) >>> 0) + (h[1] << 16) + (h[2] << 8) + h[3];
        this.#headerFilled = 0;
      }
      if (len > this.#max) {
        throw new FrameError(`frame of ${len} bytes exceeds the maximum of ${this.#max} bytes`);
      }
      if (chunk.length - at >= len) {
        frames.push(chunk.subarray(at, at + len));
        at += len;
      } else {
        this.#frame = new Uint8Array(len);
        this.#frameFilled = 0;
      }
    }
    return frames;
  }
}
