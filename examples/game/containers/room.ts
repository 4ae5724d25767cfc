// A game room, as an entity: one per room id, hosted by whichever `rooms` replica owns the id. Its
// tick loop is the entity's own timer (`e.setInterval`, cleared when it is passivated or its
// replica goes), so it runs one tick at a time between the room's messages, never beside them.
// Each tick moves the players, drops those no gateway vouched for lately, and publishes a snapshot
// on `game.room.<id>`. Its state is checkpointed (`e.save()`) once a second when it changed and at
// every join, so a crash of its replica takes it back at most a second: the next message (a
// gateway's `alive`, every second) activates it on the new owner from that checkpoint.
// Its callers are other containers (the gateways): what they send is checked all the same.
import { entities, type EntityContext } from "../../../container.ts";
import {
  HEIGHT,
  isSeat,
  KEY_RULE,
  LEASE_MS,
  MAX_PLAYERS,
  type Move,
  type PlayerView,
  roomTopic,
  type Seat,
  type Snapshot,
  TICK_HZ,
  WIDTH,
} from "../protocol.ts";

/** A player as the room keeps it (the key is its secret; only `PlayerView` is published). */
interface Player extends PlayerView {
  dx: number;
  dy: number;
  /** When (ms since the epoch) a gateway last vouched for it. */
  seen: number;
}

/** What is saved: the tick count and the players by key. */
export interface RoomState {
  tick: number;
  players: Record<string, Player>;
}

/** Ticks between checkpoints: one a second. */
const CHECKPOINT_TICKS = TICK_HZ;

export default entities((e: EntityContext<RoomState>) => {
  let dirty = false;
  const checkpoint = () => {
    dirty = false;
    return e.save().catch((error) => e.log.warn(`room ${e.id}: checkpoint failed: ${error}`));
  };

  e.setInterval(() => {
    const now = Date.now();
    e.state.tick++;
    for (const [key, p] of Object.entries(e.state.players)) {
      if (now - p.seen > LEASE_MS) {
        delete e.state.players[key]; // its gateway went (or stopped vouching): it left
        dirty = true;
        continue;
      }
      const x = clamp(p.x + p.dx, WIDTH), y = clamp(p.y + p.dy, HEIGHT);
      if (x !== p.x || y !== p.y) dirty = true;
      p.x = x;
      p.y = y;
    }
    // Nobody left (or woken by a message for a room nobody is in): nothing to tick for. It goes
    // now, and onPassivate forgets it: an empty room leaves no file behind.
    if (Object.keys(e.state.players).length === 0) return e.passivate();
    e.publish(roomTopic(e.id), snapshot());
    if (dirty && e.state.tick % CHECKPOINT_TICKS === 0) checkpoint();
  }, 1000 / TICK_HZ);

  const snapshot = (): Snapshot => ({
    room: e.id,
    tick: e.state.tick,
    instance: e.instance,
    players: Object.values(e.state.players).map(({ id, name, x, y, color }) => ({
      id,
      name,
      x,
      y,
      color,
    })),
  });

  /** Seats a player, or finds it again (same key): it keeps its place. */
  const seat = (s: Seat, now: number): Player | undefined => {
    const known = Object.hasOwn(e.state.players, s.key) ? e.state.players[s.key] : undefined;
    if (known) {
      known.seen = now;
      return known;
    }
    if (Object.keys(e.state.players).length >= MAX_PLAYERS) return undefined;
    const spot = hash(s.key);
    const player: Player = {
      id: s.id,
      name: s.name,
      x: spot % WIDTH,
      y: (spot >>> 8) % HEIGHT,
      color: spot % 360,
      dx: 0,
      dy: 0,
      seen: now,
    };
    e.state.players[s.key] = player;
    dirty = true;
    return player;
  };

  return {
    /** A player joins (or comes back with its key): its public id and where it stands. */
    async join(body: Seat) {
      if (!isSeat(body)) return { ok: false as const, reason: "bad seat" };
      const player = seat(body, Date.now());
      if (!player) return { ok: false as const, reason: `room ${e.id} is full (${MAX_PLAYERS})` };
      await checkpoint(); // a join is worth keeping at once
      return { ok: true as const, id: player.id, tick: e.state.tick, instance: e.instance };
    },
    /** A move: the direction the player holds from the next tick on. */
    input(body: { key: string } & Move) {
      // Only a seated player's own key: never a name Object.prototype has (`constructor`).
      const p = typeof body?.key === "string" && KEY_RULE.test(body.key) &&
          Object.hasOwn(e.state.players, body.key)
        ? e.state.players[body.key]
        : undefined;
      if (!p || !isStep(body.dx) || !isStep(body.dy)) return false;
      p.dx = body.dx;
      p.dy = body.dy;
      dirty = true;
      return true;
    },
    /** A player left on purpose. */
    leave(body: { key: string }) {
      if (typeof body?.key !== "string" || !KEY_RULE.test(body.key)) return false;
      if (!Object.hasOwn(e.state.players, body.key)) return false;
      delete e.state.players[body.key];
      dirty = true;
      return true;
    },
    /**
     * A gateway vouches for its players here (every second): their lease is renewed, and one the
     * room does not know (it came back from a checkpoint older than the join) is seated again.
     * It is also what wakes a room up on its new owner after a crash, and its answer tells the
     * gateway which activation to relay.
     */
    alive(body: { players: Seat[] }) {
      const players = Array.isArray(body?.players) ? body.players.slice(0, MAX_PLAYERS) : [];
      const now = Date.now();
      let seated = 0;
      for (const s of players) if (isSeat(s) && seat(s, now)) seated++;
      return { seated, instance: e.instance }; // where the room is: the gateway relays this one
    },
    /** The room as the players see it now. */
    snapshot,
  };
}, {
  initial: (): RoomState => ({ tick: 0, players: {} }),
  idle: "30s", // no gateway vouched for anyone for 30 s: nobody is playing, the room is saved
  store: "file",
  // A room passivated empty is deleted from the store rather than saved: room ids are chosen by
  // clients, and every one ever named would otherwise stay on disk.
  onPassivate: (e) => Object.keys(e.state.players).length === 0 ? e.forget() : undefined,
});

const isStep = (v: unknown): v is -1 | 0 | 1 => v === -1 || v === 0 || v === 1;
const clamp = (v: number, size: number) => Math.max(0, Math.min(size - 1, v));

/** A small, stable number from a key (FNV-1a): where a player first stands, its color. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
