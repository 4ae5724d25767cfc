// One replica's side of the chat, whatever carries the lines (a TCP socket or a WebSocket): its
// sessions, the rooms they are in, and the two ways it talks to the rest of the application.
// Messages go by publish/subscribe, one topic per room, so users on different replicas (and on
// the web page) share rooms; presence goes by request/reply to `rooms`, so /who sees everyone.
import type { ContainerRef, Context } from "../../container.ts";
import {
  cleanText,
  HELP,
  LineReader,
  LOBBY,
  MAX_LINE_BYTES,
  parseLine,
  RateLimit,
} from "./lines.ts";
import type rooms from "./containers/rooms.ts";
import { GOODBYE } from "./presence.ts";

/** Where a session's lines go: one client connection. */
export interface Peer {
  /** Queues one line for the client (a peer too slow to take its lines closes itself). */
  send(line: string): void;
  /** Ends the connection once what was queued is written; `going-away`: the server is stopping. */
  close(why: "bye" | "going-away"): void;
}

/** Tunables, from the container's `config:`. */
export interface HubOptions {
  /** Lines a connection may send in a burst, and per second after it. */
  burst: number;
  perSecond: number;
  /** How often the replica sends its whole user list to `rooms`, in ms. */
  syncEvery: number;
}

/** What travels on a room's topic: a message, or a notice (joins, leaves, renames). */
type RoomEvent = { room: string; nick: string; text: string } | { room: string; notice: string };

/** Presence calls wait briefly: a user waits on them; a restarting `rooms` is refilled by syncs. */
const PRESENCE = { timeout: 2000 };

/** Reads `HubOptions` from a container's config, with the defaults. */
export function hubOptions(config: Readonly<Record<string, unknown>>): HubOptions {
  const number = (key: string, fallback: number) => {
    const value = Number(config[key] ?? fallback);
    return Number.isFinite(value) && value > 0 ? value : fallback;
  };
  return {
    burst: number("burst", 10),
    perSecond: number("per_second", 5),
    syncEvery: number("sync_every", 2000),
  };
}

/** The sessions of one replica and their rooms. */
export class ChatHub {
  readonly #ctx: Context;
  readonly #options: HubOptions;
  readonly #rooms: ContainerRef<typeof rooms>;
  readonly #sessions = new Set<Session>();
  /** Presence claims on their way to `rooms` (a sync waits for them: see #sync). */
  readonly #claims = new Set<Promise<unknown>>();
  /** Room → the local sessions in it; a room with local members has one subscription. */
  readonly #local = new Map<string, Set<Session>>();
  readonly #unsubscribe = new Map<string, () => void>();
  #count = 0;
  #stopping = false;

