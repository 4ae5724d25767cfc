// Test helpers for listeners: the echo listener in its own process (its memory measured apart
// from its attackers), and a WebSocket client that writes frames by hand.
import { readToEnd, readUntil } from "../_wait.ts";
import assert from "node:assert/strict";
import { decodeMsgpack, MsgpackEncoder } from "../../protocol/msgpack.ts";
import { DialerHandshake } from "../../transports/handshake.ts";

/** The secret the echo listener is started with. */
export const SECRET = "preauth-secret";
const encoder = new TextEncoder();

/** The echo listener in its process. */
export interface ListenerProcess {
  url: URL;
  rss(): number;
  /**
   * Closes its stdin; resolves what it counted: refused connections by error name, links, input
   * its links refused (frames that hold no batch).
   */
  stop(): Promise<{ refused: Record<string, number>; links: number; inputRefused: string[] }>;
}

/** Starts the echo listener (`tests/fixtures/echo_listener.ts`) in its own process. */
export async function startListener(
  url: string,
  options: { timeout: number; maxFrame?: number; heapMiB?: number },
): Promise<ListenerProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--no-lock",
      ...(options.heapMiB ? [`--v8-flags=--max-old-space-size=${options.heapMiB}`] : []),
      new URL("../fixtures/echo_listener.ts", import.meta.url).pathname,
      SECRET,
      url,
      String(options.timeout),
      ...(options.maxFrame ? [String(options.maxFrame)] : []),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = await readUntil(lines, (t) => t.includes("\n"), 30_000, "the listener's URL")
    .catch((error) => {
      child.kill("SIGKILL");
      throw error;
    });
  return {
    url: new URL(out.trim()),
    rss() {
      const status = Deno.readTextFileSync(`/proc/${child.pid}/status`);
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
    },
    async stop() {
      await child.stdin.close();
      const kill = setTimeout(() => child.kill("SIGKILL"), 10_000);
      out = (await readToEnd(lines, 15_000, "the listener's report")).join("");
      await child.status;
      clearTimeout(kill);
      return JSON.parse(out.trim());
    },
  };
}

/**
 * A masked client frame (mask of zeros, so the payload goes as it is): `opcode` 9 a ping, 10 a
 * pong, 2 binary; at most 125 bytes of payload.
 */
export function clientFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(6 + payload.length);
  frame[0] = 0x80 | opcode;
  frame[1] = 0x80 | payload.length;
  frame.set(payload, 6);
  return frame;
}

export class RawWs {
  readonly conn: Deno.TcpConn;
  #ahead = new Uint8Array(0);

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  static async open(url: URL): Promise<RawWs> {
    const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
    const ws = new RawWs(conn);
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    await ws.#write(encoder.encode(
      `GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    ));
    // The response head, and whatever follows it in the same read (the listener's hello).
    let bytes = new Uint8Array(0);
    let end = -1;
    while (end < 0) {
      const chunk = await ws.#read();
      if (!chunk) throw new Error("closed during the upgrade");
      const joined = new Uint8Array(bytes.length + chunk.length);
      joined.set(bytes);
      joined.set(chunk, bytes.length);
      bytes = joined;
      end = new TextDecoder("latin1").decode(bytes).indexOf("\r\n\r\n");
    }
    assert.match(new TextDecoder().decode(bytes.subarray(0, end)), /^HTTP\/1\.1 101 /);
    ws.#ahead = bytes.slice(end + 4);
    return ws;
  }

  async #write(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.length) at += await this.conn.write(bytes.subarray(at));
  }

  async #read(): Promise<Uint8Array | null> {
    const buffer = new Uint8Array(65536);
    const n = await this.conn.read(buffer).catch(() => null);
    return n === null ? null : buffer.subarray(0, n);
  }

  /** A binary frame header declaring `length` bytes (payload to follow, masked with zeros). */
  header(length: number): Promise<void> {
    const h = new Uint8Array(14);
    h[0] = 0x82;
    h[1] = 0x80 | 127;
    new DataView(h.buffer).setBigUint64(2, BigInt(length)); // then a zero mask
    return this.#write(h);
  }

  /** One whole binary message. */
  async message(payload: Uint8Array): Promise<void> {
    await this.header(payload.length);
    await this.#write(payload);
  }

  /** Sends `n` more payload bytes (zeros); false once the listener has hung up. */
  async flood(n: number): Promise<boolean> {
    try {
      for (let sent = 0; sent < n; sent += 65536) await this.#write(new Uint8Array(65536));
      return true;
    } catch {
      return false;
    }
  }

  /** The next message the listener sends (servers do not mask), or null at the end. */
  async next(): Promise<{ opcode: number; payload: Uint8Array } | null> {
    const need = async (n: number) => {
      while (this.#ahead.length < n) {
        const chunk = await this.#read();
        if (!chunk) return false;
        const joined = new Uint8Array(this.#ahead.length + chunk.length);
        joined.set(this.#ahead);
        joined.set(chunk, this.#ahead.length);
        this.#ahead = joined;
      }
      return true;
    };
    if (!await need(2)) return null;
    let length = this.#ahead[1] & 0x7f;
    let at = 2;
    if (length === 126) {
      if (!await need(4)) return null;
      length = (this.#ahead[2] << 8) | this.#ahead[3];
      at = 4;
    }
    if (!await need(at + length)) return null;
    const message = { opcode: this.#ahead[0] & 0x0f, payload: this.#ahead.slice(at, at + length) };
    this.#ahead = this.#ahead.slice(at + length);
    return message;
  }

  /** Reads until the listener hangs up; the close code it gave, if any. */
  async closeCode(): Promise<number | undefined> {
    while (true) {
      const message = await this.next();
      if (!message) return undefined;
      if (message.opcode === 8) return (message.payload[0] << 8) | message.payload[1];
    }
  }

  /** Proves the secret by hand: hello in, proof out, welcome in. */
  async authenticate(secret: string): Promise<void> {
    const frames = new MsgpackEncoder();
    const unframe = (payload: Uint8Array) => (decodeMsgpack(payload.subarray(4)) as unknown[])[1];
    const dialer = new DialerHandshake(secret);
    const hello = await this.next();
    await this.message(frames.encodeFrame([0, await dialer.answer(unframe(hello!.payload))]));
    await dialer.verify(unframe((await this.next())!.payload));
  }

  /** Writes `bytes` as they are (frames built by the caller). */
  write(bytes: Uint8Array): Promise<void> {
    return this.#write(bytes);
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // closed by the listener
    }
  }
}
