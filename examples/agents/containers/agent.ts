// One agent of the epidemic: an entity, addressed as ref("agents").entity("a42"), active on the
// replica that owns its id. The world steps every agent once per tick; an infectious agent then
// meets some neighbours by sending them `meet` directly, entity to entity, wherever they live.
//
// No store: an agent's state lives only while it is active. When its replica crashes (or its id
// moves to another replica), its next activation has taken no tick, and its first step adopts
// the world's record of it after the last tick (carried by every step): its health is re-derived
// from the census, and only the meetings sent to it but not yet weighed are lost.
//
// Its callers are the world and other agents: bodies are checked, and a bad one is refused with a
// TypeError (the caller gets a RemoteError). The checks come before any change to the state, so
// the agent stays active as it was (entities' default onError: "keep").
import { entities, type EntityContext } from "../../../container.ts";
import {
  agentId,
  type AgentState,
  freshAgent,
  type Health,
  indexOf,
  isParams,
  isSeen,
  meet,
  type Params,
  type Seen,
  step,
} from "../model.ts";

/** One step's body: the tick, what the world saw of this agent after the previous one, the model. */
export interface StepBody {
  /** The tick to take (1, 2, …). */
  t: number;
  /** The world's record of this agent after tick t - 1. */
  last: Seen;
  /** The model's parameters. */
  p: Params;
}

/** One step's reply: the agent's health after it, and where it ran. */
export interface StepReply {
  /** Its health. */
  h: Health;
  /** Ticks in that health. */
  d: number;
  /** It had lost its state and started from the world's record (`last`). */
  adopted: boolean;
  /** The instance it is active on. */
  at: string;
}

function checkTick(t: unknown): number {
  if (!Number.isInteger(t) || (t as number) < 1) {
    throw new TypeError(`agent: field t must be a whole number >= 1, got ${JSON.stringify(t)}`);
  }
  return t as number;
}

export default entities((e: EntityContext<AgentState>) => ({
  /** Takes tick `t`; an infectious agent meets some neighbours (fire and forget). */
  step(body: StepBody): StepReply {
    const t = checkTick(body?.t);
    if (!isSeen(body.last)) {
      throw new TypeError(`agent: field last must be { h: "S" | "I" | "R", d: number >= 0 }`);
    }
    if (!isParams(body.p)) throw new TypeError(`agent: field p is not a valid set of parameters`);
    const self = indexOf(e.id, body.p.w * body.p.h);
    if (self < 0) throw new RangeError(`agent: id ${JSON.stringify(e.id)} is not in the grid`);
    const { meets, adopted } = step(e.state, t, body.last, body.p, self);
    // Untyped: this module's own type cannot be named inside its own definition.
    const agents = e.ref("agents");
    for (const n of meets) agents.entity(agentId(n)).send("meet", { t });
    return { h: e.state.h, d: e.state.d, adopted, at: e.instance };
  },
  /** An infectious agent met this one during tick `t`. */
  meet(body: { t: number }): void {
    meet(e.state, checkTick(body?.t));
  },
  /** What this agent is now (the tick it last took, its health), and where. */
  look(): { t: number; h: Health; d: number; at: string } {
    return { t: e.state.t, h: e.state.h, d: e.state.d, at: e.instance };
  },
  /**
   * Crashes the replica this agent is active on, for the demo: an error thrown outside any handler
   * is uncaught, so the whole isolate fails (a worker is terminated, a process exits) and its
   * supervisor starts a new incarnation. Returns the instance that is about to go. (Run inline,
   * this would take the host down with it: the example runs its agents as workers or processes.)
   */
  crash(): string {
    setTimeout(() => {
      throw new Error(`agents: crash asked through agent ${e.id}`);
    }, 0);
    return e.instance;
  },
}), { initial: freshAgent, idle: "5m" });
