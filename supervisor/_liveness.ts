/**
 * Heartbeats: one timer per supervisor pings the running instances of its children (inline ones
 * share the supervisor's isolate and are never pinged); an instance silent for longer than its
 * child's `keepalive` is unresponsive — reported, killed, and then handled like any failure.
 *
 * Silence is judged so that a starved host is not mistaken for a dead child:
 * - **the host's own lag.** The heartbeat timer knows when it was due; when it fires late, the
 *   supervisor's own isolate was starved in between (a long synchronous turn, a machine busy
 *   starting hundreds of isolates), and a child's answers may be waiting, unread, in its queue.
 *   Those stretches are remembered and do not count toward any child's silence.
 * - **a start grace.** An instance that has just started competes for the CPU with everything
 *   else starting; the first `keepalive` after its start does not count toward its silence, so a
 *   new instance is declared unresponsive after twice its keepalive at the earliest.
 * The event reports the silence as it was, whole: `silentFor` is never shortened.
 *
 * @module
 */
import type { Silence } from "./messages.ts";
import type { ChildSpec } from "./spec.ts";
import type { Starved } from "./state.ts";
import { type DraftSlot, emit, nextId, type Turn } from "./_draft.ts";
import { instanceId } from "./state.ts";

/** How often a child with this keepalive is pinged: a quarter of it, from 10 to 250 ms. */
export function heartbeatEvery(keepalive: number): number {
  return Math.max(10, Math.min(250, keepalive / 4));
}

/**
 * Most pings a supervisor sends per second. Each ping wakes a child's isolate (its thread or
 * process) and its answer the host's: ~0.5 ms of CPU in all, so 400 workers pinged every 250 ms
 * cost three quarters of a core. A supervisor with more running instances pings each of them less
 * often, never less than four times per keepalive.
 */
export const MAX_PINGS_PER_SECOND = 200;

/**
 * The delay to the next heartbeat: `every`, or longer when `count` instances pinged at that pace
 * would exceed {@linkcode MAX_PINGS_PER_SECOND}; never longer than a quarter of `keepalive` (the
 * shortest among those pinged).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { heartbeatDelay } from "./_liveness.ts";
 * assert.equal(heartbeatDelay(250, 10, 5_000), 250);
 * assert.equal(heartbeatDelay(250, 100, 5_000), 500);
 * assert.equal(heartbeatDelay(250, 400, 5_000), 1_250); // a quarter of its keepalive at most
 * ```
 */
export function heartbeatDelay(every: number, count: number, keepalive: number): number {
  const paced = (count * 1000) / MAX_PINGS_PER_SECOND;
  return Math.max(every, Math.min(paced, keepalive / 4));
}

/** Lateness of a timer (ms) that is ordinary scheduling, not starvation. */
const ON_TIME = 2;

/** Most starved stretches remembered (the oldest go first). */
const MAX_STARVED = 256;

/**
 * How much of the stretch `[from, to]` the host spent starved, ms.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { starvedWithin } from "./_liveness.ts";
 * const starved = [{ from: 100, to: 400 }, { from: 900, to: 1000 }];
 * assert.equal(starvedWithin(starved, 300, 1000), 200);
 * ```
 */
export function starvedWithin(starved: readonly Starved[], from: number, to: number): number {
  let total = 0;
  for (const s of starved) total += Math.max(0, Math.min(to, s.to) - Math.max(from, s.from));
  return total;
}

/**
 * How long an instance has been silent in the sense that counts: its silence since `startedAt +
 * grace`, less the stretches in which the host itself was starved.
 *
 * @param silentFor Its raw silence, ms (now minus its last sign of life).
 * @param now The supervisor's clock.
 * @param startedAt When it started (took messages).
 * @param grace The start grace, ms: the first `grace` ms after its start do not count.
 * @param starved The host's starved stretches.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { countedSilence } from "./_liveness.ts";
 * // Silent 6 s, but the host was blocked 3 s of those: 3 s count.
 * assert.equal(countedSilence(6_000, 20_000, 0, 5_000, [{ from: 15_000, to: 18_000 }]), 3_000);
 * // Started 7 s ago with a 5 s grace: only the last 2 s count.
 * assert.equal(countedSilence(7_000, 20_000, 13_000, 5_000, []), 2_000);
 * ```
 */
