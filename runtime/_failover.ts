/**
 * A node's requests that wait for a reply, and what happens when their instance goes away or
 * their deadline passes: a retry to another instance (same id, so the receiver deduplicates), a
 * wait for a restarting container, or a typed error. None of this is on the path of a request
 * that is simply answered.
 *
 * @module
 */
import { TimeoutError, UnavailableError, type WireError } from "../protocol/errors.ts";
import type { Pending, PendingRequests } from "./_pending.ts";

/** A request waiting for its reply. */
export interface WaitingRequest extends Pending {
  readonly name: string;
  readonly topic: string;
  readonly body: unknown;
  readonly timeout: number;
  readonly key?: string;
  /** The tick id, when a schedule sent it (`tk`: the handler's `meta.tick`). */
  readonly tick?: string;
  /** The entity it is for: every attempt goes to the owner of that id at the time. */
  readonly entity?: string;
  retriesLeft: number;
  /** The clock time after which no attempt is made (`totalTimeout`); Infinity without one. */
  readonly until: number;
  /** When it was first sent (clock ms). */
  readonly start: number;
  /** Sent with retries: every attempt carries the dedupe flag, the last one included. */
  readonly retriable: boolean;
  /** Instances an earlier attempt went to: a late reply from one of them is still its answer. */
  tried?: string[];
  /** Waiting in a restart buffer (not at any instance). */
  held: boolean;
  /** The sender's choice: wait for a restarting container (`true`) or fail at once. */
  readonly hold: boolean;
  /** Its instance left the routing table: a failover is scheduled. */
  orphaned: boolean;
  target: string;
  /** The W3C `traceparent` (and `tracestate`) every attempt carries, while tracing is on. */
  tc?: string;
  ts?: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

/** What choosing an instance for a container returns for a restarting one: hold the message. */
export const HOLD: unique symbol = Symbol("hold");

/**
 * The instance to address, {@linkcode HOLD} for a restarting container, or `undefined` when none
 * is live but the sender may wait for one.
 */
export type Choice = string | typeof HOLD | undefined;

/** How long a request waits before it is sent again (or its loss is taken as final), ms. */
const RETRY_DELAY = 25;

/** What failing over needs from its node. */
export interface FailoverSite {
  /** The instance for container `name` (see {@linkcode Choice}); throws when there is none. */
  choose(
    name: string,
    key: string | undefined,
    mayWait: boolean,
    prefer?: string,
    entity?: string,
  ): Choice;
  /** Holds a request for its restarting container; throws when it may not wait or no room is left. */
  hold(waiting: WaitingRequest): void;
  /** Sends a request (again) to its target. */
  send(waiting: WaitingRequest): void;
  /** Whether instance `id` is in the routing table. */
  routed(id: string): boolean;
  /** Whether instance `id` is marked suspect (its link went quiet: `_suspicion.ts`). */
  suspect?(id: string): boolean;
}

/**
 * The error reply for a request that reached no handler because instance `to` is gone: it was
 * not delivered, so sending it to another instance cannot run it twice.
 */
export function goneError(to: string): WireError {
  return {
    name: "UnavailableError",
    message: `instance ${to} is gone`,
    kind: "unavailable",
    undelivered: true,
  };
}

/** Points a request at a new instance, remembering the one it leaves (its reply may still come). */
export function retarget(waiting: WaitingRequest, target: string): void {
  if (waiting.target !== "" && waiting.target !== target) {
    (waiting.tried ??= []).push(waiting.target);
  }
  waiting.target = target;
}

/**
 * Retries and failovers of one node's waiting requests.
 *
 * @example A request whose deadline passes with no retry left fails with a TimeoutError
 * ```ts
 * import assert from "node:assert/strict";
 * import { Failover, type WaitingRequest } from "./_failover.ts";
 * import { PendingRequests } from "./_pending.ts";
 *
 * const pending = new PendingRequests<WaitingRequest>({ onExpire: (w) => failover.expired(w) });
 * const failover = new Failover(pending, {
 *   choose: () => "a#0.1",
 *   hold() {},
 *   send() {},
 *   routed: () => true,
 * });
 * let failed: Error | undefined;
 * failover.expired({
 *   id: 1, deadline: 0, name: "a", topic: "t", body: null, timeout: 10, retriesLeft: 0, until: Infinity, start: 0,
 *   retriable: false, held: false, hold: true, orphaned: false, target: "a#0.1",
 *   resolve() {}, reject: (error) => (failed = error),
 * });
 * assert.equal(failed?.name, "TimeoutError");
 * ```
 */
export class Failover {
  readonly #pending: PendingRequests<WaitingRequest>;
  readonly #site: FailoverSite;
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();

  /**
   * @param pending The node's waiting requests.
   * @param site What the node offers.
   */
  constructor(pending: PendingRequests<WaitingRequest>, site: FailoverSite) {
    this.#pending = pending;
    this.#site = site;
  }

