// Who is in which room, pure (the clock is passed in). Each member is held for the replica
// instance that owns its connection, and only as long as that instance keeps saying so: replicas
// send their whole list every few seconds (`sync`), and an instance not heard from for `lease`
// milliseconds loses its members. So a replica that dies without a word (killed, crashed in a busy
// loop) leaves no ghost for longer than the lease, and a presence container that restarted empty
// is full again after one round of syncs.

/** The topic a stopping replica announces its departure on: presence drops its users at once. */
export const GOODBYE = "chat.presence.goodbye";

/** One connected user, as its replica reports it. */
export interface Member {
  /** Unique per connection: the instance, then a counter (`chat#1.1/7`). */
  id: string;
  nick: string;
  room: string;
  /** The replica instance holding the connection. */
  instance: string;
}

/** Why a nick was not given. */
export type NickRefusal = "taken";

/** Bounds of what one presence table holds; beyond them, new members are refused. */
export const MAX_MEMBERS = 100_000;

/** The presence table. */
export class Presence {
  readonly #lease: number;
  readonly #members = new Map<string, Member>();
  /** Nick, lower-cased → member id: nicks are unique whatever their case. */
  readonly #nicks = new Map<string, string>();
  /** Instance → when it last spoke. */
  readonly #seen = new Map<string, number>();

  constructor(options: { lease: number }) {
    this.#lease = options.lease;
  }

  /** Adds or updates a member; refused if another member holds the nick (or the table is full). */
  set(member: Member, now: number): { ok: true } | { ok: false; reason: NickRefusal | "full" } {
    const holder = this.#nicks.get(member.nick.toLowerCase());
    if (holder !== undefined && holder !== member.id) return { ok: false, reason: "taken" };
    if (!this.#members.has(member.id) && this.#members.size >= MAX_MEMBERS) {
      return { ok: false, reason: "full" };
    }
    this.#put(member);
    this.#seen.set(member.instance, now);
    return { ok: true };
  }

  /** Removes a member (a connection that closed). */
  leave(id: string): void {
    const old = this.#members.get(id);
    if (old === undefined) return;
    this.#members.delete(id);
    if (this.#nicks.get(old.nick.toLowerCase()) === id) this.#nicks.delete(old.nick.toLowerCase());
  }

  /** Replaces everything held for `instance` by `members` (its full list) and renews its lease. */
  sync(instance: string, members: readonly Omit<Member, "instance">[], now: number): void {
    this.drop(instance);
    for (const m of members) {
      if (this.#members.size >= MAX_MEMBERS) break;
      // After a presence restart two replicas may both claim a nick: the first keeps it here; the
      // other's user still chats under it until it renames (its next /nick is checked).
      this.#put({ ...m, instance });
    }
    this.#seen.set(instance, now);
  }

  /** Removes every member of `instance` (it stopped: its connections are gone); returns them. */
  drop(instance: string): Member[] {
    const dropped = [...this.#members.values()].filter((m) => m.instance === instance);
    for (const m of dropped) this.leave(m.id);
    this.#seen.delete(instance);
    return dropped;
  }

  /** Drops the members of instances whose lease ran out; returns them. */
  sweep(now: number): Member[] {
    const expired = [...this.#seen].filter(([, at]) => now - at > this.#lease).map(([i]) => i);
    return expired.flatMap((instance) => this.drop(instance));
  }

  /** The nicks in `room`, sorted. */
  who(room: string): string[] {
    return [...this.#members.values()].filter((m) => m.room === room).map((m) => m.nick).sort();
  }

  /** Rooms with at least one member, busiest first. */
  rooms(): { room: string; users: number }[] {
    const counts = new Map<string, number>();
    for (const m of this.#members.values()) counts.set(m.room, (counts.get(m.room) ?? 0) + 1);
    return [...counts].map(([room, users]) => ({ room, users }))
      .sort((a, b) => b.users - a.users || a.room.localeCompare(b.room));
  }

  #put(member: Member): void {
    this.leave(member.id);
    this.#members.set(member.id, { ...member });
    if (!this.#nicks.has(member.nick.toLowerCase())) {
      this.#nicks.set(member.nick.toLowerCase(), member.id);
    }
  }
}
