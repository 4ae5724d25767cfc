/**
 * Signed NATS messages, when the topology has `transports.secret`: every presence announcement,
 * request, send, publication and reply a runtime publishes ends with a 48-byte trailer after its
 * msgpack payload, and every runtime checks it before it acts on what it received.
 *
 * | bytes | field                                                               |
 * | ----- | ------------------------------------------------------------------- |
 * | 16    | the signer: its runtime incarnation's id (16 ASCII characters)      |
 * | 8     | its message counter, big-endian (1, 2, 3, … per incarnation)        |
 * | 8     | when it was signed, milliseconds since 1970 (UTC), big-endian       |
 * | 16    | the MAC: HMAC-SHA256 truncated to 16 bytes (below)                  |
 *
 * The MAC's key is `HMAC-SHA256(secret, "kraken/nats/v1")`; it covers, in order, the subject's
 * length (4 bytes, big-endian) and UTF-8 bytes, the reply subject's (empty when none), the msgpack
 * payload, and the trailer's first 32 bytes. So a signed message cannot be moved to another
 * subject, nor a request's reply sent elsewhere. A message signed more than
 * {@linkcode SIGNED_WITHIN} away from the receiver's clock is refused (clocks must agree within
 * that), and so is a counter already received from its signer: a copy replayed within the window
 * is refused as one, a copy replayed after it as too old.
 *
 * @module
 */
import { createHmac } from "node:crypto";
import { HmacSha256, sameBytes } from "../protocol/_hmac_sha256.ts";

/** Bytes a signature adds after the payload. */
export const TRAILER = 48;
/** A signed message is accepted within this of the receiver's clock, ms. */
export const SIGNED_WITHIN = 60_000;
/** Counters remembered per signer: one this far below its highest is refused as too old. */
const WINDOW = 1024;
/** Signers remembered (only those whose messages carried a valid MAC). */
const SIGNERS = 4096;
/**
 * Past this many payload bytes, the MAC is computed by `node:crypto` (native, ~0.6 ms per MiB,
 * but ~7 µs to start); below it, by {@linkcode HmacSha256} (~1 µs to start, ~14 ms per MiB).
 */
const NATIVE_FROM = 512;
const ID_LENGTH = 16;
const MAC_AT = ID_LENGTH + 16;

/** What is remembered of a signer, for replays. */
interface Signer {
  /** Its highest counter received. */
  top: number;
  /** Which of the {@linkcode WINDOW} counters up to `top` were received (bit `counter % WINDOW`). */
  seen: Uint8Array;
  /** The latest time it signed a message with. */
  last: number;
}

/**
 * Signs what this runtime publishes on NATS and checks what it receives.
 *
 * @example A signed message is opened once; a copy of it is a replay
 * ```ts
 * import assert from "node:assert/strict";
 * import { NatsAuth, TRAILER } from "./_nats_auth.ts";
 * const a = new NatsAuth({ secret: "s3cret", id: "aaaaaaaaaaaaaaaa" });
 * const b = new NatsAuth({ secret: "s3cret", id: "bbbbbbbbbbbbbbbb" });
 * const data = new Uint8Array(3 + TRAILER);
 * data.set([0x81, 0xa1, 0x62]);
 * a.seal("kraken.shop.pub", "", data);
 * assert.deepEqual(b.open("kraken.shop.pub", "", data), { signer: "aaaaaaaaaaaaaaaa", end: 3 });
 * assert.match((b.open("kraken.shop.pub", "", data) as { why: string }).why, /replay/);
 * assert.match((b.open("kraken.shop.c.x", "", data) as { why: string }).why, /secret/);
 * ```
 */
export class NatsAuth {
  readonly #mac: HmacSha256;
  readonly #key: Uint8Array;
  readonly #id: Uint8Array;
  readonly #now: () => number;
  readonly #signers = new Map<string, Signer>();
  readonly #check = new Uint8Array(16);
  #counter = 0;

  /**
   * The signer and checker of one runtime incarnation.
   * @param options `secret`: the topology's `transports.secret`; `id`: this runtime incarnation's
   *   id (16 ASCII characters); `now`: the wall clock (default `Date.now`).
   */
  constructor(options: { secret: string; id: string; now?: () => number }) {
    if (!/^[\x21-\x7e]{16}$/.test(options.id)) {
      throw new RangeError(`a NATS signer id is 16 ASCII characters, got "${options.id}"`);
    }
    const derive = new HmacSha256(new TextEncoder().encode(options.secret));
    derive.updateText("kraken/nats/v1");
    this.#key = derive.finish(new Uint8Array(32));
    this.#mac = new HmacSha256(this.#key);
    this.#id = new TextEncoder().encode(options.id);
    this.#now = options.now ?? Date.now;
  }

