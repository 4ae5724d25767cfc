// Hostile input at a listening TCP endpoint: 10,000 connections each sending something a peer
// without the secret might — random bytes, truncated and oversize frames, invalid msgpack,
// envelopes before authentication, unknown kinds, forged proofs, floods. Every one must be
// refused (AuthenticationError or FrameError) and closed, memory must stay bounded, and a
// legitimate client must keep being served throughout.
import assert from "node:assert/strict";
import { readToEnd, readUntil, untilClosed } from "../_wait.ts";
import { MsgpackEncoder } from "../../protocol/msgpack.ts";
import { defaultTransports } from "../../transports/defaults.ts";
import { TransportSet } from "../../transports/transport_set.ts";

/** The built-in transports, as a runtime given none uses them. */
const builtin = new TransportSet(defaultTransports());

const SECRET = "fuzz-secret";
const CASES = Number(Deno.env.get("FUZZ_CASES") ?? 10_000);
const CONCURRENCY = 64;

const encoder = new MsgpackEncoder();
const frame = (value: unknown) => encoder.encodeFrame(value);
const rand = (n: number) => crypto.getRandomValues(new Uint8Array(n));
const int = (n: number) => Math.floor(Math.random() * n);

function u32(n: number): Uint8Array {
  return new Uint8Array([(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
}
function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const KINDS: [string, () => Uint8Array][] = [
  ["random bytes", () => rand(int(300))],
  [
    "truncated frame",
    () => frame([0, { k: "prove", nonce: rand(32), proof: rand(32) }]).slice(0, 1 + int(60)),
  ],
  ["length prefix of 4 GiB", () => concat(u32(0xffffffff), rand(int(16)))],
  ["oversize length prefix", () => concat(u32(4097 + int(1 << 30)), rand(8))],
  [
    "invalid msgpack",
    () => concat(u32(8), new Uint8Array([0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1])),
  ],
  ["envelope batch before auth", () => frame([1, { k: "req", i: 1, s: "x", to: "a#0.1", t: "t" }])],
  ["wrong envelope version", () => frame([7, { k: "send" }])],
  ["unknown handshake kind", () => frame([0, { k: "zzz" }])],
  ["forged proof", () => frame([0, { k: "prove", nonce: rand(32), proof: rand(32) }])],
  ["malformed proof", () => frame([0, { k: "prove", nonce: "x", proof: [1, 2] }])],
  ["a hello from the dialer", () => frame([0, { k: "hello", v: 1, nonce: rand(32) }])],
  [
    "flood of frames",
    () =>
      concat(
        ...Array.from(
          { length: 50 + int(200) },
          () => frame([1, { k: "pub", t: "x", b: rand(64) }]),
        ),
      ),
  ],
  ["nothing at all", () => new Uint8Array(0)],
];

/** One hostile WebSocket peer: its bytes as a binary message (or text), then it hangs up. */
async function hostileWs(url: string, bytes: Uint8Array, text: boolean): Promise<void> {
  const ws = new WebSocket(url);
  const closed = new Promise<void>((resolve) => {
    ws.onclose = () => resolve();
    ws.onerror = () => resolve();
  });
  await new Promise<void>((resolve) => {
    ws.onopen = () => resolve();
    closed.then(resolve);
  });
  if (ws.readyState === WebSocket.OPEN) {
    if (text) ws.send("not a frame");
    else if (bytes.length > 0) ws.send(bytes);
    ws.close();
  }
  await closed;
}

async function hostile(port: number, bytes: Uint8Array): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    if (bytes.length > 0) await conn.write(bytes).catch(() => {});
    await conn.closeWrite().catch(() => {});
    await untilClosed(conn, 10_000, "the listener to close a hostile connection");
  } finally {
    try {
      conn.close();
    } catch {
      // closed by the listener
    }
  }
}

function rssOf(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

for (const scheme of ["tcp", "ws"] as const) {
  Deno.test(`${scheme} listener under 10,000 hostile connections: each refused and closed, memory bounded, a legitimate client served throughout`, async () => {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--no-lock",
        new URL("../fixtures/echo_listener.ts", import.meta.url).pathname,
        SECRET,
        scheme === "ws" ? "ws://127.0.0.1:0/kraken" : "tcp://127.0.0.1:0",
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const listening = new URL(
      (await readUntil(lines, (t) => t.includes("\n"), 30_000, "the listener's URL").catch((e) => {
        child.kill("SIGKILL");
        throw e;
      })).trim(),
    );
    const port = Number(listening.port);
    const legit = await builtin.dial(listening, { secret: SECRET });
    let answered = 0;
    legit.onEnvelope = () => answered++;
    const tried = new Map<string, number>();
    let next = 0;
    let sent = 0;
    let rssWarm = 0;
    const worker = async () => {
      while (next < CASES) {
        const i = next++;
        const [name, make] = KINDS[i % KINDS.length];
        const text = scheme === "ws" && i % 26 === 25; // now and then a text frame instead
        const kind = text ? "text frame" : name;
        tried.set(kind, (tried.get(kind) ?? 0) + 1);
        if (scheme === "tcp") await hostile(port, make());
        else await hostileWs(listening.href, make(), text);
        if (i === CASES / 2) rssWarm = rssOf(child.pid);
        if (i % 100 === 0) {
          legit.send({ k: "send", to: "x#0.1", t: "ping", b: i });
          sent++;
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const end = performance.now() + 5000;
    while (answered < sent && performance.now() < end) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 200)); // the last refusals are being counted
    const rssEnd = rssOf(child.pid);
    legit.close();
    await legit.closed;
    await child.stdin.close();
    const out = (await readToEnd(lines, 15_000, "the listener's report").catch((e) => {
      child.kill("SIGKILL");
      throw e;
    })).join("");
    await child.status;
    const report = JSON.parse(out.trim()) as { refused: Record<string, number>; links: number };
    const refusedTotal = Object.values(report.refused).reduce((a, b) => a + b, 0);
    console.log(
      `fuzz: ${CASES} hostile connections tried (${
        [...tried].map(([k, n]) => `${k} ${n}`).join(", ")
      }); refused: ${
        Object.entries(report.refused).map(([k, n]) => `${k} ${n}`).join(", ")
      }; legitimate pings answered ${answered}/${sent}; listener RSS ${
        (rssWarm / 2 ** 20).toFixed(1)
      } MiB after ${CASES / 2} cases, ${(rssEnd / 2 ** 20).toFixed(1)} MiB after ${CASES}`,
    );
    assert.equal(refusedTotal, CASES, "every hostile connection was refused");
    assert.deepEqual(Object.keys(report.refused).sort(), ["AuthenticationError", "FrameError"]);
    assert.equal(report.links, 1, "only the legitimate client got a link");
    assert.equal(answered, sent);
    assert.ok(rssEnd < 256 * 2 ** 20, `the listener's RSS reached ${rssEnd} bytes`);
  });
}
