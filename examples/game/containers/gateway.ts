// The game's front door: the page at `/` and a WebSocket at `/ws?room=ROOM&name=NAME[&key=KEY]`.
// Every replica listens on the same port. A player's moves go to its room (an entity of `rooms`,
// wherever it lives now) with `send`; the room's snapshots come back by publish/subscribe: this
// replica subscribes to `game.room.<room>` while it has players there and relays each snapshot to
// them. Once a second it vouches for its players to their rooms (`alive`), which keeps them seated
// and wakes a room up again on its new owner after a crash.
// Everything a browser sends is untrusted: the query is checked before the upgrade, the Origin
// must be this host, each message is bounded, shaped and rate-limited per connection.
import { container } from "../../../container.ts";
import type room from "./room.ts";
import {
  ALIVE_EVERY_MS,
  ID_RULE,
  KEY_RULE,
  NAME_RULE,
  parseClientMessage,
  RateLimit,
  ROOM_RULE,
  roomTopic,
  type Seat,
  type Snapshot,
} from "../protocol.ts";

const PUBLIC = new URL("../public/", import.meta.url);
const FILES: Record<string, [string, string]> = {
  "/": ["index.html", "text/html; charset=utf-8"],
  "/app.js": ["app.js", "text/javascript; charset=utf-8"],
  "/style.css": ["style.css", "text/css; charset=utf-8"],
};
/** The page runs only its own script and talks only to its own origin. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'";
/** A socket this far behind skips snapshots (the next one replaces them) rather than queue them. */
const MAX_BUFFERED = 64 * 1024;
/** Refused messages a connection may send before it is closed (1008). */
const MAX_REFUSED = 10;

/** One player connected to this replica. */
interface Conn {
  socket: WebSocket;
  room: string;
  seat: Seat;
}