  /**
   * Signs a message in place: `data` is its msgpack payload followed by {@linkcode TRAILER} bytes
   * of room, which this fills.
   * @param subject The subject it is published on.
   * @param reply Its reply subject, or `""`.
   * @param data The payload and the room for the trailer.
   */
  seal(subject: string, reply: string, data: Uint8Array): void {
    const end = data.length - TRAILER;
    data.set(this.#id, end);
    const view = new DataView(data.buffer, data.byteOffset + end, TRAILER);
    writeUint64(view, ID_LENGTH, ++this.#counter);
    writeUint64(view, ID_LENGTH + 8, this.#now());
    data.set(this.#sign(subject, reply, data, end), end + MAC_AT);
  }

  /**
   * Checks a received message.
   * @param subject The subject it arrived on.
   * @param reply Its reply subject, or `""`.
   * @param data What arrived.
   * @returns Its signer and where its payload ends, or why it is refused.
   */
  open(
    subject: string,
    reply: string,
    data: Uint8Array,
  ): { signer: string; end: number } | { why: string } {
    const end = data.length - TRAILER;
    if (end < 1) return { why: "it is not signed (shorter than a signature)" };
    const view = new DataView(data.buffer, data.byteOffset + end, TRAILER);
    let signer = "";
    for (let i = 0; i < ID_LENGTH; i++) {
      const c = data[end + i];
      if (c < 0x21 || c > 0x7e) return { why: "it is not signed (no signer id)" };
      signer += String.fromCharCode(c);
    }
    const counter = readUint64(view, ID_LENGTH);
    const at = readUint64(view, ID_LENGTH + 8);
    const skew = at - this.#now();
    if (!(Math.abs(skew) <= SIGNED_WITHIN)) {
      const by = Number.isFinite(skew) ? `${Math.round(Math.abs(skew) / 1000)} s` : "far";
      return {
        why: `it was signed ${by} ${
          skew > 0 ? "ahead of" : "behind"
        } this runtime's clock (at most ${
          SIGNED_WITHIN / 1000
        } s apart: a replay, or clocks to set)`,
      };
    }
    if (!sameBytes(this.#sign(subject, reply, data, end), data.subarray(end + MAC_AT))) {
      return { why: "its signature does not match (not signed with this application's secret)" };
    }
    return this.#fresh(signer, counter, at) ? { signer, end } : {
      why: `a replay: message ${counter} of runtime ${signer} was received before (or is older ` +
        `than its last ${WINDOW})`,
    };
  }

  /** Forgets signers whose last message is older than the window: any copy of theirs is too old. */
  forget(): void {
    const oldest = this.#now() - SIGNED_WITHIN;
    for (const [id, signer] of this.#signers) {
      if (signer.last < oldest) this.#signers.delete(id);
    }
  }

  /** The MAC of a message whose payload ends at `end` (valid until the next call). */
  #sign(subject: string, reply: string, data: Uint8Array, end: number): Uint8Array {
    if (end > NATIVE_FROM) {
      const head = new Uint8Array(8 + 3 * (subject.length + reply.length));
      const view = new DataView(head.buffer);
      const to = new TextEncoder();
      let at = 0;
      for (const text of [subject, reply]) {
        const { written } = to.encodeInto(text, head.subarray(at + 4));
        view.setUint32(at, written);
        at += 4 + written;
      }
      const mac = createHmac("sha256", this.#key).update(head.subarray(0, at))
        .update(data.subarray(0, end + MAC_AT)).digest();
      this.#check.set(mac.subarray(0, 16));
      return this.#check;
    }
    this.#text(subject);
    this.#text(reply);
    this.#mac.update(data, 0, end + MAC_AT);
    return this.#mac.finish(this.#check);
  }

  /** A subject, prefixed with its length in bytes. */
  #text(text: string): void {
    for (let i = 0; i < text.length; i++) {
      if (text.charCodeAt(i) >= 0x80) {
        const bytes = new TextEncoder().encode(text);
        this.#mac.updateUint32(bytes.length);
        this.#mac.update(bytes);
        return;
      }
    }
    this.#mac.updateUint32(text.length);
    this.#mac.updateText(text);
  }

  /** Whether `counter` of `id` was not received before (and remembers it). */
  #fresh(id: string, counter: number, at: number): boolean {
    let signer = this.#signers.get(id);
    if (!signer) {
      if (this.#signers.size >= SIGNERS) this.#signers.delete(this.#signers.keys().next().value!);
      signer = { top: 0, seen: new Uint8Array(WINDOW / 8), last: at };
      this.#signers.set(id, signer);
    }
    if (counter > signer.top) {
      // The window slides up: the counters it leaves behind are cleared for their next turn.
      const from = Math.max(signer.top + 1, counter - WINDOW + 1);
      for (let c = from; c <= counter; c++) signer.seen[(c % WINDOW) >> 3] &= ~(1 << (c % 8));
      signer.top = counter;
    } else if (signer.top - counter >= WINDOW) return false;
    const bit = 1 << (counter % 8);
    const byte = (counter % WINDOW) >> 3;
    if (signer.seen[byte] & bit) return false;
    signer.seen[byte] |= bit;
    signer.last = Math.max(signer.last, at);
    return true;
  }
}

function writeUint64(view: DataView, at: number, n: number): void {
  view.setUint32(at, Math.floor(n / 0x100000000));
  view.setUint32(at + 4, n >>> 0);
}

function readUint64(view: DataView, at: number): number {
  return view.getUint32(at) * 0x100000000 + view.getUint32(at + 4);
}
