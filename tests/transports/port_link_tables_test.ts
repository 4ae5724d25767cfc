// A routing table sent over many port links is encoded once: every link posts the same bytes (a
// structured clone per link made a broadcast quadratic in the nodes), and each side gets the table
// back whole; bytes that do not decode arrive as a table-less `routes`, which the edge refuses.
import assert from "node:assert/strict";
import type { Envelope, RouteTable } from "../../protocol/envelope.ts";
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

const table: RouteTable = {
  echo: { instances: [{ id: "echo#0.1", n: "w1" }] },
  greeter: { instances: [{ id: "greeter#0.1", n: "w2" }, { id: "greeter#1.1", n: "p3" }] },
} as unknown as RouteTable;

Deno.test("a routing table sent to many port links is encoded once and arrives whole", async () => {
  const ends = Array.from({ length: 5 }, () => new Recorder());
  const links = ends.map((end) => new PortLink(end));
  const env: Envelope = { k: "routes", r: table };
  for (const link of links) link.send(env);
  await Promise.resolve();
  const posted = ends.map((end) => (end.posted[0] as { rb?: Uint8Array }[])[0].rb);
  assert.ok(posted[0] instanceof Uint8Array, "bytes, not a clone of the table");
  assert.ok(posted.every((bytes) => bytes === posted[0]), "the same bytes for every link");

  const received: Envelope[] = [];
  const far = new Recorder();
  const link = new PortLink(far);
  link.onEnvelope = (e) => void received.push(e);
  far.receive(ends[0].posted[0]);
  far.receive([{ k: "routes", rb: new Uint8Array([0xc1]) }]);
  assert.deepEqual(received[0], { k: "routes", r: table });
  assert.deepEqual(received[1], { k: "routes" }, "undecodable: no table");
  for (const l of [...links, link]) l.close();
});
