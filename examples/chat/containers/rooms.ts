// Presence: who is in which room, for every replica at once (request/reply). One instance holds
// the table; the chat replicas tell it about their users as they come and go, and resend their
// whole list every few seconds, so a replica that died silently loses its users once its lease
// runs out (config.lease, ms) and a restarted presence is refilled by the next round. A replica
// that stops says goodbye on a topic, and its users go at once.
// Its callers are other containers: what they send is checked, and a bad body is answered with
// `ok: false`, never thrown (a throw would fail this instance and empty the table).
import { container } from "../../../container.ts";
import { NICK_RULE, ROOM_RULE } from "../lines.ts";
import { GOODBYE, type Member, Presence } from "../presence.ts";

const MAX_ID = 200;
const MAX_SYNC = 10_000;

export default container((ctx) => {
  const lease = Number(ctx.config.lease ?? 6000);
  const presence = new Presence({ lease });
  // Users of a replica that went without a word: their rooms hear that they left.
  const gone = (members: Member[], why: string) => {
    for (const m of members) {
      ctx.publish(`chat.room.${m.room}`, {
        room: m.room,
        notice: `${m.nick} left #${m.room} (${why})`,
      });
    }
  };
  ctx.setInterval(
    () => gone(presence.sweep(Date.now()), "connection lost"),
    Math.max(100, lease / 4),
  );
  // A replica is stopping: its users go with it (it told them and their rooms itself).
  ctx.subscribe(GOODBYE, (body) => {
    const instance = (body as { instance?: unknown } | null)?.instance;
    if (isId(instance)) presence.drop(instance);
  });
  return {
    /** Adds or updates a user (connect, /nick, /join); a taken nick is refused. */
    set(body: Member) {
      if (!isMember(body)) return { ok: false as const, reason: "bad member" };
      return presence.set(body, Date.now());
    },
    /** A user's connection closed. */
    leave(body: { id: string }) {
      if (typeof body?.id === "string") presence.leave(body.id);
      return { ok: true };
    },
    /** A replica's whole list of users: replaces what was held for it and renews its lease. */
    sync(body: { instance: string; members: Omit<Member, "instance">[] }) {
      if (!isId(body?.instance) || !Array.isArray(body.members)) return { ok: false };
      const members = body.members.slice(0, MAX_SYNC)
        .filter((m) => isMember({ ...m, instance: body.instance }));
      presence.sync(body.instance, members, Date.now());
      return { ok: true };
    },
    /** The nicks in a room. */
    who(body: { room: string }) {
      return typeof body?.room === "string" ? presence.who(body.room) : [];
    },
    /** Rooms with people in them. */
    rooms() {
      return presence.rooms();
    },
  };
});

function isId(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= MAX_ID;
}

function isMember(value: unknown): value is Member {
  const m = value as Member;
  return typeof m === "object" && m !== null && isId(m.id) && isId(m.instance) &&
    typeof m.nick === "string" && NICK_RULE.test(m.nick) &&
    typeof m.room === "string" && ROOM_RULE.test(m.room);
}
