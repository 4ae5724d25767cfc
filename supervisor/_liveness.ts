/**
 * Heartbeats: one timer per supervisor pings the running instances of its children (inline ones
 * share the supervisor's isolate and are never pinged); an instance silent for longer than its
 * child's `keepalive` is unresponsive — reported, killed, and then handled like any failure.
 *
 * @module
 */
import type { Silence } from "./messages.ts";
import type { ChildSpec } from "./spec.ts";
import { emit, nextId, type Turn } from "./_draft.ts";
import { instanceId } from "./state.ts";

/** How often a child with this keepalive is pinged: a quarter of it, from 10 to 250 ms. */
export function heartbeatEvery(keepalive: number): number {
  return Math.max(10, Math.min(250, keepalive / 4));
}

/** Pings `spec`'s instances from now on: the timer runs at the pace of the most demanding child. */
export function watch<S extends ChildSpec>(t: Turn<S>, spec: S): void {
  if (spec.mode === "inline" || t.s.status !== "running") return;
  const every = heartbeatEvery(spec.keepalive);
  if (t.s.heartbeat && every >= t.s.heartbeat.every) return;
  if (t.s.heartbeat) t.fx.push({ kind: "clear_timer", id: t.s.heartbeat.timer });
  const timer = nextId(t);
  t.s.heartbeat = { every, timer };
  t.fx.push({ kind: "set_timer", id: timer, delay: every });
}

/** Stops the heartbeat timer. */
export function unwatch<S extends ChildSpec>(t: Turn<S>): void {
  if (!t.s.heartbeat) return;
  t.fx.push({ kind: "clear_timer", id: t.s.heartbeat.timer });
  t.s.heartbeat = null;
}

/**
 * Timer `id` fired: when it is the heartbeat, pings every running instance and sets the next one.
 *
 * @returns Whether it was the heartbeat timer.
 */
export function heartbeatFired<S extends ChildSpec>(t: Turn<S>, id: number): boolean {
  const beat = t.s.heartbeat;
  if (!beat || beat.timer !== id) return false;
  const timer = nextId(t);
  t.s.heartbeat = { every: beat.every, timer };
  t.fx.push({ kind: "set_timer", id: timer, delay: beat.every });
  const keys: number[] = [];
  for (const child of t.s.children) {
    for (const slot of child.slots) if (slot.phase.state === "running") keys.push(slot.phase.key);
  }
  if (keys.length > 0) t.fx.push({ kind: "ping", keys });
  return true;
}

/** Heartbeat readings: the running instances silent beyond their keepalive are killed. */
export function silence<S extends ChildSpec>(t: Turn<S>, readings: readonly Silence[]): void {
  for (const { key, silentFor } of readings) {
    for (const child of t.s.children) {
      const slot = child.slots.find((s) => s.phase.state === "running" && s.phase.key === key);
      // Decided on the whole milliseconds it reports, so a report never says "silent for 300 ms"
      // of an instance whose keepalive is 300 ms.
      const silent = Math.round(silentFor);
      if (!slot || silent <= child.spec.keepalive) continue;
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
