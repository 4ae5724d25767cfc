// The raw echo client of the transports bench: length-prefixed msgpack frames, one per message,
// over a raw wire (bench/_wire.ts), matching replies to requests by id.
import { FrameDecoder } from "../protocol/framing.ts";
import { decodeMsgpack, MsgpackEncoder } from "../protocol/msgpack.ts";
import { concat } from "./_concat.ts";
import type { Body } from "./_raw.ts";
import { PAYLOAD } from "./_drive.ts";
import { socketWire, webSocketWire, type Wire } from "./_wire.ts";

/**
 * Echo client over a raw wire: length-prefixed msgpack frames, one per message. Unbatched, each
 * frame is its own write; batched, the frames of one turn leave in one write.
 */
export class RawClient {
  readonly #wire: Wire;
  readonly #batch: boolean;
  readonly #encoder = new MsgpackEncoder();
  readonly #decoder = new FrameDecoder();
  readonly #pending = new Map<number, (reply: Body) => void>();
  #queue: Uint8Array[] = [];
  #echoes = 0;
  #onEchoes: (() => void) | null = null;
  #wanted = 0;

  private constructor(wire: Wire, batch: boolean) {
    this.#wire = wire;
    this.#batch = batch;
    wire.onBytes = (chunk) => {
      for (const frame of this.#decoder.push(chunk)) {
        const reply = decodeMsgpack(frame) as Body;
        const resolve = this.#pending.get(reply.id);
        if (resolve) {
          this.#pending.delete(reply.id);
          resolve(reply);
        } else if (++this.#echoes === this.#wanted) this.#onEchoes?.();
      }
    };
  }

  /** A client over `wire`, already open. */
  static over(wire: Wire, batch: boolean): RawClient {
    return new RawClient(wire, batch);
  }

  /** A client over a socket or WebSocket to `address` (`tcp://`, `unix://`, `ws://`). */
  static async connect(address: string, batch: boolean): Promise<RawClient> {
    const url = new URL(address);
    const wire = url.protocol === "ws:" ? await webSocketWire(url) : await socketWire(url);
    return new RawClient(wire, batch);
  }

  /** Sends `body` as one frame and resolves with its echo. */
  request(body: Body): Promise<Body> {
    return new Promise((resolve) => {
      this.#pending.set(body.id, resolve);
      const frame = this.#encoder.encodeFrame(body);
      if (!this.#batch) return this.#wire.write(frame);
      if (this.#queue.push(frame) === 1) queueMicrotask(this.#flush);
    });
  }

  #flush = (): void => {
    const frames = this.#queue;
    this.#queue = [];
    this.#wire.write(concat(frames));
  };

  /**
   * Writes `n` frames as fast as possible (`perWrite` frames per write) and resolves when all `n`
   * echoes are back. Ids are negative so they never match a pending request.
   */
  oneWay(n: number, perWrite: number): Promise<void> {
    const done = new Promise<void>((resolve) => {
      this.#echoes = 0;
      this.#wanted = n;
      this.#onEchoes = resolve;
    });
    const group: Uint8Array[] = [];
    for (let i = 0; i < n; i++) {
      group.push(this.#encoder.encodeFrame({ id: -1 - i, payload: PAYLOAD }));
      if (group.length === perWrite || i === n - 1) {
        this.#wire.write(perWrite === 1 ? group[0] : concat(group));
        group.length = 0;
      }
    }
    return done;
  }

  /** Closes the wire. */
  close(): Promise<void> {
    return this.#wire.close();
  }
}
