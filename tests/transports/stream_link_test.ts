// Backpressure: a peer that stops reading never makes the sender's memory grow without bound —
// past its limit the link closes with a clear error.
import assert from "node:assert/strict";
import { UnavailableError } from "../../mod.ts";
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

Deno.test("StreamLink: under the limit, everything queued behind a slow write leaves in one frame", async () => {
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
