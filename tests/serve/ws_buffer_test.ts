// A WebSocket client that never reads cannot make a serving container queue without bound: past
// MAX_WS_BUFFERED unsent bytes the socket is closed with 1008 (attack finding: 1.5 GiB queued).
import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import { MAX_WS_BUFFERED, MAX_WS_BUFFERED_TOTAL } from "../../runtime/_serve.ts";

const FIREHOSE = new URL("./fixtures/ws_firehose.ts", import.meta.url).href;

for (const mode of ["inline", "worker"] as const) {
  Deno.test(`[${mode}] a WebSocket whose client never reads is closed (1008) once ${MAX_WS_BUFFERED >> 20} MiB wait unsent`, async () => {
    const rt = await Runtime.start({
      containers: {
        hose: {
          module: FIREHOSE,
          mode,
          serve: { port: 0, hostname: "127.0.0.1", websocket: true },
          shutdown: "1s",
        },
      },
    }, { logLevel: "error" });
    const { port } = rt.serving("hose")!;
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await conn.write(new TextEncoder().encode(
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      ));
      // Reads nothing from here on.
      type State = { sent: number; stopped: boolean; readyState: number };
      let state: State = { sent: 0, stopped: false, readyState: 0 };
      const end = performance.now() + 15_000;
      while (!state.stopped && performance.now() < end) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        state = await rt.ref("hose").request("state") as State;
      }
      // The close frame waits behind what the client never read: the socket is CLOSING, and every
      // later send is dropped; its bytes are no longer queued here.
      assert.ok(state.stopped, `still open after sending ${state.sent} MiB`);
      assert.equal(state.readyState, WebSocket.CLOSING);
      assert.ok(
        state.sent >= MAX_WS_BUFFERED >> 20 && state.sent < 64,
        `${state.sent} MiB sent before it was closed`,
      );
    } finally {
      conn.close();
      await rt.shutdown();
    }
  });
}

Deno.test("[worker] many WebSocket clients that never read, each under the per-socket cap, are bounded together: the ones furthest behind are closed", async () => {
  const rt = await Runtime.start({
    containers: {
      hose: {
        module: FIREHOSE,
        mode: "worker",
        serve: { port: 0, hostname: "127.0.0.1", websocket: true },
        shutdown: "1s",
        config: { perSocket: 15 }, // 15 MiB each: under the 16 MiB cap of one socket
      },
    },
  }, { logLevel: "error" });
  const { port } = rt.serving("hose")!;
  const conns: Deno.Conn[] = [];
  const clients = 24;
  try {
    for (let i = 0; i < clients; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conns.push(conn);
      await conn.write(new TextEncoder().encode(
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      ));
    }
    type State = { open: number; ends: { open: boolean; queued: number }[] };
    let state: State = { open: clients, ends: [] };
    const end = performance.now() + 15_000;
    while (state.ends.length < clients && performance.now() < end) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      state = await rt.ref("hose").request("state") as State;
    }
    assert.equal(state.ends.length, clients, `${clients - state.ends.length} senders still going`);
    // 24 × 15 MiB would stay queued here without the replica's total (less what the kernel's
    // socket buffers took); with it, the sockets furthest behind were closed and what the open
    // ones hold, at one instant, fits the total.
    const now = await rt.ref("hose").request("now") as { open: number; queued: number };
    assert.ok(now.open < clients, "no socket was closed");
    assert.ok(
      now.queued <= MAX_WS_BUFFERED_TOTAL + (1 << 20),
      `${(now.queued / 2 ** 20).toFixed(1)} MiB queued for ${now.open} open sockets`,
    );
  } finally {
    for (const conn of conns) conn.close();
    await rt.shutdown();
  }
});
