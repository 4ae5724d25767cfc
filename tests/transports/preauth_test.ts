// Connections that have not authenticated are bounded on every socket listener: at most
// MAX_UNAUTHENTICATED wait at once (a flood is cut from its oldest connection while a legitimate
// peer still links), and a WebSocket message is bounded before it is read — one handshake frame
// before authentication, max_frame after — so memory stays flat. Real sockets, and a listener in
// its own process so its memory is measured apart from its attackers.
import assert from "node:assert/strict";
import { readToEnd, readUntil, within } from "../_wait.ts";
import { DialerHandshake } from "../../transports/handshake.ts";
import { decodeMsgpack, MsgpackEncoder } from "../../protocol/msgpack.ts";
import { defaultTransports } from "../../transports/defaults.ts";
import { TransportSet } from "../../transports/transport_set.ts";
import { MAX_UNAUTHENTICATED } from "../../transports/_pending.ts";
import { PendingConnections } from "../../transports/_pending.ts";

/** The built-in transports, as a runtime given none uses them. */
const builtin = new TransportSet(defaultTransports());

const SECRET = "preauth-secret";
const encoder = new TextEncoder();

interface ListenerProcess {
  url: URL;
  rss(): number;
  /** Closes its stdin; resolves what it counted (refusals by error name, links). */
  stop(): Promise<{ refused: Record<string, number>; links: number }>;
}

async function startListener(
  url: string,
  options: { timeout: number; maxFrame?: number },
): Promise<ListenerProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--no-lock",
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

/** A WebSocket client that writes frames by hand (masked, any declared length). */
class RawWs {
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

  close(): void {
    try {
      this.conn.close();
    } catch {
      // closed by the listener
    }
  }
}

/** Polls `check` until true, or fails after `ms`. */
async function eventually(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const scheme of ["tcp", "ws"] as const) {
  Deno.test(`${scheme}: at most ${MAX_UNAUTHENTICATED} connections wait to authenticate; a flood is cut from its oldest while a legitimate peer links`, async () => {
    const listener = await startListener(
      scheme === "ws" ? "ws://127.0.0.1:0/kraken" : "tcp://127.0.0.1:0",
      { timeout: 30_000 }, // far away: what closes connections here is the bound, not the clock
    );
    const surplus = 100;
    const closed = new Set<number>();
    const idle: { close(): void }[] = [];
    const watching: Promise<void>[] = [];
    try {
      const rssBefore = listener.rss();
      for (let i = 0; i < MAX_UNAUTHENTICATED + surplus; i++) {
        if (scheme === "tcp") {
          const conn = await Deno.connect({
            hostname: "127.0.0.1",
            port: Number(listener.url.port),
          });
          idle.push(conn);
          watching.push((async () => {
            const buffer = new Uint8Array(1024);
            while ((await conn.read(buffer).catch(() => null)) !== null) { /* its hello */ }
            closed.add(i);
          })());
        } else {
          const ws = await within(RawWs.open(listener.url), 10_000, "the WebSocket upgrade");
          idle.push(ws);
          watching.push(ws.closeCode().then(() => void closed.add(i)));
        }
      }
      await eventually(() => closed.size >= surplus, 10_000, `${surplus} connections closed`);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(
        [...closed].sort((a, b) => a - b),
        Array.from({ length: surplus }, (_, i) => i),
        "exactly the oldest connections beyond the bound were closed",
      );
      // Every slot is held by an idle connection: a real peer still gets through.
      const link = await builtin.dial(listener.url, { secret: SECRET });
      const echoed = new Promise((resolve) => (link.onEnvelope = resolve));
      link.send({ k: "pub", t: "still", b: "served" });
      assert.deepEqual(await echoed, { k: "pub", t: "still", b: "served" });
      await eventually(() => closed.size === surplus + 1, 5000, "one more idle connection closed");
      const grown = listener.rss() - rssBefore;
      console.log(`${scheme}: the listener grew by ${(grown / 2 ** 20).toFixed(1)} MiB`);
      assert.ok(grown < 64 * 2 ** 20, `the listener grew by ${grown} bytes`);
      link.close();
      await link.closed;
    } finally {
      for (const conn of idle) {
        try {
          conn.close();
        } catch {
          // closed by the listener
        }
      }
      await Promise.all(watching);
      const report = await listener.stop();
      assert.equal(report.links, closed.size > surplus ? 1 : report.links);
    }
  });
}

