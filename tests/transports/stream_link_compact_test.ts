// A compact stream link (a process container's) writes plain requests and replies as tuples and
// reads them back as the envelopes sent; a link to a peer runtime keeps maps; the frame limit
// still answers a request too large to send.
import assert from "node:assert/strict";
import type { Envelope } from "../../protocol/envelope.ts";
import { FrameDecoder } from "../../protocol/framing.ts";
import { decodeMsgpack, MsgpackEncoder } from "../../protocol/msgpack.ts";
import { StreamLink, type StreamLinkOptions } from "../../transports/stream_link.ts";

const body = { id: 3, payload: "x".repeat(80), when: new Date(0), bytes: new Uint8Array([1, 2]) };
const batch: Envelope[] = [
  { k: "req", i: 3, s: "host", to: "echo#0.1", t: "echo", b: body },
  { k: "req", i: 4, s: "host", to: "echo#0.1", t: "echo", b: body, r: 1 },
  { k: "res", i: 9, d: "p1", f: "echo#0.1", b: body },
  { k: "res", i: 10, d: "p1", f: "echo#0.1" },
  { k: "req", i: 5, s: "host", to: "echo#0.1", t: "echo", b: body, e: "user-1" },
  { k: "err", i: 6, d: "host", f: "echo#0.1", e: { name: "Error", message: "no" } },
  { k: "pong" },
];

/** The frames a link writes, kept, and the same bytes handed on to `into`. */
function tap(into: WritableStream<Uint8Array>, frames: unknown[][]): WritableStream<Uint8Array> {
  const decoder = new FrameDecoder();
  const writer = into.getWriter();
  return new WritableStream({
    async write(chunk) {
      for (const frame of decoder.push(chunk)) frames.push(decodeMsgpack(frame) as unknown[]);
      await writer.write(chunk);
    },
    close: () => writer.close(),
  });
}

/** Two links joined by in-memory pipes; `frames` gets what the first one writes, decoded. */
function pair(options: StreamLinkOptions) {
  const there = new TransformStream<Uint8Array, Uint8Array>();
  const back = new TransformStream<Uint8Array, Uint8Array>();
  const frames: unknown[][] = [];
  const near = new StreamLink(back.readable, tap(there.writable, frames), options);
  const far = new StreamLink(there.readable, back.writable, options);
  return { near, far, frames };
}

async function exchange(options: StreamLinkOptions) {
  const { near, far, frames } = pair(options);
  const received: Envelope[] = [];
  const got = new Promise<void>((resolve) => {
    far.onEnvelope = (env) => {
      received.push(env);
      if (received.length === batch.length) resolve();
    };
  });
  for (const env of batch) near.send(env);
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    got,
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error("timed out")), 5000))),
  ]);
  clearTimeout(timer);
  near.close();
  far.close();
  await Promise.all([near.closed, far.closed]);
  return { received, items: frames[0].slice(1) };
}

Deno.test("a compact stream link writes plain requests and replies as tuples and reads back the envelopes sent", async () => {
  const { received, items } = await exchange({ compact: true });
  assert.deepEqual(items.map((item) => Array.isArray(item)), [
    true,
    true,
    true,
    false,
    false,
    false,
    false,
  ]);
  assert.deepEqual(received, batch);
});

Deno.test("a stream link without compact (a peer runtime's) writes every envelope as a map", async () => {
  const { received, items } = await exchange({});
  assert.ok(items.every((item) => !Array.isArray(item)));
  assert.deepEqual(received, batch);
});

Deno.test("a compact stream link refuses an array that is no tuple, and stays up", async () => {
  const input = new TransformStream<Uint8Array, Uint8Array>();
  const link = new StreamLink(input.readable, new WritableStream(), { compact: true });
  const refused: string[] = [];
  const received: Envelope[] = [];
  link.onRefused = (problem) => void refused.push(problem);
  link.onEnvelope = (env) => void received.push(env);
  const writer = input.writable.getWriter();
  await writer.write(
    new MsgpackEncoder().encodeFrame([1, [0, 1, "w1"], [1, 2, "host", "echo#0.1", "ok"]]),
  );
  for (let i = 0; i < 100 && received.length === 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.deepEqual(received, [{ k: "res", i: 2, d: "host", f: "echo#0.1", b: "ok" }]);
  assert.equal(refused.length, 1);
  assert.match(refused[0], /item 0 .*no kind/);
  assert.equal(link.isClosed, false);
  await writer.close();
  assert.equal((await link.closed).kind, "eof");
});

Deno.test("a compact stream link still answers a request too large for a frame with a FrameError", async () => {
  const { near, far } = pair({ compact: true, maxFrame: 1024 });
  const answers: Envelope[] = [];
  const answered = new Promise<void>((resolve) => {
    near.onEnvelope = (env) => {
      answers.push(env);
      resolve();
    };
  });
  near.send({ k: "req", i: 1, s: "host", to: "echo#0.1", t: "echo", b: "x".repeat(4096) });
  await answered;
  assert.equal(answers[0].k, "err");
  assert.match((answers[0] as { e: { message: string } }).e.message, /exceed the link's maximum/);
  near.close();
  far.close();
  await Promise.all([near.closed, far.closed]);
});