export default container(async (ctx) => {
  const burst = Number(ctx.config.burst ?? 20);
  const perSecond = Number(ctx.config.per_second ?? 20);
  // Each room a client names is an entity with a 10 Hz tick: without a bound one client could
  // open rooms (and connections) until the machine gives out.
  const maxRooms = Number(ctx.config.max_rooms ?? 200);
  const maxPerAddress = Number(ctx.config.max_per_address ?? 16);
  /** Sockets on this replica, from the upgrade to the close: by room, and by remote address. */
  const byRoom = new Map<string, number>();
  const byAddress = new Map<string, number>();
  const files = new Map<string, { body: string; type: string }>();
  for (const [path, [name, type]] of Object.entries(FILES)) {
    files.set(path, { body: await Deno.readTextFile(new URL(name, PUBLIC)), type });
  }
  const rooms = ctx.ref<typeof room>("rooms");
  /**
   * Players here by room, the subscription that feeds them, and the instance the room answered
   * from last (its owner as this replica last heard).
   */
  const here = new Map<string, { conns: Set<Conn>; unsubscribe: () => void; owner?: string }>();

  ctx.setInterval(() => {
    for (const [id, entry] of here) {
      const players = [...entry.conns].map((c) => c.seat);
      rooms.entity(id).request("alive", { players }, { timeout: ALIVE_EVERY_MS }).then(
        (answer) => void (entry.owner = answer.instance),
        () => {}, // the room is moving (its owner died): the next round finds it
      );
    }
  }, ALIVE_EVERY_MS);

  const relay = (body: unknown) => {
    const snapshot = body as Snapshot;
    const entry = here.get(snapshot?.room);
    if (!entry) return;
    // While the replica set changes, two activations of a room may tick for a moment (until the
    // old owner hands off): relay only the one the room's messages reach, so nobody sees the
    // room flicker between two states.
    if (entry.owner !== undefined && snapshot.instance !== entry.owner) return;
    const conns = entry.conns;
    const text = JSON.stringify({ t: "state", ...snapshot }); // once for every player of the room
    for (const { socket } of conns) {
      if (socket.readyState === WebSocket.OPEN && socket.bufferedAmount < MAX_BUFFERED) {
        socket.send(text);
      }
    }
  };

  const enter = (conn: Conn, owner: string) => {
    let entry = here.get(conn.room);
    if (!entry) {
      entry = { conns: new Set(), unsubscribe: ctx.subscribe(roomTopic(conn.room), relay) };
      here.set(conn.room, entry);
    }
    entry.owner = owner;
    entry.conns.add(conn);
  };

  const exit = (conn: Conn) => {
    const entry = here.get(conn.room);
    if (!entry?.conns.delete(conn) || entry.conns.size > 0) return;
    entry.unsubscribe();
    here.delete(conn.room);
  };

  return {
    fetch(request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Response {
      const url = new URL(request.url);
      if (url.pathname === "/ws") return upgrade(request, url, info.remoteAddr.hostname);
      const file = files.get(url.pathname);
      if (request.method !== "GET" || file === undefined) {
        return new Response("not found\n", { status: 404 });
      }
      return new Response(file.body, {
        headers: { "content-type": file.type, "content-security-policy": CSP },
      });
    },
    /** Players connected to this replica, by room. */
    players() {
      return {
        instance: ctx.instance,
        rooms: Object.fromEntries([...here].map(([id, { conns }]) => [id, conns.size])),
      };
    },
  };

  function upgrade(request: Request, url: URL, address: string): Response {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade\n", { status: 426 });
    }
    // A page from another site must not play in the visitor's name (cross-site WebSocket).
    const origin = request.headers.get("origin");
    if (origin !== null && (!URL.canParse(origin) || new URL(origin).host !== url.host)) {
      return new Response("cross-origin WebSocket refused\n", { status: 403 });
    }
    const roomId = url.searchParams.get("room") ?? "";
    const name = url.searchParams.get("name") ?? "";
    const key = url.searchParams.get("key") ?? crypto.randomUUID();
    const bad = !ROOM_RULE.test(roomId)
      ? "room: lower-case letters, digits, _ or -, 1 to 32 characters"
      : !NAME_RULE.test(name)
      ? "name: a letter, then letters, digits, _ or -, at most 16 characters"
      : !KEY_RULE.test(key)
      ? "key: the key this server gave you, or none"
      : undefined;
    if (bad) return new Response(`bad ${bad}\n`, { status: 400 });
    if ((byAddress.get(address) ?? 0) >= maxPerAddress) {
      return busy(`too many connections from ${address}: at most ${maxPerAddress}`);
    }
    if (!byRoom.has(roomId) && byRoom.size >= maxRooms) {
      return busy(`this server has its most rooms open (${maxRooms}): join one in play or retry`);
    }

    const { socket, response } = Deno.upgradeWebSocket(request);
    count(byAddress, address, 1);
    count(byRoom, roomId, 1);
    const seat: Seat = { key, id: crypto.randomUUID().slice(0, 8), name };
    const target = rooms.entity(roomId);
    const limit = new RateLimit(burst, perSecond);
    let conn: Conn | undefined;
    let refused = 0;
    let toldSlow = -Infinity; // performance.now() starts at 0 with the worker
    const goingAway = () => socket.close(1001, "going away");
    ctx.signal.addEventListener("abort", goingAway, { once: true });

    const say = (message: Record<string, unknown>) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
    };

    socket.addEventListener("open", async () => {
      try {
        const joined = await target.request("join", seat, { timeout: 2000, retries: 3 });
        if (!joined.ok) {
          say({ t: "error", reason: joined.reason });
          return socket.close(1000, "refused");
        }
        if (!ID_RULE.test(joined.id)) throw new TypeError("the room answered a bad id");
        seat.id = joined.id; // a player coming back with its key keeps its id
        if (socket.readyState !== WebSocket.OPEN) return;
        conn = { socket, room: roomId, seat };
        enter(conn, joined.instance);
        say({ t: "welcome", room: roomId, id: seat.id, key, gateway: ctx.instance });
      } catch (error) {
        ctx.log.warn(`join ${roomId} failed: ${(error as Error).message}`);
        say({ t: "error", reason: "the room is not reachable now; try again" });
        socket.close(1011, "room unreachable");
      }
    });

    socket.addEventListener("message", (event) => {
      const message = parseClientMessage(event.data);
      if ("refused" in message) {
        say({ t: "error", reason: message.refused });
        if (++refused >= MAX_REFUSED) socket.close(1008, "too many bad messages");
        return;
      }
      if (!limit.take()) {
        const now = performance.now();
        if (now - toldSlow > 1000) {
          say({ t: "error", reason: "slow down: moves dropped" });
          toldSlow = now;
        }
        return;
      }
      if (conn) target.send("input", { key, ...message.move });
    });

    socket.addEventListener("close", (event) => {
      ctx.signal.removeEventListener("abort", goingAway);
      count(byAddress, address, -1);
      count(byRoom, roomId, -1);
      if (!conn) return;
      exit(conn);
      // Closed on purpose (1000): the player leaves at once. Otherwise (a network blip, this
      // replica going) its seat is kept while its lease runs, for it to come back with its key.
      if (event.code === 1000) target.send("leave", { key });
    });
    return response;
  }
});

/** Refused for now (503): the client may retry later. */
function busy(reason: string): Response {
  return new Response(`${reason}\n`, { status: 503, headers: { "retry-after": "5" } });
}

/** Adds `by` to `key`'s count in `counts`; a count that reaches 0 is removed. */
function count(counts: Map<string, number>, key: string, by: number): void {
  const n = (counts.get(key) ?? 0) + by;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}
