// Backpressure: a peer that stops reading never makes the sender's memory grow without bound —
// past its limit the link closes with a clear error.
import assert from "node:assert/strict";
import { waitUntil } from "../_wait.ts";
import { FrameError, UnavailableError } from "../../mod.ts";
import { MsgpackEncoder } from "../../protocol/msgpack.ts";
import { StreamLink } from "../../transports/stream_link.ts";

Deno.test("StreamLink: a peer that never takes a write closes the link once the queue limit is passed", async () => {
  let writes = 0;
  let release!: () => void;
  const stuck = new Promise<void>((resolve) => (release = resolve));
  const writable = new WritableStream<Uint8Array>({
    write() {
      writes++;
      return stuck; // the peer never reads
    },
  });
  const readable = new ReadableStream<Uint8Array>({ pull() {} }); // and never talks
  const link = new StreamLink(readable, writable, { maxQueued: 1000 });
  for (let turn = 0; turn < 20; turn++) {
    for (let i = 0; i < 100; i++) link.send({ k: "pub", t: "x", b: i });
    await Promise.resolve();
  }
  const closed = await link.closed;
  assert.equal(closed.kind, "error");
  assert.ok(closed.error instanceof UnavailableError);
  assert.match(
    closed.error.message,
    /the peer reads too slowly: 1\d{3} envelopes were waiting to be written \(limit 1000\)/,
  );
  assert.equal(writes, 1, "one write in flight, the rest queued until the limit");
  link.send({ k: "pub", t: "x" }); // dropped: the link is closed
  release();
});

Deno.test("StreamLink: a peer that never takes a write closes the link once the queued bytes pass their limit, whatever the count", async () => {
  let writes = 0;
  const writable = new WritableStream<Uint8Array>({
    write() {
      writes++;
      return new Promise<void>(() => {}); // the peer never reads
    },
  });
  const link = new StreamLink(new ReadableStream({ pull() {} }), writable, {
    maxQueuedBytes: 4 * 2 ** 20,
  });
  const body = new Uint8Array(512 * 1024);
  for (let turn = 0; turn < 20 && !link.isClosed; turn++) {
    link.send({ k: "res", i: turn, d: "h", f: "x#0.1", b: body });
    await Promise.resolve();
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const closed = await Promise.race([
    link.closed,
    new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), 1000))),
  ]);
  clearTimeout(timer);
  link.close();
  assert.equal(closed?.kind, "error", "closed for its queue");
  assert.match(
    closed!.error!.message,
    /^the peer reads too slowly: \d+ bytes were waiting to be written \(limit 4194304\); link closed$/,
  );
  assert.equal(writes, 1);
});

Deno.test("StreamLink: under the limit, everything queued behind a slow write leaves in one write", async () => {
  const frames: Uint8Array[] = [];
  let release!: () => void;
  let first = true;
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      frames.push(chunk.slice());
      if (!first) return;
      first = false;
      return new Promise<void>((resolve) => (release = resolve));
    },
  });
  const link = new StreamLink(new ReadableStream({ pull() {} }), writable, { maxQueued: 1000 });
  link.send({ k: "pub", t: "first" });
  await new Promise((r) => setTimeout(r, 0));
  for (let turn = 0; turn < 5; turn++) {
    for (let i = 0; i < 100; i++) link.send({ k: "pub", t: "x", b: i });
    await new Promise((r) => setTimeout(r, 0));
  }
  release();
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(frames.length, 2, "500 envelopes queued behind the first write left together");
  link.close();
  assert.equal((await link.closed).kind, "closed");
});

/** Two StreamLinks wired back to back through in-memory pipes; `frames` sees every A→B write. */
function linkedPair(maxFrame: number) {
  const aToB = new TransformStream<Uint8Array, Uint8Array>();
  const bToA = new TransformStream<Uint8Array, Uint8Array>();
  const writes: number[] = [];
  const counted = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      writes.push(chunk.length - 4);
      controller.enqueue(chunk);
    },
  });
  counted.readable.pipeTo(aToB.writable).catch(() => {});
  const a = new StreamLink(bToA.readable, counted.writable, { maxFrame });
  const b = new StreamLink(aToB.readable, bToA.writable, { maxFrame });
  const close = async () => {
    a.close();
    b.close();
    await Promise.all([a.closed, b.closed]);
  };
  return { a, b, writes, close };
}

