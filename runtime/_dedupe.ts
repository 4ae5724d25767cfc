/**
 * The replies an instance keeps for retried requests (`r: 1`), so a duplicate is answered from
 * the reply instead of running its handler twice — bounded by count and by bytes: a caller that
 * retries many requests with large replies must not make an instance hold gigabytes.
 *
 * @module
 */
import type { Envelope } from "../protocol/envelope.ts";
import { wireSize } from "../protocol/wire_value.ts";

/** A reply, as kept. */
export type KeptReply = Extract<Envelope, { k: "res" | "err" }>;

/** Retried requests an instance remembers (the oldest is forgotten first). */
export const DEDUPE_LIMIT = 10_000;

/**
 * Bytes of replies an instance keeps for retried requests (about, as `wireSize` counts). Past it
 * the oldest kept replies are forgotten first (a duplicate of one of them then runs its handler
 * again, as a request never seen would); a reply larger than the whole budget is not kept.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEDUPE_BYTES } from "./_dedupe.ts";
 * assert.equal(DEDUPE_BYTES, 32 * 1024 * 1024);
 * ```
 */
export const DEDUPE_BYTES = 32 * 1024 * 1024;

interface Kept {
  reply: KeptReply;
  size: number;
}

/**
 * Retried requests one instance has seen (by `sender:id`), with their replies once sent.
 *
 * @example Forgetting the oldest reply past the byte budget
 * ```ts
 * import assert from "node:assert/strict";
 * import { RetriedRequests } from "./_dedupe.ts";
 * const seen = new RetriedRequests({ maxBytes: 3000 });
 * const reply = (i: number) => ({ k: "res" as const, i, d: "w1", f: "a#0.1", b: "x".repeat(1000) });
 * for (const i of [1, 2, 3]) {
 *   assert.equal(seen.first("w1", i), true); // never seen: run the handler
 *   seen.answered("w1", i, reply(i));
 * }
 * assert.equal(seen.first("w1", 3), false); // a duplicate: answered from what was kept
 * assert.equal(seen.reply("w1", 3)?.i, 3);
 * assert.equal(seen.first("w1", 1), true); // forgotten: the oldest went first
 * assert.ok(seen.bytes <= 3000);
 * ```
 */
export class RetriedRequests {
  readonly #seen = new Map<string, Kept | null>();
  readonly #maxCount: number;
  readonly #maxBytes: number;
  #bytes = 0;

  /** @param limits `maxCount` requests remembered (default 10,000); `maxBytes` of replies kept. */
  constructor(limits: { maxCount?: number; maxBytes?: number } = {}) {
    this.#maxCount = limits.maxCount ?? DEDUPE_LIMIT;
    this.#maxBytes = limits.maxBytes ?? DEDUPE_BYTES;
  }

  /** Bytes the kept replies hold (about). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Replies kept now. */
  get replies(): number {
    let n = 0;
    for (const kept of this.#seen.values()) if (kept) n++;
    return n;
  }

  /**
   * Whether request `id` from `sender` is seen for the first time (it is remembered now: run its
   * handler), or a duplicate (answer it with {@linkcode reply}, or not at all while it runs).
   */
  first(sender: string, id: number): boolean {
    const key = `${sender}:${id}`;
    if (this.#seen.has(key)) return false;
    this.#seen.set(key, null);
    if (this.#seen.size > this.#maxCount) this.#forget(this.#seen.keys().next().value!);
    return true;
  }

  /** The reply kept for request `id` of `sender`, if it was answered and is still kept. */
  reply(sender: string, id: number): KeptReply | undefined {
    return this.#seen.get(`${sender}:${id}`)?.reply;
  }

  /** Keeps the reply to request `id` of `sender` (if it is still remembered), within the budget. */
  answered(sender: string, id: number, reply: KeptReply): void {
    const key = `${sender}:${id}`;
    if (this.#seen.get(key) !== null) return; // forgotten meanwhile (or answered already)
    const size = reply.k === "res" ? wireSize(reply.b) : wireSize(reply.e);
    // Keeping it would flush every other reply: forget the request instead.
    if (size > this.#maxBytes) return void this.#seen.delete(key);
    this.#seen.set(key, { reply, size });
    this.#bytes += size;
    // Over the budget: forget the oldest kept replies (requests still running keep their place).
    for (const [old, kept] of this.#seen) {
      if (this.#bytes <= this.#maxBytes) break;
      if (kept) this.#forget(old);
    }
  }

  #forget(key: string): void {
    this.#bytes -= this.#seen.get(key)?.size ?? 0;
    this.#seen.delete(key);
  }
}
