/**
 * Stopping every child, one child at a time in the order given (the reverse of start order): what
 * a shutdown and a give-up share. Each child's replicas stop together; the next child waits until
 * they are gone, so a child never outlives one started after it.
 *
 * @module
 */
import type { ChildSpec } from "./spec.ts";
import type { GiveUp, Wait } from "./state.ts";
import {
  changed,
  childById,
  type DraftOp,
  finish,
  reply,
  stopSlot,
  type Turn,
  waits,
} from "./_draft.ts";

/** Starts stopping the children `queue` (ids, in stop order). */
export function beginWalk<S extends ChildSpec>(
  t: Turn<S>,
  op: number | null,
  purpose: "shutdown" | "give_up",
  queue: readonly number[],
  message: string,
  giveUp: GiveUp | null = null,
): void {
  const walk: DraftOp = {
    kind: "walk",
    op,
    purpose,
    queue,
    message,
    giveUp,
    waiting: [],
    failures: [],
  };
  t.s.operations.push(walk);
  continueWalk(t, walk);
}

/** Stops the next child in the walk's queue, or ends the walk when none is left. */
export function continueWalk<S extends ChildSpec>(t: Turn<S>, walk: DraftOp): void {
  if (walk.kind !== "walk") return;
  while (walk.queue.length > 0) {
    const [id, ...rest] = walk.queue;
    walk.queue = rest;
    const child = childById(t, id);
    if (!child) continue;
    const pending: Wait[] = waits(
      child.slots.map((slot) =>
        stopSlot(t, child, slot, "graceful-then-kill", walk.message, "stopped")
      ),
    );
    if (pending.length > 0) {
      walk.waiting = pending;
      return;
    }
  }
  finish(t, walk);
  if (walk.purpose === "shutdown") {
    if (t.s.status === "stopping") t.s.status = "stopped";
    reply(t, walk.op, null);
    return;
  }
  changed(t);
  t.fx.push({
    kind: "give_up",
    done: true,
    giveUp: walk.giveUp!,
    intensity: t.s.flags.intensity,
    period: t.s.flags.period,
  });
}
