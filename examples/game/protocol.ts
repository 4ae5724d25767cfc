// What the game's pieces say to each other, and the rules every untrusted value is checked
// against: names, room ids, player keys, the one message a browser may send (a move), and a
// per-connection rate limit. Pure: no I/O, shared by the gateway, the rooms and the tests.

/** The world: a grid of WIDTH × HEIGHT cells; a player moves one cell per tick while it holds a direction. */
export const WIDTH = 40;
export const HEIGHT = 30;
/** Ticks a second of every room (its `e.setInterval`), and so snapshots a second to each player. */
export const TICK_HZ = 10;
/** Players one room takes. */
export const MAX_PLAYERS = 16;
/** Bytes of one WebSocket message from a browser; a move is about 25. */
export const MAX_MESSAGE_BYTES = 256;
/** A player whose gateway has not vouched for it this long (ms) leaves its room. */
export const LEASE_MS = 5000;
/** How often (ms) each gateway replica vouches for its players and wakes their rooms. */
export const ALIVE_EVERY_MS = 1000;

/** A room id (the entity id): lower-case letters, digits, `_`, `-`; 1 to 32 characters. */
export const ROOM_RULE = /^[a-z0-9][a-z0-9_-]{0,31}$/;
/** A player's shown name: a letter, then letters, digits, `_`, `-`; at most 16 characters. */
export const NAME_RULE = /^[A-Za-z][A-Za-z0-9_-]{0,15}$/;
/** A player key (secret, the client's to resume with): a random UUID. Never shown to others. */
export const KEY_RULE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** A player's public id, shown to the room. */
export const ID_RULE = /^[0-9a-f]{8}$/;

/** The topic a room publishes its snapshots on. */
export const roomTopic = (room: string): string => `game.room.${room}`;

/** One player as every player of the room sees it. */
export interface PlayerView {
  id: string;
  name: string;
  x: number;
  y: number;
  color: number;
}

/** What a room publishes each tick (the gateway relays it as JSON with `t: "state"`). */
export interface Snapshot {
  room: string;
  tick: number;
  instance: string;
  players: PlayerView[];
}

/** A player as a gateway tells its room about it. */
export interface Seat {
  key: string;
  id: string;
  name: string;
}

/** A move: hold a direction (each of dx, dy is -1, 0 or 1; 0, 0 stops). */
export interface Move {
  dx: -1 | 0 | 1;
  dy: -1 | 0 | 1;
}

const isStep = (v: unknown): v is -1 | 0 | 1 => v === -1 || v === 0 || v === 1;

/** A seat from another container, checked. */
export function isSeat(value: unknown): value is Seat {
  const s = value as Seat;
  return typeof s === "object" && s !== null && typeof s.key === "string" &&
    KEY_RULE.test(s.key) && typeof s.id === "string" && ID_RULE.test(s.id) &&
    typeof s.name === "string" && NAME_RULE.test(s.name);
}

/** Reads one message from a browser: a move, or why it is refused. */
export function parseClientMessage(data: unknown): { move: Move } | { refused: string } {
  if (typeof data !== "string") return { refused: "expected a text message" };
  // A character (a UTF-16 unit) is 1 to 3 bytes of UTF-8: the length alone decides unless it is
  // close to the bound, so a long message is never copied to be measured.
  if (data.length > MAX_MESSAGE_BYTES) {
    return { refused: `message of at least ${data.length} bytes: at most ${MAX_MESSAGE_BYTES}` };
  }
  const size = data.length * 3 <= MAX_MESSAGE_BYTES
    ? data.length
    : new TextEncoder().encode(data).length;
  if (size > MAX_MESSAGE_BYTES) {
    return { refused: `message of ${size} bytes: at most ${MAX_MESSAGE_BYTES}` };
  }
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return { refused: "expected JSON" };
  }
  const m = value as { t?: unknown; dx?: unknown; dy?: unknown };
  if (typeof m !== "object" || m === null || Array.isArray(m)) {
    return { refused: "expected an object" };
  }
  if (m.t !== "move") {
    return { refused: `unknown message t=${JSON.stringify(m.t)}: expected "move"` };
  }
  if (!isStep(m.dx) || !isStep(m.dy)) return { refused: "dx and dy must each be -1, 0 or 1" };
  return { move: { dx: m.dx, dy: m.dy } };
}

/** A token bucket: `burst` at once, then `perSecond`. */
export class RateLimit {
  readonly #burst: number;
  readonly #perSecond: number;
  #tokens: number;
  #at: number;

  constructor(burst: number, perSecond: number, now = performance.now()) {
    this.#burst = burst;
    this.#perSecond = perSecond;
    this.#tokens = burst;
    this.#at = now;
  }

  /** Takes one token; false when the bucket is empty. */
  take(now = performance.now()): boolean {
    this.#tokens = Math.min(
      this.#burst,
      this.#tokens + ((now - this.#at) / 1000) * this.#perSecond,
    );
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens--;
    return true;
  }
}
