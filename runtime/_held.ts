/**
 * Messages a node holds for a container that is restarting (or whose runtime is away), up to the
 * container's `buffer:` per sending node, and delivers once it is back — or fails, once it is gone.
 *
 * @module
 */
import { MAX_BUFFER } from "../config/_limits.ts";
import type { RouteTable } from "../protocol/envelope.ts";
import { UnavailableError } from "../protocol/errors.ts";
import type { WaitingRequest } from "./_failover.ts";
import type { PendingRequests } from "./_pending.ts";

/** A message waiting for a container to come back: a request, or a send. */
export type Held = { request: WaitingRequest } | { send: HeldSend };

/** A send held for a restarting container (with its trace context, while tracing is on). */
export interface HeldSend {
  t: string;
  b: unknown;
  key?: string;
  /** The entity it is for. */
  e?: string;
  tc?: string;
  ts?: string;
}

/** Where held messages go once their container is back. */
export interface Release {
  /** Sends a held request again (it still waits for its reply). */
  request(waiting: WaitingRequest): void;
  /** Delivers a held send to container `name`, which has live instances. */
  send(name: string, send: HeldSend): void;
}

/** The error for a sender that chose not to wait (`hold: false`) for a restarting container. */
export function notHeld(name: string): UnavailableError {
  return new UnavailableError(
    `container "${name}" is restarting or its runtime is away (and the sender chose hold: false)`,
  );
}

/**
 * One node's held messages, per container.
 *
 * @example Held up to the buffer, then released once the container is back
 * ```ts
 * import assert from "node:assert/strict";
 * import { HeldMessages } from "./_held.ts";
 * import { PendingRequests } from "./_pending.ts";
 * import type { WaitingRequest } from "./_failover.ts";
 *
 * const held = new HeldMessages(new PendingRequests<WaitingRequest>({ onExpire() {} }));
 * held.hold("a", { send: { t: "x", b: 1 } }, 1);
 * assert.throws(() => held.hold("a", { send: { t: "x", b: 2 } }, 1), {
 *   message: 'container "a" is restarting and already holds 1 messages from here',
 * });
 * const delivered: unknown[] = [];
 * held.release({ a: { balance: "round_robin", instances: [{ i: "a#0.2", n: "w1" }] } }, {
 *   request() {},
 *   send: (name, send) => delivered.push([name, send.b]),
 * });
 * assert.deepEqual(delivered, [["a", 1]]);
 * assert.equal(held.size, 0);
 * ```
 */
export class HeldMessages {
  readonly #queues = new Map<string, Held[]>();
  /** When each full queue was last cleared of timed-out requests (`pending.now()`). */
  readonly #prunedAt = new Map<string, number>();
  readonly #pending: PendingRequests<WaitingRequest>;

  /** @param pending The node's waiting requests (a held request that left them timed out). */
  constructor(pending: PendingRequests<WaitingRequest>) {
    this.#pending = pending;
  }

  /** Containers with messages held. */
  get size(): number {
    return this.#queues.size;
  }

  /**
   * Holds a message for restarting container `name`.
   * @param limit Its `buffer:` (route entry `q`, which a peer runtime announces for its own
   *   containers): held to at most `MAX_BUFFER` (100,000), whatever was announced.
   * @throws {UnavailableError} When `limit` messages from here are held already.
   */
  hold(name: string, held: Held, limit: number): void {
    if ("request" in held && held.request.held) return; // already waiting in the buffer
    limit = Math.min(limit, MAX_BUFFER);
    let queue = this.#queues.get(name);
    if (!queue) this.#queues.set(name, queue = []);
    // Requests that timed out meanwhile no longer take room: looked for when the queue is full,
    // at most every 100 ms (a sender hammering a full buffer must not cost a pass over it each).
    const now = this.#pending.now();
    if (queue.length >= limit && now - (this.#prunedAt.get(name) ?? -Infinity) >= 100) {
      this.#prunedAt.set(name, now);
      const live = queue.filter((h) => !("request" in h) || this.#live(h.request));
      if (live.length !== queue.length) this.#queues.set(name, queue = live);
    }
    if (queue.length >= limit) {
      throw new UnavailableError(
        `container "${name}" is restarting and ${
          limit === 0
            ? "holds no messages (buffer: 0)"
            : `already holds ${limit} messages from here`
        }`,
      );
    }
    queue.push(held);
    if ("request" in held) held.request.held = true;
  }

  /**
   * Delivers held messages to containers that are back; a container gone from `routes` fails its
   * requests (through their resend) and drops its sends.
   */
  release(routes: RouteTable, to: Release): void {
    for (const [name, queue] of this.#queues) {
      const entry = routes[name];
      if (entry && entry.instances.length === 0 && entry.w) continue; // still restarting
      this.#queues.delete(name);
      this.#prunedAt.delete(name);
      for (const held of queue) {
        if ("request" in held) {
          const waiting = held.request;
          waiting.held = false;
          if (!this.#live(waiting)) continue; // timed out meanwhile
          to.request(waiting);
        } else if (entry && entry.instances.length > 0) to.send(name, held.send);
      }
    }
  }

  /** Messages held per container (requests that timed out meanwhile are not counted). */
  counts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const [name, queue] of this.#queues) {
      let n = 0;
      for (const held of queue) if (!("request" in held) || this.#live(held.request)) n++;
      if (n > 0) counts[name] = n;
    }
    return counts;
  }

  #live(waiting: WaitingRequest): boolean {
    return this.#pending.get(waiting.id) === waiting;
  }
}
