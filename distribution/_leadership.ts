/**
 * Leadership of the root runtime on a lease held in a store with revisions (NATS JetStream KV,
 * `_leadership_kv.ts`), never a consensus of its own: the active root holds one key, renewed by
 * revision-checked updates (an update naming a revision someone else overwrote fails), and the key
 * expires on the server once it has not been written for the TTL. A standby polls the key and
 * creates it once it is gone (create fails while it exists), so exactly one root holds it.
 *
 * No split brain: a leader counts its lease from when it **sent** its last successful write (the
 * server stamped that write later, so the key lives at least until then + TTL) and stops acting at
 * that time + TTL − margin, whether or not it can reach the store — before the key can expire and
 * a standby take over. Every decision runs on an injected clock.
 *
 * @module
 */
import { type Clock, SYSTEM_CLOCK, type TimerHandle, Timers } from "./_clock.ts";

/** The lease's key in the store: what {@linkcode Leadership} needs of it. */
export interface LeaseStore {
  /** Creates the key; resolves its revision, or `null` when it exists. Rejects when unreachable. */
  create(value: Uint8Array): Promise<number | null>;
  /** Overwrites the key if its revision is still `revision`: the new one, or `null` when not. */
  update(value: Uint8Array, revision: number): Promise<number | null>;
  /** The key's value and revision, or `null` when no one holds it. */
  read(): Promise<{ value: Uint8Array; revision: number } | null>;
  /** Deletes the key if its revision is still `revision` (a graceful hand-over). */
  remove(revision: number): Promise<void>;
}

/** What the lease's key holds: who leads, and the token that names this term. */
export interface LeaseHolder {
  /** The leading root runtime's name. */
  root: string;
  /** Unique to one term of one root: agents and peers compare it, never the name alone. */
  token: string;
  /** The revision at which this term began: grows from term to term (a fencing token). */
  term: number;
}

/** How a {@linkcode Leadership} is set up. */
export interface LeadershipOptions {
  /** This root runtime's name. */
  name: string;
  /** The key's TTL on the server, ms. */
  ttl: number;
  /** How long before the TTL a leader that could not renew stops acting, ms (default ttl / 4). */
  margin?: number;
  /** Called when this root becomes the leader (after it created the key). */
  onLead(holder: LeaseHolder): void;
  /** Called when it stops being the leader: lost the key, or could not renew it in time. */
  onStepDown(why: string): void;
  /** Failures of the store, logged (never thrown). */
  onError?(error: Error): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Parses what a lease key holds; `null` when it is not a lease (untrusted: anyone with write
 * access to the bucket may have put it there).
 */
export function parseHolder(bytes: Uint8Array): Omit<LeaseHolder, "term"> | null {
  try {
    const v = JSON.parse(decoder.decode(bytes)) as Record<string, unknown>;
    if (typeof v?.root !== "string" || typeof v.token !== "string") return null;
    return { root: v.root, token: v.token };
  } catch {
    return null;
  }
}

/**
 * One root's side of the lease: leader or standby, on an injected clock.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Leadership, type LeaseStore } from "./_leadership.ts";
 * let held: { value: Uint8Array; revision: number } | null = null;
 * let revision = 0;
 * const store: LeaseStore = {
 *   create: (value) => Promise.resolve(held ? null : (held = { value, revision: ++revision }).revision),
 *   update: (value, r) =>
 *     Promise.resolve(held?.revision === r ? (held = { value, revision: ++revision }).revision : null),
 *   read: () => Promise.resolve(held),
 *   remove: () => Promise.resolve(void (held = null)),
 * };
 * const leads: string[] = [];
 * const root = new Leadership(store, {
 *   name: "root-a",
 *   ttl: 1_000,
 *   onLead: (h) => leads.push(h.root),
 *   onStepDown: () => {},
 * });
 * await root.start();
 * assert.deepEqual(leads, ["root-a"]);
 * assert.ok(root.acting());
 * await root.close();
 * ```
 */
export class Leadership {
  readonly #store: LeaseStore;
  readonly #options: LeadershipOptions;
  readonly #timers: Timers;
  readonly #margin: number;
  #holder: LeaseHolder | null = null;
  #revision = 0;
  /** Until when this leader may act (clock time): last successful write's send time + ttl − margin. */
  #actUntil = 0;
  #deadline: TimerHandle | undefined;
  #tick: TimerHandle | undefined;
  #busy = false;
  #closed = false;

