// A peer that holds the secret but sends pathological input (bodies nested too deep, unsupported
// msgpack, malformed envelopes, kinds a peer never sends, garbage frames) is refused at the edge:
// a request gets a FrameError saying why, anything else is dropped and counted, the link stays up,
// and no container ever sees it — so nothing fails and nothing restarts.
import assert from "node:assert/strict";
import { FrameError, Runtime } from "../../mod.ts";
import type { Envelope } from "../../protocol/envelope.ts";
import { FrameDecoder } from "../../protocol/framing.ts";
import { decodeMsgpack, MsgpackEncoder } from "../../protocol/msgpack.ts";
import { MAX_WIRE_DEPTH } from "../../protocol/wire_value.ts";
import { authenticate } from "../../transports/authenticated.ts";
import { FIXTURES, MODES, waitUntil } from "../_helpers.ts";

const SECRET = "edge-secret";
const encoder = new MsgpackEncoder();
const nest = (levels: number): unknown => levels === 0 ? 1 : [nest(levels - 1)];

/** A peer runtime spoken by hand: it authenticates, then writes any frame it likes. */
async function rawPeer(url: URL) {
  const conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
  const { readable, writable } = await authenticate(conn.readable, conn.writable, {
    secret: SECRET,
    role: "dialer",
  });
  const writer = writable.getWriter();
  const frames = new FrameDecoder();
  const received: Envelope[] = [];
  const reading = (async () => {
    for await (const chunk of readable) {
      for (const frame of frames.push(chunk)) {
        received.push(...(decodeMsgpack(frame) as Envelope[]).slice(1));
      }
    }
  })().catch(() => {});
  const payload = (bytes: Uint8Array) => {
    const frame = new Uint8Array(4 + bytes.length);
    new DataView(frame.buffer).setUint32(0, bytes.length);
    frame.set(bytes, 4);
    return writer.write(frame);
  };
  return {
    received,
    /** Envelopes as one batch frame (anything msgpack can carry, well formed or not). */
    send: (...envs: unknown[]) => writer.write(encoder.encodeFrame([1, ...envs])),
    /** A request whose body is `raw` msgpack bytes, as one frame. */
    sendRaw: (env: Record<string, unknown>, raw: number[]) => {
      const bytes = encoder.encode([1, { ...env, b: "@@" }]);
      const at = bytes.findIndex((_, n) => bytes[n] === 0xa2 && bytes[n + 1] === 0x40);
      return payload(new Uint8Array([...bytes.slice(0, at), ...raw, ...bytes.slice(at + 3)]));
    },
    /** One frame holding `bytes`, whatever they are. */
    payload,
    /** The answer to request `i`, once it came. */
    answer: async (i: number) => {
      const isIt = (e: Envelope) => (e.k === "res" || e.k === "err") && e.i === i;
      await waitUntil(() => received.some(isIt), 5_000, `the answer to request ${i}`);
      return received.find(isIt) as Extract<Envelope, { k: "res" | "err" }>;
    },
    async close() {
      await writer.close().catch(() => {});
      await reading;
      try {
        conn.close();
      } catch {
        // already closed with its streams
      }
    },
  };
}

async function startA(logs: string[]) {
  const rt = await Runtime.start({
    name: "shop",
    transports: { name: "a", listen: "tcp://127.0.0.1:0", secret: SECRET, keepalive: "2s" },
    containers: Object.fromEntries(MODES.map((mode) => [mode, { module: "./echo.ts", mode }])),
  }, { baseUrl: FIXTURES.href, logLevel: "warn", logger: (e) => logs.push(e.message) });
  const exits: string[] = [];
  rt.on("exit", (e) => exits.push(`${e.instance}: ${e.reason.message}`));
  return { rt, exits };
}

async function joined(url: URL, containers: string[] = []) {
  const peer = await rawPeer(url);
  await peer.send({ k: "join", n: "evil", c: containers });
  await waitUntil(() => peer.received.some((e) => e.k === "routes"), 5_000, "a's routes");
  return peer;
}

Deno.test("a request from a peer nested deeper than the wire rule allows is answered with a FrameError; no container sees it or restarts (inline, worker, process)", async () => {
  const logs: string[] = [];
  const { rt, exits } = await startA(logs);
  const peer = await joined(rt.listening!);
  try {
    let i = 0;
    for (const mode of MODES) {
      const to = `${mode}#0.1`;
      // The deepest body a sender accepts crosses, and can be echoed back.
      const deepest = nest(MAX_WIRE_DEPTH - 1);
      await peer.send({ k: "req", i: ++i, s: "host", to, t: "echo", b: deepest });
      assert.deepEqual(await peer.answer(i), { k: "res", i, d: "host", f: to, b: deepest });
      // One level more (70, as in the report) is refused at the edge, saying why.
      await peer.send({ k: "req", i: ++i, s: "host", to, t: "echo", b: nest(70) });
      const refused = await peer.answer(i) as Extract<Envelope, { k: "err" }>;
      assert.equal(refused.k, "err");
      assert.equal(refused.e.name, "FrameError");
      assert.equal(
        refused.e.message,
        `request "echo" refused: b${"[0]".repeat(MAX_WIRE_DEPTH)} is nested deeper than 64 levels`,
      );
      // A flood of them changes nothing: the same instance serves, its handler never ran.
      for (let n = 0; n < 50; n++) {
        await peer.send({ k: "req", i: ++i, s: "host", to, t: "count", b: nest(70), r: 1 });
      }
      await peer.send({ k: "req", i: ++i, s: "host", to, t: "count" });
      assert.deepEqual(await peer.answer(i), { k: "res", i, d: "host", f: to, b: 1 }, mode);
    }
    assert.deepEqual(exits, []);
    assert.ok(rt.tree().refused >= 153, `${rt.tree().refused}`);
    assert.equal(rt.tree().peers[0].state, "connected");
    assert.ok(logs.some((l) => l.startsWith("refused input from @evil: b[0]")), logs.join("\n"));
  } finally {
    await peer.close();
    await rt.shutdown();
  }
});

