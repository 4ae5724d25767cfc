/**
 * The link: one bidirectional channel between two nodes, moving envelopes.
 *
 * A link only moves envelopes; routing lives in the node. Sending is coalesced: envelopes
 * queued in one turn of the event loop leave together as one batch (one `postMessage`, one
 * `write`), so throughput is not bounded by per-call cost.
 *
 * @module
 */
import type { Envelope } from "../protocol/envelope.ts";

/** Why a link closed. */
export interface LinkClosed {
  /** `eof`: the other side went away · `closed`: closed locally · `error`: broken or bad input. */
  kind: "eof" | "closed" | "error";
  /** The error, for `error`. */
  error?: Error;
}

/** A bidirectional envelope channel. */
export interface Link {
  /** Queues an envelope; it leaves with the current batch. Dropped once the link is closed. */
  send(envelope: Envelope): void;
  /**
   * Receives every incoming envelope, in order. `checked`: its values are known to satisfy the
   * wire-value rule already (decoded from a frame in which the decoder, enforcing the rule's
   * depth, found nothing malformed); the receiver's edge check may then skip walking them.
   */
  onEnvelope: (envelope: Envelope, checked?: boolean) => void;
  /**
   * Told of input dropped below the envelope level (a frame that is not an envelope batch, an
   * item with no kind): the link stays up. What arrives as an envelope is the receiver's to check.
   */
  onRefused?: (problem: string) => void;
  /** Closes the link (idempotent). */
  close(): void;
  /** Settles once, when the link closes for any reason. */
  readonly closed: Promise<LinkClosed>;
  /**
   * Whether envelopes arrive as structured clones (`postMessage`), whose values may share or
   * cycle references; a link that decodes bytes delivers trees only.
   */
  readonly clones?: boolean;
}

/** Envelopes a link keeps for its first handler. */
const MAX_EARLY = 10_000;

/** Coalescing and close bookkeeping shared by every link kind; subclasses post whole batches. */
export abstract class BatchingLink implements Link {
  // Envelopes that arrive before anyone listens (e.g. right after a handshake) wait for the
  // first handler instead of being lost.
  #handler: ((envelope: Envelope, checked?: boolean) => void) | null = null;
  #early: [Envelope, boolean][] = [];
  readonly closed: Promise<LinkClosed>;
  #queue: Envelope[] = [];
  #scheduled = false;
  #isClosed = false;
  #resolveClosed!: (reason: LinkClosed) => void;

  constructor() {
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  /** Receives every incoming envelope, in order (those that arrived earlier first). */
  get onEnvelope(): (envelope: Envelope, checked?: boolean) => void {
    return this.#handler ?? this.#keepEarly;
  }

  set onEnvelope(handler: (envelope: Envelope, checked?: boolean) => void) {
    this.#handler = handler;
    const early = this.#early;
    this.#early = [];
    for (const [env, checked] of early) handler(env, checked);
  }

  #keepEarly = (envelope: Envelope, checked = false): void => {
    if (this.#early.length >= MAX_EARLY) {
      this.finish({
        kind: "error",
        error: new Error(`more than ${MAX_EARLY} envelopes arrived before anyone listened`),
      });
      return;
    }
    this.#early.push([envelope, checked]);
  };

  /** Whether the link has closed. */
  get isClosed(): boolean {
    return this.#isClosed;
  }

  send(envelope: Envelope): void {
    if (this.#isClosed) return;
    this.#queue.push(envelope);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#flush);
    }
  }

  /** Sends everything queued now (normally done at the end of the current turn). */
  flush(): void {
    this.#flush();
  }

  #flush = (): void => {
    this.#scheduled = false;
    if (this.#isClosed || this.#queue.length === 0) return;
    const batch = this.#queue;
    this.#queue = [];
    this.postBatch(batch);
  };

  /** Hands one batch to the underlying channel. */
  protected abstract postBatch(batch: Envelope[]): void;

  /** Releases the underlying channel. */
  protected abstract release(): void;

  /**
   * Told of input dropped below the envelope level; the default writes to stderr (a node that
   * owns the link counts and logs it instead).
   */
  onRefused: (problem: string) => void = (problem) => {
    console.error(`kraken: input refused on a link: ${problem}`);
  };

  /**
   * Delivers a received batch, in order, from index `first`. An item that is not an object with a
   * kind is dropped and reported (so every handler may read `k`); the others go on, whatever their
   * shape. `checked`: their values are known to satisfy the wire-value rule.
   */
  protected deliver(batch: readonly unknown[], first = 0, checked = false): void {
    for (let i = first; i < batch.length; i++) {
      if (this.#isClosed) return;
      const env = batch[i];
      if (typeof env !== "object" || env === null || typeof (env as Envelope).k !== "string") {
        this.onRefused(`item ${i - first} of a batch is not an envelope (it has no kind)`);
        continue;
      }
      this.onEnvelope(env as Envelope, checked);
    }
  }

  /** Marks the link closed for `reason` and releases the channel (first call wins). */
  protected finish(reason: LinkClosed): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#queue = [];
    try {
      this.release();
    } finally {
      this.#resolveClosed(reason);
    }
  }

  close(): void {
    this.#flush();
    this.finish({ kind: "closed" });
  }
}