Deno.test("StreamLink: a burst larger than the maximum frame leaves as several frames, all delivered in order", async () => {
  const maxFrame = 64 * 1024;
  const { a, b, writes, close } = linkedPair(maxFrame);
  const got: number[] = [];
  const all = Promise.withResolvers<void>();
  b.onEnvelope = (env) => {
    got.push((env as { b: number }).b);
    if (got.length === 20_000) all.resolve();
  };
  // ~580 KB in one turn: one frame would be 9 times the peer's limit.
  for (let i = 0; i < 20_000; i++) a.send({ k: "send", to: "x#0.1", t: "tick", b: i });
  await all.promise;
  assert.deepEqual(got, [...Array(20_000).keys()]);
  assert.ok(writes.length >= 10, `${writes.length} frames`);
  assert.ok(writes.every((n) => n <= maxFrame), `largest ${Math.max(...writes)}`);
  assert.equal(a.isClosed || b.isClosed, false);
  await close();
});

Deno.test("StreamLink: a request too large for a frame is answered with a FrameError at its sender; the link stays up", async () => {
  const { a, b, close } = linkedPair(64 * 1024);
  const atA: unknown[] = [];
  const atB: unknown[] = [];
  a.onEnvelope = (env) => atA.push(env);
  b.onEnvelope = (env) => atB.push(env);
  a.send({ k: "req", i: 7, s: "h", to: "x#0.1", t: "upload", b: new Uint8Array(100_000) });
  a.send({ k: "send", to: "x#0.1", t: "small" });
  await waitUntil(
    () => atA.length >= 1 && atB.length >= 1,
    5000,
    "the error at A and the send at B",
  );
  assert.deepEqual(atA, [{
    k: "err",
    i: 7,
    d: "h",
    f: "x#0.1",
    e: {
      name: "FrameError",
      kind: "frame",
      message:
        'request "upload" not sent: 100039 bytes exceed the link\'s maximum frame of 65536 bytes',
    },
  }]);
  assert.deepEqual(atB, [{ k: "send", to: "x#0.1", t: "small" }], "only the small one crossed");
  await close();
});

Deno.test("StreamLink: a reply too large becomes an error reply; another envelope too large is reported and dropped", async () => {
  const { a, b, close } = linkedPair(64 * 1024);
  const atB: unknown[] = [];
  b.onEnvelope = (env) => atB.push(env);
  const dropped: string[] = [];
  a.onOversize = (env, size) => dropped.push(`${env.k} ${size}`);
  a.send({ k: "res", i: 3, d: "p1", f: "x#0.1", b: "y".repeat(70_000) });
  a.send({ k: "pub", t: "news", b: "z".repeat(70_000) });
  a.send({ k: "pub", t: "news", b: "fits" });
  await waitUntil(() => atB.length >= 2, 5000, "two envelopes at B");
  assert.deepEqual(atB, [
    { k: "pub", t: "news", b: "fits" },
    {
      k: "err",
      i: 3,
      d: "p1",
      f: "x#0.1",
      e: {
        name: "FrameError",
        kind: "frame",
        message: "reply not sent: 70030 bytes exceed the link's maximum frame of 65536 bytes",
      },
    },
  ]);
  assert.deepEqual(dropped, ["pub 70021"]);
  await close();
});

Deno.test("StreamLink: a well-framed frame that holds no envelope batch is dropped and reported; the link stays up", async () => {
  const toB = new TransformStream<Uint8Array, Uint8Array>();
  const b = new StreamLink(toB.readable, new WritableStream());
  const got: unknown[] = [];
  const refused: string[] = [];
  b.onEnvelope = (env) => got.push(env);
  b.onRefused = (problem) => refused.push(problem);
  const encoder = new MsgpackEncoder();
  const writer = toB.writable.getWriter();
  const frame = (payload: number[]) => new Uint8Array([0, 0, 0, payload.length, ...payload]);
  await writer.write(frame([0xc1, 0xc1])); // not msgpack at all
  await writer.write(encoder.encodeFrame("hello")); // msgpack, not a batch
  await writer.write(encoder.encodeFrame([9, { k: "pub", t: "x" }])); // another version
  await writer.write(encoder.encodeFrame([1, 5, { t: "no kind" }, { k: "pub", t: "ok" }]));
  await writer.write(encoder.encodeFrame([1, { k: "pub", t: "after" }]));
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(got, [{ k: "pub", t: "ok" }, { k: "pub", t: "after" }]);
  assert.equal(refused.length, 5, refused.join("\n"));
  assert.match(refused[0], /^a frame of 2 bytes cannot be decoded: msgpack byte 0xc1 at offset 0/);
  assert.match(refused[1], /is not an envelope batch of version 1 \(got string\)/);
  assert.match(refused[2], /\(got version 9\)/);
  assert.equal(refused[3], "item 0 of a batch is not an envelope (it has no kind)");
  assert.equal(b.isClosed, false);
  // A broken length prefix still closes it: past that, the framing is lost.
  await writer.write(new Uint8Array([0xff, 0xff, 0xff, 0xff]));
  const closed = await b.closed;
  assert.equal(closed.kind, "error");
  assert.ok(closed.error instanceof FrameError);
  await writer.close().catch(() => {});
});
