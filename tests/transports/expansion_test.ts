// A lawful frame cannot make a listener build more than its decoder's object budget: a frame of
// one-byte empty maps (16 MiB of them would take 1 GiB of heap once decoded) is refused at the
// edge like any frame that holds no batch — the link stays up and the listener, given a 256 MiB
// heap here, keeps serving. Real sockets; the listener in its own process.
import assert from "node:assert/strict";
import { SECRET, startListener } from "./_listener.ts";
import { authenticate } from "../../transports/authenticated.ts";
import { MsgpackEncoder } from "../../protocol/msgpack.ts";
import { FrameDecoder } from "../../protocol/framing.ts";
import { decodeMsgpack } from "../../protocol/msgpack.ts";

/** A frame `[1, {k: "pub", t: "x", b: [{} × n]}]`: a publication whose body is n empty maps. */
function expandingFrame(n: number): Uint8Array {
  const head = [0x92, 0x01, 0x83, 0xa1, 0x6b, 0xa3, 0x70, 0x75, 0x62, 0xa1, 0x74, 0xa1, 0x78];
  const body = [0xa1, 0x62, 0xdd, n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  const payload = new Uint8Array(head.length + body.length + n).fill(0x80);
  payload.set(head);
  payload.set(body, head.length);
  const frame = new Uint8Array(4 + payload.length);
  new DataView(frame.buffer).setUint32(0, payload.length);
  frame.set(payload, 4);
  return frame;
}

Deno.test("tcp: frames of 16 million empty maps are refused whole at the edge; the link stays up and the listener (256 MiB heap) keeps serving", async () => {
  const listener = await startListener("tcp://127.0.0.1:0", { timeout: 5000, heapMiB: 256 });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(listener.url.port) });
  try {
    const streams = await authenticate(conn.readable, conn.writable, {
      secret: SECRET,
      role: "dialer",
    });
    const writer = streams.writable.getWriter();
    const frame = expandingFrame(16 * 2 ** 20 - 64);
    for (let i = 0; i < 2; i++) await writer.write(frame);
    // Then a lawful envelope on the same link: echoed back once the frames above were refused.
    await writer.write(new MsgpackEncoder().encodeFrame([1, { k: "pub", t: "after", b: 1 }]));
    const frames = new FrameDecoder();
    const reader = streams.readable.getReader();
    let echoed: unknown;
    const deadline = setTimeout(() => reader.cancel(), 30_000);
    while (echoed === undefined) {
      const { value, done } = await reader.read();
      if (done) break;
      for (const payload of frames.push(value)) echoed = decodeMsgpack(payload);
    }
    clearTimeout(deadline);
    assert.deepEqual(echoed, [1, { k: "pub", t: "after", b: 1 }], "the link stayed up");
    reader.releaseLock();
    writer.releaseLock();
  } finally {
    conn.close();
    const report = await listener.stop();
    assert.equal(report.inputRefused.length, 2);
    assert.match(
      report.inputRefused[0],
      /^a frame of 16777172 bytes cannot be decoded: msgpack value builds more than 1048576 objects/,
    );
  }
});