  constructor(ctx: Context, options: HubOptions) {
    this.#ctx = ctx;
    this.#options = options;
    this.#rooms = ctx.ref<typeof rooms>("rooms");
    ctx.setInterval(() => this.#sync(), options.syncEvery);
    // The runtime aborts the signal when this instance starts stopping (stop, restart, scale
    // down, shutdown): every client is told and closed, then `rooms` forgets them all at once.
    ctx.signal.addEventListener("abort", () => this.stop());
    ctx.onStop(() => this.stop());
  }

  /** Users connected to this replica. */
  get size(): number {
    return this.#sessions.size;
  }

  /** A new connection: a guest nick in the lobby, then a welcome line naming this instance. */
  async open(peer: Peer, via: string): Promise<Session> {
    const session = new Session(this, peer, {
      id: `${this.#ctx.instance}/${++this.#count}`,
      limit: new RateLimit({ ...this.#options, now: Date.now() }),
    });
    if (this.#stopping) {
      peer.send(`* ${this.#ctx.instance} is stopping: connect again`);
      peer.close("going-away");
      return session;
    }
    this.#sessions.add(session);
    for (let attempt = 0; attempt < 5; attempt++) {
      session.nick = `guest-${crypto.getRandomValues(new Uint16Array(1))[0].toString(16)}`;
      // Unavailable (`rooms` restarting): carry on as a guest; the next sync tells it.
      if (await this.#claim(session, session.nick, LOBBY) !== "taken") break;
    }
    this.#enter(session, LOBBY);
    peer.send(
      `* welcome to kraken chat on ${this.#ctx.instance} (${via}): you are ${session.nick} in ` +
        `#${LOBBY}; /help lists the commands`,
    );
    return session;
  }

  /** Runs one line from a session (its lines are run one at a time, in order). */
  async run(session: Session, line: string): Promise<void> {
    const command = parseLine(line);
    switch (command.kind) {
      case "empty":
        return;
      case "say":
        this.#publish({ room: session.room, nick: session.nick, text: command.text });
        return;
      case "nick": {
        const old = session.nick;
        if (old === command.nick) return;
        const claim = await this.#claim(session, command.nick, session.room);
        if (claim !== "ok") {
          session.peer.send(
            claim === "taken"
              ? `* the nick ${command.nick} is taken`
              : "* presence is unavailable: try again",
          );
          return;
        }
        session.nick = command.nick;
        this.#publish({ room: session.room, notice: `${old} is now ${command.nick}` });
        return;
      }
      case "join": {
        if (command.room === session.room) return;
        if (await this.#claim(session, session.nick, command.room) !== "ok") {
          session.peer.send("* presence is unavailable: try again");
          return;
        }
        this.#exit(session, "left");
        this.#enter(session, command.room);
        session.peer.send(`* you are in #${command.room}`);
        return;
      }
      case "who": {
        const nicks = await this.#ask(() =>
          this.#rooms.request("who", { room: session.room }, PRESENCE)
        );
        session.peer.send(
          nicks ? `* in #${session.room}: ${nicks.join(", ")}` : "* presence is unavailable",
        );
        return;
      }
      case "rooms": {
        const list = await this.#ask(() => this.#rooms.request("rooms", undefined, PRESENCE));
        session.peer.send(
          list
            ? `* rooms: ${list.map((r) => `#${r.room} (${r.users})`).join(", ") || "none"}`
            : "* presence is unavailable",
        );
        return;
      }
      case "help":
        for (const line of HELP) session.peer.send(`* ${line}`);
        return;
      case "quit":
        session.peer.send("* bye");
        session.peer.close("bye");
        return;
      case "invalid":
        session.peer.send(`* ${command.reason}`);
        return;
      default:
        command satisfies never;
    }
  }

  /** A connection ended: the user leaves its room, here and in `rooms`. */
  closed(session: Session): void {
    if (!this.#sessions.delete(session)) return;
    this.#exit(session, "left");
    this.#ask(() => this.#rooms.request("leave", { id: session.id }, PRESENCE));
  }

  /** Tells every client this replica is going, closes them, and has `rooms` drop them. */
  stop(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    for (const session of [...this.#sessions]) {
      this.#sessions.delete(session);
      this.#exit(session, "left (server stopping)");
      session.peer.send(`* ${this.#ctx.instance} is stopping: connect again to carry on`);
      session.peer.close("going-away");
    }
    // A publication, not a request: a stopping replica waits for nobody. (A request or send to
    // `rooms` from here was lost now and then: it goes over the direct port between the two
    // workers, which closes as this one goes; a publication goes through the host like the
    // notices above.) If even this is lost, the lease ends what `rooms` holds for this replica.
    this.#ctx.publish(GOODBYE, { instance: this.#ctx.instance });
  }

  /** Tells `rooms` where a session is and under which nick. */
  async #claim(
    session: Session,
    nick: string,
    room: string,
  ): Promise<"ok" | "taken" | "unavailable"> {
    const member = { id: session.id, nick, room, instance: this.#ctx.instance };
    const asked = this.#ask(() => this.#rooms.request("set", member, PRESENCE));
    this.#claims.add(asked);
    const reply = await asked.finally(() => this.#claims.delete(asked));
    if (reply?.ok === true) return "ok";
    return reply !== undefined && "reason" in reply && reply.reason === "taken"
      ? "taken"
      : "unavailable";
  }

  #enter(session: Session, room: string): void {
    session.room = room;
    let members = this.#local.get(room);
    if (members === undefined) {
      members = new Set();
      this.#local.set(room, members);
      const off = this.#ctx.subscribe(`chat.room.${room}`, (body) => this.#deliver(body));
      this.#unsubscribe.set(room, off);
    }
    members.add(session);
    this.#publish({ room, notice: `${session.nick} joined #${room}` });
  }

  #exit(session: Session, how: string): void {
    const members = this.#local.get(session.room);
    if (!members?.delete(session)) return;
    this.#publish({ room: session.room, notice: `${session.nick} ${how} #${session.room}` });
    if (members.size > 0) return;
    this.#local.delete(session.room);
    this.#unsubscribe.get(session.room)?.();
    this.#unsubscribe.delete(session.room);
  }

  #publish(event: RoomEvent): void {
    this.#ctx.publish(`chat.room.${event.room}`, event);
  }

  /** A room event from any replica, to this replica's users in that room. Checked, never thrown. */
  #deliver(body: unknown): void {
    const event = body as Partial<Record<"room" | "nick" | "text" | "notice", unknown>>;
    if (typeof event !== "object" || event === null || typeof event.room !== "string") return;
    const members = this.#local.get(event.room);
    if (members === undefined) return;
    let line: string;
    if (typeof event.notice === "string") line = `* ${cleanText(event.notice)}`;
    else if (typeof event.nick === "string" && typeof event.text === "string") {
      line = `[${event.room}] ${cleanText(event.nick)}: ${cleanText(event.text)}`;
    } else return;
    for (const session of members) session.peer.send(line);
  }

  async #sync(): Promise<void> {
    // A sync built while a claim is on its way would carry the old nick or room and, arriving
    // after the claim, undo it: wait for the claims (and the sessions they update) first.
    if (this.#claims.size > 0) await Promise.allSettled([...this.#claims]);
    const members = [...this.#sessions].map((s) => ({ id: s.id, nick: s.nick, room: s.room }));
    this.#ask(() =>
      this.#rooms.request("sync", { instance: this.#ctx.instance, members }, PRESENCE)
    );
  }

  /** A request to `rooms` that answers `undefined` instead of failing (it may be restarting). */
  async #ask<T>(request: () => Promise<T>): Promise<T | undefined> {
    try {
      return await request();
    } catch (error) {
      this.#ctx.log.warn(`presence: ${(error as Error).message}`);
      return undefined;
    }
  }
}

/** One connected user; its input comes by {@linkcode Session.push} or {@linkcode Session.line}. */
export class Session {
  readonly id: string;
  readonly peer: Peer;
  nick = "";
  room = LOBBY;
  readonly #hub: ChatHub;
  readonly #limit: RateLimit;
  readonly #reader = new LineReader(MAX_LINE_BYTES);
  #queue: Promise<void> = Promise.resolve();
  #warned = 0;