  /** The target went away: wait a moment for a live instance, then try again (or fail). */
  failover(waiting: WaitingRequest, why: string): void {
    if (waiting.retriesLeft <= 0) {
      this.#pending.take(waiting.id);
      return waiting.reject(new UnavailableError(why));
    }
    waiting.retriesLeft--;
    this.later(waiting);
  }

  /** Sends the request again after a short delay, if it still waits then. */
  later(waiting: WaitingRequest): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (this.#pending.get(waiting.id) !== waiting) return;
      this.resend(waiting);
    }, RETRY_DELAY);
    this.#timers.add(timer);
  }

  /** Sends the request to an instance chosen again (its last one if still live), or holds it. */
  resend(waiting: WaitingRequest): void {
    let target: Choice;
    try {
      target = this.#site.choose(
        waiting.name,
        waiting.key,
        true,
        waiting.target,
        waiting.entity,
      );
      if (target === HOLD) return this.#site.hold(waiting);
    } catch (error) {
      this.#pending.take(waiting.id);
      return waiting.reject(error as Error);
    }
    if (target === undefined) {
      // Still nothing live: keep waiting until the deadline (the timer will expire it).
      return this.later(waiting);
    }
    retarget(waiting, target);
    this.#site.send(waiting);
  }

  /**
   * The deadline passed: another attempt while retries are left and the overall deadline
   * (`until`) has not passed, else a TimeoutError.
   */
  expired(waiting: WaitingRequest): void {
    const now = this.#pending.now();
    if (waiting.retriesLeft > 0 && now < waiting.until) {
      waiting.retriesLeft--;
      waiting.deadline = Math.min(now + waiting.timeout, waiting.until);
      this.#pending.add(waiting);
      if (waiting.held) return; // still in the restart buffer: it keeps its place
      return this.resend(waiting);
    }
    // Attempts left, but the overall deadline (totalTimeout) has passed: name that wait.
    const total = waiting.retriesLeft > 0;
    waiting.reject(
      new TimeoutError(
        waiting.name,
        waiting.topic,
        // Rounded: `until` is `start` plus the total, and their difference may not be exact.
        total ? Math.round(waiting.until - waiting.start) : waiting.timeout,
      ),
    );
  }

  /**
   * The routing table changed: requests whose instance left it will get no reply. After a short
   * grace (a reply may still be on its way over another channel), they fail over, or fail with
   * UnavailableError.
   */
  watch(): void {
    const orphans: [WaitingRequest, string][] = [];
    const suspect = this.#site.suspect;
    for (const waiting of this.#pending.values()) {
      if (suspect !== undefined && waiting.target !== "" && suspect(waiting.target)) {
        this.#leaveSuspect(waiting);
        continue;
      }
      if (
        !waiting.held && !waiting.orphaned && waiting.target !== "" &&
        !this.#site.routed(waiting.target)
      ) {
        waiting.orphaned = true; // one failover per loss, however many tables follow
        orphans.push([waiting, waiting.target]);
      }
    }
    if (orphans.length === 0) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      for (const [waiting, target] of orphans) {
        waiting.orphaned = false;
        if (this.#pending.get(waiting.id) !== waiting || waiting.held) continue;
        // Sent elsewhere meanwhile (e.g. refused undelivered and re-sent): not this loss's to fail.
        if (waiting.target !== target) continue;
        if (this.#site.routed(waiting.target)) continue;
        this.failover(waiting, `instance ${waiting.target} is gone`);
      }
    }, RETRY_DELAY);
    this.#timers.add(timer);
  }

  /**
   * A request waiting at an instance now suspect: with a retry left, it is sent at once to an
   * instance that is not (as a retry after its timeout would be, one retry spent, a fresh
   * timeout), instead of waiting out its timeout. Its first instance may still answer: whichever
   * reply comes first is taken. Without a retry, or with no other instance to go to, it waits.
   */
  #leaveSuspect(waiting: WaitingRequest): void {
    if (waiting.held || !waiting.retriable || waiting.retriesLeft <= 0) return;
    const now = this.#pending.now();
    if (now >= waiting.until) return;
    let target: Choice;
    try {
      target = this.#site.choose(waiting.name, waiting.key, false, undefined, waiting.entity);
    } catch {
      return; // nothing to go to: it waits where it is
    }
    if (typeof target !== "string" || target === waiting.target || this.#site.suspect!(target)) {
      return;
    }
    waiting.retriesLeft--;
    waiting.deadline = Math.min(now + waiting.timeout, waiting.until);
    this.#pending.add(waiting);
    retarget(waiting, target);
    this.#site.send(waiting);
  }

  /** Cancels every scheduled retry (the node is closing). */
  close(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }
}
