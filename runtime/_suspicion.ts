/**
 * Suspicion of a link to a peer runtime (a host agent, another runtime): a link with requests
 * outstanding that has gone quiet is probed (pinged); when the probe stays unanswered for the
 * suspicion window — the longer of {@linkcode MIN_WINDOW} and a few round trips the probes
 * measured — the link is *suspect*. Routing then prefers instances behind other links, and a
 * retriable request waiting at a suspect instance is sent again to another one at once, instead
 * of waiting out its timeout: a frozen or cut-off host costs a fraction of a second, not the
 * keepalive (which still alone decides that a peer is lost). Anything heard from a suspect link
 * makes it trusted again.
 *
 * Silence is judged by when frames were read: a check that runs late (this isolate was busy, and
 * what arrived meanwhile is not read yet) only probes, and the next one judges — so a host whose
 * own event loop stalls does not suspect every link at once. Pure: the clock and the timer are
 * injected.
 *
 * @module
 */

/** The shortest suspicion window, ms: a probe unanswered for this long (at least) is suspicion. */
export const MIN_WINDOW = 100;
/** How often quiet links are checked while requests are outstanding on one, ms. */
export const CHECK_EVERY = 20;
/**
 * Quiet this long with requests outstanding, a link is probed, ms: the least of an adaptive delay
 * that doubles while only probes are answered (a slow handler, not a silent peer) and shrinks
 * back while replies come.
 */
const PROBE_AFTER = 20;
/** The longest quiet before a probe, ms, reached while only probes (no replies) are answered. */
const PROBE_AFTER_MAX = 1_000;
/** The window is this many round trips, when that is longer than {@linkcode MIN_WINDOW}. */
const WINDOW_TRIPS = 4;

/** One watched link. */
export interface Watched<K> {
  readonly key: K;
  /** Requests sent over it and not answered yet (approximately: a lost reply is never counted). */
  out: number;
  /**
   * Envelopes heard over it, and replies among them: counted on arrival, the clock read only by
   * the check (what every reply costs is two increments).
   */
  heard: number;
  replies: number;
  /** The counts as the last check saw them, and `replies` when the unanswered probe was sent. */
  seenHeard: number;
  seenReplies: number;
  probedReplies: number;
  /**
   * When it was last heard from (as of the check after), or when requests started to be
   * outstanding if later.
   */
  since: number;
  /** When the unanswered probe was sent, or `undefined`. */
  probedAt: number | undefined;
  /** How long it may be quiet (with requests outstanding) before a probe. */
  probeAfter: number;
  /** Smoothed round trip of answered probes, ms (`undefined` until one is answered). */
  rtt: number | undefined;
  suspect: boolean;
}

/** What the suspicion needs from its node. */
export interface SuspicionOptions<K> {
  /** The clock, ms. */
  now: () => number;
  /** Sends a probe (a ping answered by any live peer) over the link. */
  probe: (key: K) => void;
  /** The set of suspect links changed. */
  changed: () => void;
  /** Timer functions (default the global ones). */
  setTimer?: (fn: () => void, ms: number) => unknown;
  /** Clears a timer made by `setTimer`. */
  clearTimer?: (id: unknown) => void;
}

/**
 * The suspicion of every watched link.
 *
 * @example A link whose probe goes unanswered becomes suspect; a word from it clears that
 * ```ts
 * import assert from "node:assert/strict";
 * import { LinkSuspicion } from "./_suspicion.ts";
 *
 * let now = 0;
 * let tick = () => {};
 * const probed: string[] = [];
 * const s = new LinkSuspicion<string>({
 *   now: () => now,
 *   probe: (key) => probed.push(key),
 *   changed() {},
 *   setTimer: (fn) => (tick = fn),
 *   clearTimer() {},
 * });
 * const b = s.watch("@b");
 * s.requested(b);
 * for (; now <= 200; now += 20) tick();
 * assert.deepEqual(probed, ["@b"]);
 * assert.deepEqual([...s.suspects], ["@b"]);
 * s.heard(b, true);
 * assert.deepEqual([...s.suspects], []);
 * ```
 */
export class LinkSuspicion<K> {
  readonly #options: SuspicionOptions<K>;
  readonly #watched = new Set<Watched<K>>();
  readonly #suspects = new Set<K>();
  readonly #setTimer: (fn: () => void, ms: number) => unknown;
  readonly #clearTimer: (id: unknown) => void;
  #timer: unknown = undefined;
  #lastCheck = 0;
  /** The last check was late and judged nobody. */
  #deferred = false;

  /** @param options Clock, probe, change hook and timers. */
  constructor(options: SuspicionOptions<K>) {
    this.#options = options;
    this.#setTimer = options.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    this.#clearTimer = options.clearTimer ?? ((id) => clearTimeout(id as number));
  }

  /** The suspect links. */
  get suspects(): ReadonlySet<K> {
    return this.#suspects;
  }

