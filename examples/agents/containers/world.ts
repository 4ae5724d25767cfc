// The world: drives the ticks of the epidemic and keeps its census. Each tick steps every agent
// once (at most `window` steps in flight, so 10,000 requests neither flood the replicas' mailboxes
// nor time out waiting in them), records each answer, and logs ticks/s and the population. A tick
// starts only when the one before has ended: every meeting of tick t is sent before tick t + 1.
//
// Before its first tick the world asks every agent where it is (a roll call): a world that
// restarted mid-run takes the census back from its agents and ticks on from where they are.
//
// An agent whose replica crashed answers its next step from a fresh activation that adopted the
// census's record of it (see agent.ts): the world counts those as re-derived. A step that still
// fails after its retries leaves the agent as last seen and is counted as unanswered; it is asked
// again next tick.
import { container, TopologyError } from "../../../container.ts";
import { Census } from "../census.ts";
import {
  agentId,
  DEFAULT_PARAMS,
  type Health,
  indexOf,
  isSeen,
  MAX_SIDE,
  type Params,
} from "../model.ts";
import type agent from "./agent.ts";

/** What `status` answers. */
export interface WorldStatus {
  /** The last tick taken (0: none yet). */
  tick: number;
  /** Ticks per second over the last ten ticks. */
  tps: number;
  /** Agents in the model. */
  agents: number;
  /** The census after the last tick: agents in each health (they add up to `agents`). */
  counts: Record<Health, number>;
  /** Agents that answered the last tick, by the instance they answered from. */
  on: Record<string, number>;
  /** Agents that answered the last tick. */
  answered: number;
  /** Agents re-derived from the census in the last tick, and since the start. */
  rederived: { last: number; total: number };
  /** Agents that did not answer the last tick, and since the start (agent-ticks). */
  unanswered: { last: number; total: number };
  /** Whether ticking is paused. */
  paused: boolean;
}

function setting(
  config: Record<string, unknown>,
  key: string,
  fallback: number,
  min: number,
  max: number,
) {
  const raw = config[key] ?? fallback;
  const value = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw;
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    throw new TopologyError(
      `expected a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`,
      { key: `containers.world.config.${key}` },
    );
  }
  return value as number;
}