Deno.test("ws: a message larger than a handshake frame before authentication closes its connection at its header; memory stays flat", async () => {
  const listener = await startListener("ws://127.0.0.1:0/kraken", { timeout: 30_000 });
  const peers: RawWs[] = [];
  try {
    const rssBefore = listener.rss();
    for (let i = 0; i < 8; i++) {
      const ws = await within(RawWs.open(listener.url), 10_000, "the WebSocket upgrade");
      peers.push(ws);
      await within(ws.next(), 10_000, "the listener's hello");
      await ws.header(60 * 2 ** 20); // a 60 MiB message, announced before authenticating
      const code = within(ws.closeCode(), 20_000, "the listener to refuse the 60 MiB message");
      const sent = await ws.flood(8 * 2 ** 20);
      assert.equal(await code, 1009, "closed as too big");
      assert.equal(sent, false, "the listener hung up before the message was through");
    }
    const grown = listener.rss() - rssBefore;
    console.log(`ws: 8 oversize messages grew the listener by ${(grown / 2 ** 20).toFixed(1)} MiB`);
    assert.ok(grown < 16 * 2 ** 20, `the listener grew by ${grown} bytes`);
  } finally {
    peers.forEach((ws) => ws.close());
    const report = await listener.stop();
    assert.equal(report.refused.FrameError, 8);
  }
});

Deno.test("ws: after authentication a message is bounded by max_frame (and its length prefix)", async () => {
  const maxFrame = 64 * 1024;
  const listener = await startListener("ws://127.0.0.1:0/kraken", { timeout: 30_000, maxFrame });
  const ws = await within(RawWs.open(listener.url), 10_000, "the WebSocket upgrade");
  try {
    // The handshake by hand: hello in, proof out, welcome in.
    const frames = new MsgpackEncoder();
    const unframe = (payload: Uint8Array) => (decodeMsgpack(payload.subarray(4)) as unknown[])[1];
    const dialer = new DialerHandshake(SECRET);
    const hello = await within(ws.next(), 10_000, "the listener's hello");
    await ws.message(frames.encodeFrame([0, await dialer.answer(unframe(hello!.payload))]));
    await dialer.verify(unframe((await within(ws.next(), 10_000, "the welcome"))!.payload));
    // One byte over the bound is refused at the header, before any of the payload is read.
    await ws.header(maxFrame + 5);
    assert.equal(await within(ws.closeCode(), 10_000, "the listener to refuse the header"), 1009);
  } finally {
    ws.close();
    const report = await listener.stop();
    assert.equal(report.links, 1);
  }
});

Deno.test("the bound makes room by closing the oldest connection of the busiest address; a slow one is closed at the timeout", async () => {
  const pending = new PendingConnections({ max: 3, timeout: 100 });
  const a1 = pending.admit("10.0.0.1");
  const b1 = pending.admit("10.0.0.2");
  const b2 = pending.admit("10.0.0.2");
  const c1 = pending.admit("10.0.0.3");
  assert.deepEqual([a1, b1, b2, c1].map((s) => s.signal.aborted), [false, true, false, false]);
  assert.equal(b1.signal.reason.name, "AuthenticationError");
  assert.match(
    b1.signal.reason.message,
    /more than 3 connections were waiting to authenticate: the oldest from the busiest address \(10\.0\.0\.2\) was closed/,
  );
  assert.equal(pending.size, 3);
  a1.settle();
  b2.settle();
  b2.settle();
  assert.equal(pending.size, 1);
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(c1.signal.reason.message, "the handshake did not complete in time (100 ms)");
  assert.equal(pending.size, 0);
});