  constructor(store: LeaseStore, options: LeadershipOptions, clock: Clock = SYSTEM_CLOCK) {
    if (!(options.ttl > 0)) throw new RangeError(`ttl must be > 0 ms, got ${options.ttl}`);
    this.#store = store;
    this.#options = options;
    this.#timers = new Timers(clock);
    this.#margin = options.margin ?? options.ttl / 4;
    if (!(this.#margin > 0 && this.#margin < options.ttl)) {
      throw new RangeError(
        `margin must lie between 0 and ttl (${options.ttl} ms), got ${this.#margin}`,
      );
    }
  }

  /** How often the leader renews and a standby looks, ms. */
  get interval(): number {
    return Math.max(10, (this.#options.ttl - this.#margin) / 3);
  }

  /** The term this root leads now, if it does. */
  get holder(): LeaseHolder | null {
    return this.#holder;
  }

  /** Whether this root leads and may act now (place, fence): its lease has not run out here. */
  acting(): boolean {
    return this.#holder !== null && this.#timers.now() < this.#actUntil;
  }

  /**
   * Whether the lease key, read now, still names this root's term (its token): what a hint that
   * another root leads (a table row of a later term) is checked against before this root stops.
   * `false` when it does not lead here. Rejects when the store cannot be read.
   */
  async confirm(): Promise<boolean> {
    const holder = this.#holder;
    if (!holder || !this.acting()) return false;
    const current = await this.#store.read();
    const named = current !== null && current.revision >= holder.term &&
      parseHolder(current.value)?.token === holder.token;
    return named && this.#holder === holder;
  }

  /** Stops acting now (another root leads, as this root found out elsewhere); it stands by again. */
  resign(why: string): void {
    if (this.#holder) this.#stepDown(why);
  }

  /** Tries once to lead, then keeps renewing (leader) or watching (standby) until closed. */
  async start(): Promise<void> {
    await this.#step();
    this.#tick = this.#timers.every(this.interval, () => {
      if (!this.#busy) this.#step();
    });
  }

  /** Stops; a leader deletes its key so that a standby takes over at once. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#timers.clear();
    const was = this.#holder;
    const revision = this.#revision;
    this.#holder = null;
    if (was) {
      await this.#store.remove(revision).catch((e) => this.#options.onError?.(e as Error));
    }
  }

  async #step(): Promise<void> {
    this.#busy = true;
    try {
      if (this.#holder) await this.#renew();
      else await this.#tryLead();
    } catch (error) {
      this.#options.onError?.(error as Error);
    } finally {
      this.#busy = false;
    }
  }

  async #tryLead(): Promise<void> {
    const current = await this.#store.read();
    if (this.#closed || current !== null) return;
    const token = `${this.#options.name}.${crypto.randomUUID()}`;
    const sent = this.#timers.now();
    const revision = await this.#store.create(
      encoder.encode(JSON.stringify({ root: this.#options.name, token })),
    );
    if (this.#closed || revision === null) return;
    this.#revision = revision;
    this.#holder = { root: this.#options.name, token, term: revision };
    this.#extend(sent);
    this.#options.onLead(this.#holder);
  }

  async #renew(): Promise<void> {
    const holder = this.#holder!;
    const sent = this.#timers.now();
    const revision = await this.#store.update(
      encoder.encode(JSON.stringify({ root: holder.root, token: holder.token })),
      this.#revision,
    );
    if (this.#closed || this.#holder !== holder) return;
    if (revision === null) return this.#stepDown("another root holds the lease now");
    this.#revision = revision;
    this.#extend(sent);
  }

  /** The lease holds until `sent` + ttl on the server: act until margin before that. */
  #extend(sent: number): void {
    this.#actUntil = sent + this.#options.ttl - this.#margin;
    this.#timers.cancel(this.#deadline);
    const holder = this.#holder;
    this.#deadline = this.#timers.after(this.#actUntil - this.#timers.now(), () => {
      if (this.#holder === holder) {
        this.#stepDown(`could not renew the lease within ${this.#options.ttl - this.#margin} ms`);
      }
    });
  }

  #stepDown(why: string): void {
    this.#holder = null;
    this.#actUntil = 0;
    this.#timers.cancel(this.#deadline);
    this.#options.onStepDown(why);
  }
}
