// WebSocket control frames cannot grow a ws:// listener: a ping before authentication closes the
// connection (and pongs are allowed only a few), and once authenticated only the latest ping is
// answered while no further frame is read until its pong is out — a client that pings without
// reading is held back by TCP. The listener runs in its own process, its memory measured.
import assert from "node:assert/strict";
import { clientFrame, RawWs, SECRET, startListener } from "./_listener.ts";
import { MAX_CONTROL_BEFORE_AUTH } from "../../transports/_ws_server.ts";

Deno.test("ws: a ping before authentication closes the connection with 1008, and so do more than a few pongs", async () => {
  const listener = await startListener("ws://127.0.0.1:0/kraken", { timeout: 30_000 });
  const peers: RawWs[] = [];
  try {
    const pinger = await RawWs.open(listener.url);
    peers.push(pinger);
    await pinger.next(); // the listener's hello
    await pinger.write(clientFrame(9, new Uint8Array(8)));
    assert.equal(await pinger.closeCode(), 1008);

    const ponger = await RawWs.open(listener.url);
    peers.push(ponger);
    await ponger.next();
    for (let i = 0; i <= MAX_CONTROL_BEFORE_AUTH; i++) {
      await ponger.write(clientFrame(10, new Uint8Array(4)));
    }
    assert.equal(await ponger.closeCode(), 1008);
  } finally {
    peers.forEach((ws) => ws.close());
    const report = await listener.stop();
    assert.equal(report.refused.FrameError, 2);
  }
});

Deno.test("ws: a client that pings without reading gets only the latest ping answered and is held back by TCP; memory stays flat", async () => {
  const listener = await startListener("ws://127.0.0.1:0/kraken", { timeout: 30_000 });
  const ws = await RawWs.open(listener.url);
  try {
    await ws.authenticate(SECRET);
    const ping = clientFrame(9, new Uint8Array(125).fill(7));
    const burst = new Uint8Array(ping.length * 2000);
    for (let i = 0; i < 2000; i++) burst.set(ping, i * ping.length);
    const rssBefore = listener.rss();
    let peak = rssBefore;
    const watch = setInterval(() => (peak = Math.max(peak, listener.rss())), 50);
    // Up to 128 MiB of pings, for at most 3 s: once the listener stops reading, writes block.
    let sent = 0;
    const flooding = (async () => {
      while (sent < 128 * 2 ** 20) {
        await ws.write(burst);
        sent += burst.length;
      }
    })();
    const stalled = await Promise.race([
      flooding.then(() => false),
      new Promise<boolean>((r) => setTimeout(() => r(true), 3000)),
    ]);
    clearInterval(watch);
    const grown = peak - rssBefore;
    console.log(
      `ws: ${(sent / 2 ** 20).toFixed(1)} MiB of pings sent, listener grew by ${
        (grown / 2 ** 20).toFixed(1)
      } MiB`,
    );
    assert.ok(stalled, `the listener kept reading: ${sent} bytes of pings went through`);
    assert.ok(grown < 24 * 2 ** 20, `the listener grew by ${grown} bytes`);
    // What it answered is at most what fits in the socket buffers, not one pong per ping.
    ws.close();
    await flooding.catch(() => {});
  } finally {
    ws.close();
    await listener.stop();
  }
});
