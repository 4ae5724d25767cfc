// A WebSocket message over the container's `serve: { max_message }` (default 1 MiB) closes the
// socket with 1009 before the container sees it (attack finding: 32 MiB messages reached the game's
// handler whole, copied, before its own 256-byte check).
import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import { DEFAULT_WS_MAX_MESSAGE } from "../../runtime/_serve.ts";
import { within } from "../_helpers.ts";

const ECHO = new URL("./fixtures/ws_echo.ts", import.meta.url).href;

/** Opens a WebSocket to `port`, sends each of `messages` after the previous one's echo. */
async function exchange(
  port: number,
  messages: string[],
): Promise<{ echoed: string[]; code: number; reason: string }> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
  const echoed: string[] = [];
  const closed = Promise.withResolvers<{ code: number; reason: string }>();
  socket.onclose = (event) => closed.resolve({ code: event.code, reason: event.reason });
  let next = 0;
  const sendNext = () => {
    if (next < messages.length) socket.send(messages[next++]);
  };
  socket.onopen = sendNext;
  socket.onmessage = (event) => {
    echoed.push(String(event.data));
    sendNext();
  };
  try {
    const { code, reason } = await within(closed.promise, 15_000, "the socket to be closed");
    return { echoed, code, reason };
  } finally {
    if (socket.readyState !== WebSocket.CLOSED) socket.close();
  }
}

async function withEcho(
  mode: "inline" | "worker" | "process",
  serve: Record<string, unknown>,
  fn: (port: number) => Promise<void>,
): Promise<void> {
  const rt = await Runtime.start({
    containers: {
      echo: {
        module: ECHO,
        mode,
        serve: { port: 0, hostname: "127.0.0.1", websocket: true, ...serve },
        shutdown: "1s",
      },
    },
  }, { logLevel: "error" });
  try {
    await fn(rt.serving("echo")!.port);
  } finally {
    await rt.shutdown();
  }
}

for (const mode of ["inline", "worker", "process"] as const) {
  Deno.test(`[${mode}] a WebSocket message of max_message bytes is handled; one byte more closes the socket with 1009 unseen by the container`, async () => {
    await withEcho(mode, { max_message: "4KiB" }, async (port) => {
      // 1365 "€" are 4095 bytes of UTF-8 and one more is 4098: the bound counts bytes, not
      // characters.
      const { echoed, code, reason } = await exchange(port, [
        "a".repeat(4096),
        "€".repeat(1365),
        "€".repeat(1366),
        "never sent: the socket is closed by then",
      ]);
      assert.equal(echoed.length, 2, "only the two messages within the bound are echoed");
      assert.equal(code, 1009);
      assert.match(reason, /message too big: expected at most 4096 bytes/);
    });
  });
}

Deno.test(`[worker] without max_message a WebSocket message over ${DEFAULT_WS_MAX_MESSAGE >> 20} MiB closes the socket with 1009`, async () => {
  await withEcho("worker", {}, async (port) => {
    const { echoed, code } = await exchange(port, [
      "a".repeat(DEFAULT_WS_MAX_MESSAGE),
      "a".repeat(DEFAULT_WS_MAX_MESSAGE + 1),
    ]);
    assert.equal(echoed.length, 1);
    assert.equal(code, 1009);
  });
});
