// Clients of the chat example for its tests: a TCP user (what `nc` does) and a WebSocket user
// (what the page does), each keeping every line it received so a test can wait for one, or check
// that one never came. Every wait is bounded; close() ends every read and socket it opened.
import { parse } from "yaml";
import { Runtime, type TopologyInput } from "../../mod.ts";
import { waitUntil, within } from "../_wait.ts";

const EXAMPLE = new URL("../../examples/chat/", import.meta.url);

/** Starts the example's own kraken.yaml on free ports (port 0), then `change`d. */
export async function startChat(
  change: (topology: { containers: Record<string, Record<string, unknown>> }) => void = () => {},
): Promise<Runtime> {
  const topology = parse(await Deno.readTextFile(new URL("kraken.yaml", EXAMPLE)));
  for (const name of ["chat", "web"]) {
    const serve = topology.containers[name].serve as Record<string, unknown>;
    serve.port = 0;
  }
  delete topology.management; // the tests reach the runtime directly
  change(topology);
  return await Runtime.start(topology as TopologyInput, {
    baseUrl: EXAMPLE.href,
    logLevel: "warn",
  });
}

/** The port a container serves on. */
export function portOf(rt: Runtime, name: string): number {
  const serving = rt.serving(name);
  if (serving === undefined) throw new Error(`${name} is not serving`);
  return serving.port;
}

/** What both kinds of user can do. */
export abstract class ChatUser {
  readonly lines: string[] = [];
  #cursor = 0;
  #ended = false;
  /** The instance named in the welcome line, and the guest nick it gave. */
  instance = "";
  nick = "";

  /** Sends one line. */
  abstract say(line: string): void;
  /** Closes the connection and waits for its reads to end. */
  abstract close(): Promise<void>;

  /** Whether the server closed the connection. */
  get ended(): boolean {
    return this.#ended;
  }

  protected received(line: string): void {
    this.lines.push(line);
  }

  protected end(): void {
    this.#ended = true;
  }

  /** The first line after the last one waited for that matches `pattern` (within `ms`). */
  async next(pattern: RegExp, ms = 5000): Promise<string> {
    let found = -1;
    try {
      await waitUntil(
        () => {
          found = this.lines.findIndex((line, i) => i >= this.#cursor && pattern.test(line));
          return found !== -1;
        },
        ms,
        `a line matching ${pattern}`,
      );
    } catch (error) {
      const got = JSON.stringify(this.lines.slice(-20));
      throw new Error(`${(error as Error).message}; ${this.nick || "the user"} got ${got}`);
    }
    this.#cursor = found + 1;
    return this.lines[found];
  }

  /** Sends a line and waits for the reply matching `pattern`. */
  async ask(line: string, pattern: RegExp, ms = 5000): Promise<string> {
    this.say(line);
    return await this.next(pattern, ms);
  }

  /** Takes a nick (and waits until it is given). */
  async rename(nick: string): Promise<void> {
    await this.ask(`/nick ${nick}`, new RegExp(`^\\* \\S+ is now ${nick}$`));
    this.nick = nick;
  }

  /** Waits for the welcome line and remembers what it says. */
  async welcome(): Promise<this> {
    const line = await this.next(/^\* welcome to kraken chat on (\S+) .*you are (\S+) in #lobby/);
    const [, instance, nick] = line.match(/on (\S+) .*you are (\S+) in/)!;
    this.instance = instance;
    this.nick = nick;
    return this;
  }

  /** Waits until the server has closed the connection. */
  async closedByServer(ms = 5000): Promise<void> {
    await waitUntil(() => this.#ended, ms, `${this.nick} to be disconnected by the server`);
  }
}

/** A user on the TCP program. */
export class TcpUser extends ChatUser {
  readonly #conn: Deno.TcpConn;
  readonly #reading: Promise<void>;
  readonly #encoder = new TextEncoder();

  private constructor(conn: Deno.TcpConn) {
    super();
    this.#conn = conn;
    this.#reading = this.#read();
  }

  static async connect(port: number): Promise<TcpUser> {
    const user = new TcpUser(await Deno.connect({ hostname: "127.0.0.1", port }));
    try {
      return await user.welcome();
    } catch (error) {
      await user.close();
      throw error;
    }
  }

  /** Raw bytes, for what a well-behaved client would not send. */
  async write(bytes: Uint8Array): Promise<void> {
    for (let at = 0; at < bytes.length;) at += await this.#conn.write(bytes.subarray(at));
  }

  say(line: string): void {
    this.write(this.#encoder.encode(`${line}\n`)).catch(() => {});
  }

  async close(): Promise<void> {
    try {
      this.#conn.close();
    } catch {
      // closed by the server already
    }
    await within(this.#reading, 5000, "the TCP client's reads to end");
  }

  async #read(): Promise<void> {
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(64 * 1024);
    let text = "";
    try {
      for (let n = await this.#conn.read(buffer); n !== null; n = await this.#conn.read(buffer)) {
        text += decoder.decode(buffer.subarray(0, n), { stream: true });
        const parts = text.split("\r\n");
        text = parts.pop()!;
        for (const line of parts) this.received(line);
      }
    } catch {
      // closed by us
    }
    this.end();
  }
}

/** A user on the web page's WebSocket. */
export class WebUser extends ChatUser {
  readonly #socket: WebSocket;
  readonly #closed: Promise<void>;
  /** The close code, once closed. */
  closeCode = 0;

  private constructor(socket: WebSocket) {
    super();
    this.#socket = socket;
    this.#closed = new Promise((resolve) =>
      socket.addEventListener("close", (event) => {
        this.closeCode = event.code;
        this.end();
        resolve();
      })
    );
    socket.addEventListener("message", (event) => this.received(String(event.data)));
  }

  static async connect(port: number): Promise<WebUser> {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    const user = new WebUser(socket);
    try {
      await within(
        new Promise((resolve, reject) => {
          socket.addEventListener("open", resolve);
          socket.addEventListener("error", () => reject(new Error("the WebSocket did not open")));
        }),
        5000,
        "the WebSocket to open",
      );
      return await user.welcome();
    } catch (error) {
      await user.close();
      throw error;
    }
  }

  say(line: string): void {
    this.#socket.send(line);
  }

  async close(): Promise<void> {
    if (this.#socket.readyState < WebSocket.CLOSING) this.#socket.close();
    await within(this.#closed, 5000, "the WebSocket to close");
  }
}

/**
 * TCP users until one lands on each of two different replicas (the kernel picks; the welcome line
 * names the instance). The extra connections are closed.
 */
export async function usersOnTwoReplicas(port: number): Promise<[TcpUser, TcpUser]> {
  const first = await TcpUser.connect(port);
  for (let attempt = 0; attempt < 40; attempt++) {
    const other = await TcpUser.connect(port);
    if (other.instance !== first.instance) return [first, other];
    await other.close();
  }
  await first.close();
  throw new Error(`40 connections all landed on ${first.instance}`);
}