  constructor(hub: ChatHub, peer: Peer, options: { id: string; limit: RateLimit }) {
    this.#hub = hub;
    this.peer = peer;
    this.id = options.id;
    this.#limit = options.limit;
  }

  /** Bytes from a stream (TCP): cut into bounded lines. */
  push(bytes: Uint8Array): void {
    for (const event of this.#reader.push(bytes)) {
      if ("line" in event) this.line(event.line);
      else this.refuse(event.tooLong);
    }
  }

  /** One whole line (a WebSocket message, or a line cut from a stream). */
  line(line: string): void {
    const now = Date.now();
    if (!this.#limit.take(now)) {
      if (now - this.#warned > 1000) {
        this.#warned = now;
        this.peer.send("* slow down: too many lines, some were dropped");
      }
      return;
    }
    this.#queue = this.#queue.then(() => this.#hub.run(this, line)).catch((error) =>
      this.peer.send(`* error: ${(error as Error).message}`)
    );
  }

  /** A line over the bound: refused, and the connection carries on. */
  refuse(bytes: number): void {
    this.peer.send(`* line refused: ${bytes}+ bytes, at most ${MAX_LINE_BYTES}`);
  }

  /** Resolves once every line taken so far has been run. */
  settled(): Promise<void> {
    return this.#queue;
  }
}