  /** Starts watching link `key` (just linked: heard now). */
  watch(key: K): Watched<K> {
    const watched: Watched<K> = {
      key,
      out: 0,
      heard: 0,
      replies: 0,
      seenHeard: 0,
      seenReplies: 0,
      probedReplies: 0,
      since: this.#options.now(),
      probedAt: undefined,
      probeAfter: PROBE_AFTER,
      rtt: undefined,
      suspect: false,
    };
    this.#watched.add(watched);
    return watched;
  }

  /** Stops watching a link (closed): it is no longer suspect either. */
  unwatch(watched: Watched<K>): void {
    this.#watched.delete(watched);
    if (watched.suspect) {
      watched.suspect = false;
      this.#suspects.delete(watched.key);
      this.#options.changed();
    }
  }

  /** A request was sent over the link. */
  requested(watched: Watched<K>): void {
    if (watched.out++ === 0) watched.since = this.#options.now();
    if (this.#timer === undefined) this.#start();
  }

  /** Starts the checks (none running): the first is on time by definition. */
  #start(): void {
    this.#lastCheck = this.#options.now();
    this.#deferred = false;
    this.#arm();
  }

  /** A reply came over the link. */
  replied(watched: Watched<K>): void {
    if (watched.out > 0) watched.out--;
    watched.replies++;
    this.heard(watched, false);
  }

  /**
   * Something arrived over the link; `pong` when it is the answer to a ping (a round trip to
   * measure when it answers a probe).
   */
  heard(watched: Watched<K>, pong: boolean): void {
    watched.heard++;
    if (watched.probedAt === undefined && !watched.suspect) return;
    const now = this.#options.now();
    watched.since = now;
    if (watched.probedAt !== undefined) {
      if (pong) {
        const trip = now - watched.probedAt;
        watched.rtt = watched.rtt === undefined ? trip : 0.8 * watched.rtt + 0.2 * trip;
        if (watched.replies === watched.probedReplies) {
          // Only the probe answered, no reply: a slow handler, not a silent peer. Answering
          // probes with no reply for the longest delay, what is counted outstanding is
          // presumed lost (a reply that never comes, e.g. its instance crashed): counted
          // afresh from the next request, so such a link is not checked for ever.
          if (watched.probeAfter >= PROBE_AFTER_MAX) watched.out = 0;
          watched.probeAfter = Math.min(PROBE_AFTER_MAX, watched.probeAfter * 2);
        }
      }
      watched.probedAt = undefined;
    }
    if (watched.suspect) {
      watched.suspect = false;
      this.#suspects.delete(watched.key);
      if (watched.out > 0 && this.#timer === undefined) this.#start();
      this.#options.changed();
    }
  }

  /** The suspicion window of a link, ms. */
  window(watched: Watched<K>): number {
    return Math.max(MIN_WINDOW, WINDOW_TRIPS * (watched.rtt ?? 0));
  }

  /** Stops checking (the node is closing). */
  close(): void {
    if (this.#timer !== undefined) this.#clearTimer(this.#timer);
    this.#timer = undefined;
    this.#watched.clear();
    this.#suspects.clear();
  }

  #arm(): void {
    this.#timer = this.#setTimer(() => {
      this.#timer = undefined;
      if (this.#check()) this.#arm();
    }, CHECK_EVERY);
  }

  /** One check of every watched link; whether another is needed. */
  #check(): boolean {
    const now = this.#options.now();
    const late = now - this.#lastCheck > 2 * CHECK_EVERY;
    this.#lastCheck = now;
    // Deferred once only: a thread kept busy for ever must still suspect a silent link.
    const judge = !late || this.#deferred;
    this.#deferred = late && !this.#deferred;
    let again = false;
    let changed = false;
    for (const watched of this.#watched) {
      if (watched.heard !== watched.seenHeard) {
        watched.seenHeard = watched.heard;
        watched.since = Math.max(watched.since, now - CHECK_EVERY);
      }
      if (watched.replies !== watched.seenReplies) {
        watched.seenReplies = watched.replies;
        // Replies come: slowly back toward the shortest delay before a probe (a link whose
        // handlers take 50 ms is probed about once in ten requests, not once each).
        watched.probeAfter = Math.max(PROBE_AFTER, watched.probeAfter * 0.95);
      }
      if (watched.out === 0 || watched.suspect) continue;
      if (watched.probedAt === undefined) {
        if (now - watched.since >= watched.probeAfter) {
          watched.probedAt = now;
          watched.probedReplies = watched.replies;
          this.#options.probe(watched.key);
        }
      } else if (judge && now - watched.probedAt >= this.window(watched)) {
        // Suspect until it speaks (which `heard` sees without a check).
        watched.suspect = true;
        this.#suspects.add(watched.key);
        changed = true;
        continue;
      }
      again = true;
    }
    if (changed) this.#options.changed();
    return again || this.#deferred;
  }
}