export default container((ctx) => {
  const side = setting(ctx.config, "side", 100, 2, MAX_SIDE);
  const n = side * side;
  const seed = setting(ctx.config, "seed", Math.max(1, Math.round(n / 500)), 1, n);
  const window = setting(ctx.config, "window", 500, 1, 10_000);
  const every = setting(ctx.config, "tick_every", 20, 1, 60_000);
  const timeout = setting(ctx.config, "step_timeout", 2000, 10, 60_000);
  const printEvery = setting(ctx.config, "print_every", 1, 0, 1_000_000);
  const mapEvery = setting(ctx.config, "map_every", 0, 0, 1_000_000);
  const p: Params = { ...DEFAULT_PARAMS, w: side, h: side };
  const agents = ctx.ref<typeof agent>("agents");

  const census = new Census(n);
  let tick = 0;
  let paused = false;
  let running: Promise<void> | null = null;
  const ends: number[] = []; // when the last ticks ended (ms), for ticks/s
  let last = { on: {} as Record<string, number>, answered: 0, rederived: 0, unanswered: 0 };
  const totals = { rederived: 0, unanswered: 0 };

  /** Runs `visit` for every agent, at most `window` at once; stops early when the world stops. */
  async function everyAgent(visit: (i: number) => Promise<void>): Promise<void> {
    let next = 0;
    const lane = async () => {
      while (next < n && !ctx.signal.aborted) await visit(next++);
    };
    await Promise.all(Array.from({ length: Math.min(window, n) }, lane));
  }

  /**
   * Before the first tick, the world asks every agent where it is: a new world of a running model
   * (the world restarted, or was reloaded) takes its census back from the agents and ticks on from
   * the latest tick they took. When none has taken a tick, the model starts: `seed` agents fall ill.
   */
  async function rollCall(): Promise<void> {
    let known = 0, latest = 0;
    await everyAgent(async (i) => {
      try {
        const a = await agents.entity(agentId(i)).request("look", undefined, {
          timeout,
          retries: 3,
        });
        if (!Number.isInteger(a?.t) || a.t < 1 || !isSeen(a)) return;
        census.set(i, a);
        known++;
        latest = Math.max(latest, a.t);
      } catch {
        // Unknown: it starts over susceptible (counted below).
      }
    });
    if (ctx.signal.aborted) return;
    if (known === 0) {
      for (let k = 0; k < seed; k++) census.set(Math.floor(Math.random() * n), { h: "I", d: 0 });
      ctx.log.info(`${n} agents on a ${side} × ${side} grid, ${seed} infectious at the start`);
      return;
    }
    tick = latest;
    ctx.log.info(
      `${n} agents on a ${side} × ${side} grid: took the census back from ${known} of them, ` +
        `at tick ${latest}${known < n ? ` (${n - known} unknown start over susceptible)` : ""}`,
    );
  }

  async function takeTick(): Promise<void> {
    const t = tick + 1;
    const seen = { on: {} as Record<string, number>, answered: 0, rederived: 0, unanswered: 0 };
    await everyAgent(async (i) => {
      try {
        const reply = await agents.entity(agentId(i)).request(
          "step",
          { t, last: census.get(i), p },
          { timeout, retries: 3 },
        );
        if (!isSeen(reply) || typeof reply.at !== "string") {
          throw new TypeError(`a reply without h, d and at: ${JSON.stringify(reply)}`);
        }
        census.set(i, reply);
        seen.answered++;
        seen.on[reply.at] = (seen.on[reply.at] ?? 0) + 1;
        // At tick 1 every agent adopts the seeded census: that is how they start.
        if (reply.adopted && t > 1) seen.rederived++;
      } catch (error) {
        seen.unanswered++;
        if (seen.unanswered === 1) {
          ctx.log.warn(`tick ${t}: ${agentId(i)} did not answer: ${error}`);
        }
      }
    });
    if (ctx.signal.aborted) return; // stopping mid-tick: it does not count
    tick = t;
    last = seen;
    totals.rederived += seen.rederived;
    totals.unanswered += seen.unanswered;
    ends.push(performance.now());
    if (ends.length > 11) ends.shift();
    if (printEvery > 0 && t % printEvery === 0) ctx.log.info(line());
    if (mapEvery > 0 && t % mapEvery === 0) {
      ctx.log.info(`tick ${t}\n${census.map(side).join("\n")}`);
    }
  }

  function tps(): number {
    if (ends.length < 2) return 0;
    return Math.round(((ends.length - 1) * 10_000) / (ends[ends.length - 1] - ends[0])) / 10;
  }

  function line(): string {
    const { S, I, R } = census.counts();
    const on = Object.entries(last.on).sort().map(([at, k]) => `${at} ${k}`).join(", ");
    let text = `tick ${tick} · ${tps()} ticks/s · S ${S} I ${I} R ${R} = ${S + I + R} · ${on}`;
    if (last.rederived > 0) text += ` · ${last.rederived} re-derived from the census`;
    if (last.unanswered > 0) text += ` · ${last.unanswered} unanswered (kept as last seen)`;
    return text;
  }

  function status(): WorldStatus {
    return {
      tick,
      tps: tps(),
      agents: n,
      counts: census.counts(),
      on: last.on,
      answered: last.answered,
      rederived: { last: last.rederived, total: totals.rederived },
      unanswered: { last: last.unanswered, total: totals.unanswered },
      paused,
    };
  }

  running = rollCall().finally(() => running = null);
  ctx.setInterval(() => {
    if (running || paused || ctx.signal.aborted) return;
    running = takeTick().finally(() => running = null);
  }, every);
  // A tick in flight ends at the abort (its lanes stop taking agents): wait for its last replies.
  ctx.onStop(() => running ?? undefined);

  return {
    /** The last tick, ticks/s and the population. */
    status,
    /** Stops ticking once the current tick has ended; answers the status then. */
    async pause(): Promise<WorldStatus> {
      paused = true;
      await running;
      return status();
    },
    /** Ticks again. */
    resume(): WorldStatus {
      paused = false;
      return status();
    },
    /** While paused: takes one tick, and answers the status after it. */
    async advance(): Promise<WorldStatus> {
      if (!paused) return status();
      await running;
      running = takeTick().finally(() => running = null);
      await running;
      return status();
    },
    /** The grid now: `#` infectious, `.` mostly immune. */
    map: (): string[] => census.map(side),
    /**
     * Crashes the replica an agent is active on (`{ "agent": "a42" }`, default a random one):
     * answers which agent and which instance went. A bad body or a failed crash is answered with
     * `error`, never thrown: a throw would fail the world and lose the census.
     */
    async crash(
      body?: { agent?: unknown },
    ): Promise<{ agent: string; instance: string } | { error: string }> {
      const id = body?.agent ?? agentId(Math.floor(Math.random() * n));
      if (typeof id !== "string" || indexOf(id, n) < 0) {
        return { error: `field agent must be one of a0 … a${n - 1}, got ${JSON.stringify(id)}` };
      }
      try {
        return { agent: id, instance: await agents.entity(id).request("crash") };
      } catch (error) {
        return { error: String(error) };
      }
    },
  };
});
