/**
 * A listener's connections that have not authenticated yet, bounded: anyone who can reach a port
 * can open connections, and each one waiting for its handshake holds a socket, buffers and a
 * timer. Every listener (`tcp://`, `unix://`, `ws://`, `wss://`) keeps at most
 * {@linkcode MAX_UNAUTHENTICATED} of them and closes each one that has not authenticated within
 * the handshake timeout.
 *
 * Beyond the bound, room is made by closing the oldest waiting connection of the address that has
 * the most waiting — not by refusing the newcomer: refusing would let anyone hold every slot with
 * that many idle sockets renewed once per timeout, locking every real peer out; this way a flood
 * from one address evicts its own connections first, and a peer whose handshake takes a round trip
 * or two still gets through while the flood goes on.
 *
 * @module
 */
import { AuthenticationError } from "../protocol/errors.ts";

/**
 * Connections a listener keeps waiting to authenticate at once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_UNAUTHENTICATED } from "./_pending.ts";
 * assert.equal(MAX_UNAUTHENTICATED, 128);
 * ```
 */
export const MAX_UNAUTHENTICATED = 128;

/** One admitted connection: aborted when it is evicted or too slow; settled once it is done. */
export interface PendingSlot {
  /** Aborted (with an {@linkcode AuthenticationError} as reason) to close the connection. */
  readonly signal: AbortSignal;
  /** It authenticated, or failed: it no longer counts (idempotent). */
  settle(): void;
}

interface Entry {
  address: string;
  controller: AbortController;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * The connections of one listener waiting to authenticate.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PendingConnections } from "./_pending.ts";
 * const pending = new PendingConnections({ max: 1, timeout: 1000 });
 * const first = pending.admit("10.0.0.1");
 * const second = pending.admit("10.0.0.1");
 * assert.equal(first.signal.aborted, true);
 * assert.equal(second.signal.aborted, false);
 * second.settle();
 * ```
 */
export class PendingConnections {
  readonly #max: number;
  readonly #timeout: number;
  /** By address; each set in arrival order. */
  readonly #byAddress = new Map<string, Set<Entry>>();
  #count = 0;

  /** @param options `max` waiting at once (default 128); `timeout` to authenticate, ms. */
  constructor(options: { max?: number; timeout: number }) {
    this.#max = options.max ?? MAX_UNAUTHENTICATED;
    this.#timeout = options.timeout;
  }

  /** How many are waiting now. */
  get size(): number {
    return this.#count;
  }

  /** Admits a connection from `address` (a host, without port), evicting one if full. */
  admit(address: string): PendingSlot {
    if (this.#count >= this.#max) this.#evict();
    const controller = new AbortController();
    const entry: Entry = {
      address,
      controller,
      timer: setTimeout(() => {
        this.#remove(entry);
        controller.abort(
          new AuthenticationError(`the handshake did not complete in time (${this.#timeout} ms)`),
        );
      }, this.#timeout),
    };
    let set = this.#byAddress.get(address);
    if (!set) this.#byAddress.set(address, set = new Set());
    set.add(entry);
    this.#count++;
    return { signal: controller.signal, settle: () => this.#remove(entry) };
  }

  /** Closes every waiting connection (the listener closes). */
  clear(): void {
    for (const set of [...this.#byAddress.values()]) {
      for (const entry of set) {
        this.#remove(entry);
        entry.controller.abort(new AuthenticationError("the listener closed"));
      }
    }
  }

  #evict(): void {
    let busiest: Set<Entry> | undefined;
    for (const set of this.#byAddress.values()) {
      if (!busiest || set.size > busiest.size) busiest = set;
    }
    const oldest = busiest?.values().next().value;
    if (!oldest) return;
    this.#remove(oldest);
    oldest.controller.abort(
      new AuthenticationError(
        `more than ${this.#max} connections were waiting to authenticate: the oldest from the busiest address (${oldest.address}) was closed`,
      ),
    );
  }

  #remove(entry: Entry): void {
    const set = this.#byAddress.get(entry.address);
    if (!set?.delete(entry)) return;
    clearTimeout(entry.timer);
    this.#count--;
    if (set.size === 0) this.#byAddress.delete(entry.address);
  }
}
