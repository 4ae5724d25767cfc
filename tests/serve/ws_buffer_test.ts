// A WebSocket client that never reads cannot make a serving container queue without bound: past
// MAX_WS_BUFFERED unsent bytes the socket is closed with 1008 (attack finding: 1.5 GiB queued).
import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import { MAX_WS_BUFFERED } from "../../runtime/_serve.ts";

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
