// Plain requests and replies cross a port as tuples (cheaper to clone than six-key objects) and
// arrive as the envelopes they were; whatever else crosses stays an object, and an array from the
// other side that is no tuple is refused as an item without a kind, the link staying up.
import assert from "node:assert/strict";
import type { Envelope } from "../../protocol/envelope.ts";
import { type MessageEndpoint, PortLink } from "../../transports/port_link.ts";

/** An endpoint that keeps what is posted and can play a message back. */
class Recorder implements MessageEndpoint {
  posted: unknown[] = [];
  onmessage: ((event: MessageEvent) => void) | null = null;
  postMessage(message: unknown): void {
    this.posted.push(message);
  }
  receive(data: unknown): void {
    this.onmessage?.(new MessageEvent("message", { data: structuredClone(data) }));
  }
}

const body = { id: 3, payload: "x".repeat(80) };
const batch: Envelope[] = [
  { k: "req", i: 3, s: "host", to: "echo#0.1", t: "echo", b: body },
  { k: "req", i: 4, s: "host", to: "echo#0.1", t: "echo", b: body, r: 1 },
  { k: "res", i: 9, d: "w1", f: "echo#0.1", b: body },
  { k: "req", i: 5, s: "host", to: "echo#0.1", t: "echo", b: body, e: "user-1" },
  { k: "err", i: 6, d: "host", f: "echo#0.1", e: { name: "Error", message: "no" } },
  { k: "pong" },
];

Deno.test("plain requests and replies cross a port as tuples and arrive as the envelopes sent", async () => {
  const near = new Recorder();
  const link = new PortLink(near);
  for (const env of batch) link.send(env);
  await Promise.resolve();
  const posted = near.posted[0] as unknown[];
  assert.deepEqual(posted.map((item) => Array.isArray(item)), [
    true,
    true,
    true,
    false,
    false,
    false,
  ]);

  const far = new Recorder();
  const other = new PortLink(far);
  const received: Envelope[] = [];
  other.onEnvelope = (env) => void received.push(env);
  far.receive(posted);
  assert.deepEqual(received, batch);
  link.close();
  other.close();
});

Deno.test("an array from the other side that is no tuple is refused and the link stays up", () => {
  const far = new Recorder();
  const link = new PortLink(far);
  const received: Envelope[] = [];
  const refused: string[] = [];
  link.onEnvelope = (env) => void received.push(env);
  link.onRefused = (problem) => void refused.push(problem);
  far.receive([[0, 1, "w1"], [1, 2, "host", "echo#0.1", "ok"], [5, 1, 2, 3, 4]]);
  assert.deepEqual(received, [{ k: "res", i: 2, d: "host", f: "echo#0.1", b: "ok" }]);
  assert.equal(refused.length, 2);
  assert.match(refused[0], /item 0 .*no kind/);
  assert.equal(link.isClosed, false);
  link.close();
});
