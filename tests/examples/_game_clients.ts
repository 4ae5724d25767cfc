// A player of the game example for its tests (what the page does): a WebSocket that keeps every
// message it received, so a test can wait for one. Every wait is bounded; close() ends the socket.
import { parse } from "yaml";
import { Runtime, type TopologyInput } from "../../mod.ts";
import type { Snapshot } from "../../examples/game/protocol.ts";
import { waitUntil, within } from "../_wait.ts";

const EXAMPLE = new URL("../../examples/game/", import.meta.url);

/** A topology as read from YAML, to change before it starts. */
export type GameTopology = { containers: Record<string, Record<string, unknown>> };

/**
 * Starts the example's own kraken.yaml with the gateway on a free port (port 0), the rooms in
 * `mode` and their store in `dir`, then `change`d.
 */
export async function startGame(
  dir: string,
  mode: "worker" | "process" = "worker",
  change: (topology: GameTopology) => void = () => {},
): Promise<Runtime> {
  const topology = parse(await Deno.readTextFile(new URL("kraken.yaml", EXAMPLE)));
  (topology.containers.gateway.serve as Record<string, unknown>).port = 0;
  const rooms = topology.containers.rooms;
  rooms.mode = mode;
  rooms.permissions = { read: [dir], write: [dir] };
  rooms.entities = { ...rooms.entities, dir };
  delete topology.management; // the tests reach the runtime directly
  change(topology);
  return await Runtime.start(topology as TopologyInput, {
    baseUrl: EXAMPLE.href,
    logLevel: "warn",
  });
}

/** The port the gateway serves on. */
export function gatewayPort(rt: Runtime): number {
  const serving = rt.serving("gateway");
  if (serving === undefined) throw new Error("the gateway is not serving");
  return serving.port;
}

/** A message from the gateway. */
export type Message =
  | { t: "welcome"; room: string; id: string; key: string; gateway: string }
  | ({ t: "state" } & Snapshot)
  | { t: "error"; reason: string };

/** One player on one WebSocket. */
export class Player {
  readonly messages: Message[] = [];
  readonly #socket: WebSocket;
  readonly #closed: Promise<void>;
  /** The close code, once closed (0 while open). */
  closeCode = 0;
  closed = false;
  /** From the welcome: the public id, the key, the gateway replica. */
  id = "";
  key = "";
  gateway = "";

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    this.#closed = new Promise((resolve) =>
      socket.addEventListener("close", (event) => {
        this.closeCode = event.code;
        this.closed = true;
        resolve();
      })
    );
    socket.addEventListener("message", (event) => {
      this.messages.push(JSON.parse(String(event.data)) as Message);
    });
  }

  /** Opens `/ws?query` without waiting for anything. */
  static open(port: number, query: Record<string, string>): Player {
    const search = new URLSearchParams(query);
    return new Player(new WebSocket(`ws://127.0.0.1:${port}/ws?${search}`));
  }

  /** Joins `room` as `name` and waits for the welcome. */
  static async join(port: number, room: string, name: string, key?: string): Promise<Player> {
    const player = Player.open(port, { room, name, ...(key ? { key } : {}) });
    try {
      const welcome = await player.next((m) => m.t === "welcome" || m.t === "error", 8000);
      if (welcome.t !== "welcome") throw new Error(`join refused: ${JSON.stringify(welcome)}`);
      player.id = welcome.id;
      player.key = welcome.key;
      player.gateway = welcome.gateway;
      return player;
    } catch (error) {
      await player.close();
      throw error;
    }
  }

  /** The first message received after `from` (an index) that `match`es, within `ms`. */
  async next(match: (m: Message) => boolean, ms = 5000, from = 0): Promise<Message> {
    let found: Message | undefined;
    try {
      await waitUntil(
        () => {
          found = this.messages.slice(from).find(match);
          return found !== undefined;
        },
        ms,
        "a matching message",
      );
    } catch (error) {
      const last = JSON.stringify(this.messages.slice(-5));
      throw new Error(`${(error as Error).message}; the last messages were ${last}`);
    }
    return found!;
  }

  /** The first snapshot from now on in which `match` holds. */
  async state(match: (s: Snapshot) => boolean, ms = 5000): Promise<Snapshot> {
    const from = this.messages.length;
    return await this.next((m) => m.t === "state" && match(m), ms, from) as Snapshot;
  }

  /** The next error message from now on. */
  async error(ms = 5000): Promise<string> {
    const from = this.messages.length;
    const m = await this.next((m) => m.t === "error", ms, from);
    return (m as { reason: string }).reason;
  }

  /** Holds a direction. */
  move(dx: number, dy: number): void {
    this.send(JSON.stringify({ t: "move", dx, dy }));
  }

  /** Sends raw data, for what the page would not send. */
  send(data: string | Uint8Array): void {
    this.#socket.send(data);
  }

  /** Waits until the server closed the socket. */
  async closedByServer(ms = 5000): Promise<void> {
    await within(this.#closed, ms, "the server to close the WebSocket");
  }

  /** Closes (1000: the player leaves) and waits for the close. */
  async close(code = 1000): Promise<void> {
    if (this.#socket.readyState < WebSocket.CLOSING) this.#socket.close(code);
    await within(this.#closed, 5000, "the WebSocket to close");
  }
}

/** Where player `id` stands in `s`, if there. */
export function where(s: Snapshot, id: string): { x: number; y: number } | undefined {
  const p = s.players.find((p) => p.id === id);
  return p && { x: p.x, y: p.y };
}
