// Connections that have not authenticated are bounded on every socket listener: at most
// MAX_UNAUTHENTICATED wait at once (a flood is cut from its oldest connection while a legitimate
// peer still links), and a WebSocket message is bounded before it is read — one handshake frame
// before authentication, max_frame after — so memory stays flat. Real sockets, and a listener in
// its own process so its memory is measured apart from its attackers.
import assert from "node:assert/strict";
import { RawWs, SECRET, startListener } from "./_listener.ts";
import { within } from "../_wait.ts";
import { defaultTransports } from "../../transports/defaults.ts";
import { TransportSet } from "../../transports/transport_set.ts";
import { MAX_UNAUTHENTICATED } from "../../transports/_pending.ts";
import { PendingConnections } from "../../transports/_pending.ts";

/** The built-in transports, as a runtime given none uses them. */
const builtin = new TransportSet(defaultTransports());

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
    await ws.authenticate(SECRET);
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
