// The epidemic itself, with no Kraken in it: an SIRS model on a torus grid. Agent i sits at
// (i % w, floor(i / w)) and meets its eight neighbours; now and then one travels and meets anyone.
// Susceptible agents exposed by infectious ones may catch it; infectious ones recover after
// `infectious` ticks; recovered ones lose their immunity after `immune` ticks. Waves keep coming
// back, so the model never settles into "nothing happens". Pure: the caller brings the dice.

/** S (susceptible), I (infectious), R (recovered, immune for a while). */
export type Health = "S" | "I" | "R";

/** An agent's health and how many ticks it has had it: what the world's census records. */
export interface Seen {
  /** Its health. */
  h: Health;
  /** Ticks spent in that health. */
  d: number;
}

/** The model's parameters: the same for every agent, sent with every step. */
export interface Params {
  /** Grid width. */
  w: number;
  /** Grid height (w × h agents). */
  h: number;
  /** Chance that an infectious agent meets a given neighbour in a tick. */
  contact: number;
  /** Chance that one meeting infects a susceptible agent. */
  beta: number;
  /** Chance that an infectious agent also meets one agent anywhere in a tick. */
  travel: number;
  /** Ticks an agent stays infectious. */
  infectious: number;
  /** Ticks an agent stays immune. */
  immune: number;
  /** Chance a susceptible agent catches it from outside the model in a tick. */
  spark: number;
}

/** The parameters of `deno task example:agents`, but for the grid's size (config `side`). */
export const DEFAULT_PARAMS: Omit<Params, "w" | "h"> = {
  contact: 0.5,
  beta: 0.25,
  travel: 0.05,
  infectious: 5,
  immune: 25,
  spark: 0.00002,
};

/** What an agent keeps between ticks. */
export interface AgentState extends Seen {
  /** The last tick it took (-1: none yet, a fresh activation). */
  t: number;
  /** Meetings with infectious agents to weigh at its next step. */
  next: number;
  /** Meetings sent in a tick it has not taken yet: weighed at the step after that one. */
  later: number;
}

/** A fresh activation: it has taken no tick, so its first step adopts what the world saw. */
export function freshAgent(): AgentState {
  return { t: -1, h: "S", d: 0, next: 0, later: 0 };
}

/** The largest grid side the world accepts (a million agents). */
export const MAX_SIDE = 1000;

/** The entity id of agent `i`. */
export function agentId(i: number): string {
  return `a${i}`;
}

/** The index of an agent id, or -1 when it is not one of a `count`-agent model. */
export function indexOf(id: string, count: number): number {
  if (!/^a(0|[1-9]\d{0,6})$/.test(id)) return -1;
  const i = Number(id.slice(1));
  return i < count ? i : -1;
}

/** The eight neighbours of agent `i` on a w × h torus. */
export function neighbours(i: number, w: number, h: number): number[] {
  const x = i % w, y = Math.floor(i / w);
  const out: number[] = [];
  for (let dy = -1; dy <= 1; dy++) {
    for (let dx = -1; dx <= 1; dx++) {
      if (dx === 0 && dy === 0) continue;
      out.push(((y + dy + h) % h) * w + ((x + dx + w) % w));
    }
  }
  return out;
}

/**
 * Records a meeting with an infectious agent sent during tick `t`. Every meeting of tick t is
 * weighed at tick t + 1, whether it arrives before or after this agent has taken tick t.
 */
export function meet(state: AgentState, t: number): void {
  if (t <= state.t) state.next++;
  else state.later++;
}

/**
 * Takes tick `t`. An agent that has not taken tick t - 1 here (a fresh activation: its replica
 * crashed, or its id moved) starts from `last`, the world's record of it after t - 1. A step it
 * has already taken (a retry) changes nothing. Returns the agents it meets (indices) and whether
 * it adopted `last`.
 */
export function step(
  state: AgentState,
  t: number,
  last: Seen,
  p: Params,
  self: number,
  random: () => number = Math.random,
): { meets: number[]; adopted: boolean } {
  if (state.t >= t) return { meets: [], adopted: false };
  const adopted = state.t !== t - 1;
  if (adopted) {
    state.h = last.h;
    state.d = last.d;
    state.next = 0;
    state.later = 0;
  }
  const exposures = state.next;
  state.next = state.later;
  state.later = 0;
  state.t = t;
  state.d++;
  const meets: number[] = [];
  switch (state.h) {
    case "S":
      if (random() < p.spark || random() < 1 - (1 - p.beta) ** exposures) become(state, "I");
      break;
    case "I":
      if (state.d > p.infectious) {
        become(state, "R");
        break;
      }
      for (const n of neighbours(self, p.w, p.h)) if (random() < p.contact) meets.push(n);
      if (random() < p.travel) meets.push(Math.floor(random() * p.w * p.h));
      break;
    case "R":
      if (state.d > p.immune) become(state, "S");
      break;
    default: {
      const never: never = state.h;
      throw new TypeError(`unknown health ${JSON.stringify(never)}`);
    }
  }
  return { meets, adopted };
}

function become(state: AgentState, h: Health): void {
  state.h = h;
  state.d = 0;
}

/** Whether `value` is a {@linkcode Seen} (a step's body comes from another container). */
export function isSeen(value: unknown): value is Seen {
  if (typeof value !== "object" || value === null) return false;
  const { h, d } = value as Record<string, unknown>;
  return (h === "S" || h === "I" || h === "R") && Number.isInteger(d) && (d as number) >= 0;
}

/** Whether `value` is a usable {@linkcode Params}. */
export function isParams(value: unknown): value is Params {
  if (typeof value !== "object" || value === null) return false;
  const p = value as Record<string, unknown>;
  const side = (k: string) =>
    Number.isInteger(p[k]) && p[k] as number >= 1 && p[k] as number <= MAX_SIDE;
  const chance = (k: string) =>
    typeof p[k] === "number" && p[k] as number >= 0 && p[k] as number <= 1;
  const ticks = (k: string) => Number.isInteger(p[k]) && p[k] as number >= 1;
  return side("w") && side("h") && chance("contact") && chance("beta") && chance("travel") &&
    chance("spark") && ticks("infectious") && ticks("immune");
}