export function countedSilence(
  silentFor: number,
  now: number,
  startedAt: number,
  grace: number,
  starved: readonly Starved[],
): number {
  const from = Math.max(now - silentFor, startedAt + grace);
  if (from >= now) return 0;
  return now - from - starvedWithin(starved, from, now);
}

/** Pings `spec`'s instances from now on: the timer runs at the pace of the most demanding child. */
export function watch<S extends ChildSpec>(t: Turn<S>, spec: S): void {
  if (spec.mode === "inline" || t.s.status !== "running") return;
  const every = heartbeatEvery(spec.keepalive);
  if (t.s.heartbeat && every >= t.s.heartbeat.every) return;
  if (t.s.heartbeat) t.fx.push({ kind: "clear_timer", id: t.s.heartbeat.timer });
  const timer = nextId(t);
  t.s.heartbeat = { every, timer, due: t.now + every, starved: t.s.heartbeat?.starved ?? [] };
  t.fx.push({ kind: "set_timer", id: timer, delay: every });
}

/** Stops the heartbeat timer. */
export function unwatch<S extends ChildSpec>(t: Turn<S>): void {
  if (!t.s.heartbeat) return;
  t.fx.push({ kind: "clear_timer", id: t.s.heartbeat.timer });
  t.s.heartbeat = null;
}

/**
 * Timer `id` fired: when it is the heartbeat, notes how late it fired (the host's own
 * starvation), pings every running instance and sets the next one.
 *
 * @returns Whether it was the heartbeat timer.
 */
export function heartbeatFired<S extends ChildSpec>(t: Turn<S>, id: number): boolean {
  const beat = t.s.heartbeat;
  if (!beat || beat.timer !== id) return false;
  // Only what could still count: the longest a child's silence can reach back is its keepalive
  // plus the start grace, plus the starved time it would leave out.
  const horizon = t.now - 2 * longestKeepalive(t) - starvedWithin(beat.starved, 0, t.now);
  const starved = beat.starved.filter((s) => s.to >= horizon);
  if (t.now - beat.due > ON_TIME) starved.push({ from: beat.due, to: t.now });
  if (starved.length > MAX_STARVED) starved.splice(0, starved.length - MAX_STARVED);
  const keys: number[] = [];
  let shortest = Infinity;
  for (const child of t.s.children) {
    for (const slot of child.slots) {
      if (slot.phase.state !== "running") continue;
      keys.push(slot.phase.key);
      if (child.spec.mode !== "inline") shortest = Math.min(shortest, child.spec.keepalive);
    }
  }
  const delay = heartbeatDelay(beat.every, keys.length, shortest);
  const timer = nextId(t);
  t.s.heartbeat = { every: beat.every, timer, due: t.now + delay, starved };
  t.fx.push({ kind: "set_timer", id: timer, delay });
  if (keys.length > 0) t.fx.push({ kind: "ping", keys });
  return true;
}

function longestKeepalive<S extends ChildSpec>(t: Turn<S>): number {
  let longest = 0;
  for (const child of t.s.children) longest = Math.max(longest, child.spec.keepalive);
  return longest;
}

/**
 * Heartbeat readings: the running instances silent beyond their keepalive — not counting the
 * start grace nor the stretches in which the host itself was starved — are killed.
 */
export function silence<S extends ChildSpec>(t: Turn<S>, readings: readonly Silence[]): void {
  const starved = t.s.heartbeat?.starved ?? [];
  // One pass over the children, not one per reading (hundreds of children: n² per beat).
  const running = new Map<number, { child: (typeof t.s.children)[number]; slot: DraftSlot }>();
  for (const child of t.s.children) {
    for (const slot of child.slots) {
      if (slot.phase.state === "running") running.set(slot.phase.key, { child, slot });
    }
  }
  for (const { key, silentFor } of readings) {
    const found = running.get(key);
    if (found) {
      const { child, slot } = found;
      const { keepalive } = child.spec;
      // Decided on whole milliseconds, as reported, so a report never says "silent for 300 ms"
      // of an instance whose keepalive is 300 ms.
      const counted = Math.round(
        countedSilence(silentFor, t.now, slot.startedAt, keepalive, starved),
      );
      if (counted <= keepalive) continue;
      const silent = Math.round(silentFor);
      emit(t, {
        type: "unresponsive",
        container: child.spec.name,
        instance: instanceId(child.spec.name, slot),
        silentFor: silent,
      });
      t.fx.push({
        kind: "kill",
        key,
        reason: { kind: "unresponsive", message: `no heartbeat for ${silent} ms` },
      });
    }
  }
}