Deno.test("every other kind of pathological input from a peer is refused at the edge: requests answered, the rest dropped, the link up, nothing restarted", async () => {
  const logs: string[] = [];
  const { rt, exits } = await startA(logs);
  const news: unknown[] = [];
  rt.subscribe("news", (body) => news.push(body));
  const peer = await joined(rt.listening!);
  try {
    const req = (i: number, extra: Record<string, unknown> = {}) => ({
      k: "req",
      i,
      s: "host",
      to: "inline#0.1",
      t: "echo",
      ...extra,
    });
    // Requests that can be answered, each with its reason.
    const answered: [number, () => Promise<void>, RegExp][] = [
      [1, () => peer.sendRaw(req(1), [...Array(300).fill(0x91), 1]), /nested deeper than 64/],
      [2, () => peer.sendRaw(req(2), [0xd4, 0x05, 0x00]), /extension type 5 is not supported/],
      [3, () => peer.sendRaw(req(3), [0xa2, 0xff, 0xfe]), /is not valid UTF-8/],
      [4, () => peer.sendRaw(req(4), [0x81, 0x01, 0x02]), /map key at offset \d+ is not a string/],
      [5, () => peer.send(req(5, { to: 5 })), /field "to" is 5, expected a string/],
      [6, () => peer.send(req(6, { t: ["echo"] })), /field "t" is an array, expected a string/],
      [7, () => peer.send(req(7, { r: "yes" })), /field "r" is "yes", expected 1/],
    ];
    for (const [i, send, why] of answered) {
      await send();
      const answer = await peer.answer(i) as Extract<Envelope, { k: "err" }>;
      assert.equal(answer.e?.name, "FrameError", JSON.stringify(answer));
      assert.match(answer.e.message, why);
    }
    // Dropped: nothing to answer (or nobody to answer), but counted.
    const before = rt.tree().refused;
    await peer.send({ k: "req", i: "x", s: "host", to: "inline#0.1", t: "count" });
    await peer.send({ k: "init", s: { node: "host" } });
    await peer.send({ k: "down", n: "w1" });
    await peer.send({ k: "stop" });
    await peer.send({ k: "routes", r: { inline: { instances: 5 } } });
    await peer.send({ k: "log", l: "info", m: "x", c: 5 });
    await peer.send({ k: "res", i: 999, d: "host", b: nest(70) });
    await peer.send({ k: "err", i: 999, d: "host", e: null });
    await peer.send({ k: "pub", t: "news", b: nest(70) });
    await peer.send({ k: "send", to: "inline#0.1", t: "count", b: nest(70) });
    await peer.send(null, 5, { no: "kind" });
    await peer.payload(new Uint8Array([0xc1, 0xc1, 0xc1]));
    await peer.payload(encoder.encode("not a batch"));
    await waitUntil(() => rt.tree().refused >= before + 15, 3_000, "every refusal counted");
    // The link is up, the container untouched (its handler never ran), nothing was published.
    await peer.send(req(100, { t: "count" }));
    assert.deepEqual(await peer.answer(100), {
      k: "res",
      i: 100,
      d: "host",
      f: "inline#0.1",
      b: 1,
    });
    assert.deepEqual(news, []);
    assert.deepEqual(exits, []);
    assert.equal(rt.tree().peers[0].state, "connected");
    assert.ok(await rt.ref("worker").request("count") === 1, "the hub's routes are intact");
    // Large but lawful bodies (many tiny items, long strings) are not pathological: they cross.
    const big = {
      items: Array.from({ length: 200_000 }, (_, n) => n % 128),
      keys: Object.fromEntries(Array.from({ length: 20_000 }, (_, n) => [`k${n}`, n])),
      text: "x".repeat(2_000_000),
    };
    await peer.send(req(101, { b: big }));
    assert.deepEqual((await peer.answer(101)) as unknown, {
      k: "res",
      i: 101,
      d: "host",
      f: "inline#0.1",
      b: big,
    });
  } finally {
    await peer.close();
    await rt.shutdown();
  }
});

Deno.test("a reply from a peer whose body breaks the wire rule reaches its requester as a FrameError at once", async () => {
  const { rt, exits } = await startA([]);
  const peer = await joined(rt.listening!, ["fake"]);
  try {
    await peer.send({
      k: "routes",
      r: { fake: { balance: "round_robin", instances: [{ i: "fake#0.1", n: "host" }] } },
    });
    await waitUntil(() => rt.tree().peers[0].containers.includes("fake"), 3_000, "fake routed");
    const began = performance.now();
    const asked = rt.ref("fake").request("x", null, { timeout: 10_000 });
    await waitUntil(() => peer.received.some((e) => e.k === "req"), 3_000, "the request");
    const request = peer.received.find((e) => e.k === "req") as Extract<Envelope, { k: "req" }>;
    await peer.send({ k: "res", i: request.i, d: request.s, f: request.to, b: { x: nest(70) } });
    await assert.rejects(
      asked,
      (e: Error) =>
        e instanceof FrameError &&
        e.message === `reply refused: b.x${"[0]".repeat(63)} is nested deeper than 64 levels`,
    );
    assert.ok(performance.now() - began < 2_000, "at once, not at the timeout");
    assert.deepEqual(exits, []);
  } finally {
    await peer.close();
    await rt.shutdown();
  }
});
