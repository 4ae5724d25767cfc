// HTTP serving paths: the fast path (Deno's internal per-connection server) by default, and
// `Deno.serveHttp` with `serve: { websocket: true }`; the bounds on idle and slow connections.
import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import { bootHttpServer, chooseHttpServer } from "../../runtime/_serve_fast.ts";
import {
  fastConnection,
  HttpConnections,
  type ServeConnection,
  serveHttpConnection,
} from "../../runtime/_serve_http.ts";

const base = new URL("./fixtures/", import.meta.url).href;

Deno.test("the HTTP server is the fast path if Deno has it, else Deno.serveHttp, else Deno.serve; websocket: true skips the fast path", () => {
  const internal = Symbol("Deno.internal");
  const fast = () => {};
  const full = { [internal]: { serveHttpOnConnection: fast }, serveHttp: () => {} };
  assert.equal(chooseHttpServer(full, false).kind, "fast");
  assert.equal(chooseHttpServer(full, true).kind, "conn");
  assert.equal(chooseHttpServer({ [internal]: {}, serveHttp: () => {} }, false).kind, "conn");
  assert.equal(chooseHttpServer({ [internal]: null }, false).kind, "serve");
  assert.equal(chooseHttpServer({}, true).kind, "serve");
  // This Deno (2.9.6) has the fast path; if a release drops it, this says so.
  assert.equal(bootHttpServer(false).kind, "fast");
  assert.equal(bootHttpServer(true).kind, "conn");
});

Deno.test("the fast path is the one chosen at boot: replacing Deno[Deno.internal] later changes nothing", () => {
  const key = Object.getOwnPropertySymbols(Deno).find((s) => s.description === "Deno.internal")!;
  const internal = (Deno as unknown as Record<symbol, Record<string, unknown>>)[key];
  const original = internal.serveHttpOnConnection;
  internal.serveHttpOnConnection = () => {
    throw new Error("tampered");
  };
  try {
    const choice = bootHttpServer(false);
    assert.equal(choice.kind, "fast");
    assert.equal(choice.kind === "fast" && choice.serve, original);
  } finally {
    internal.serveHttpOnConnection = original;
  }
});

for (const mode of ["inline", "worker"] as const) {
  Deno.test(`[${mode}] a WebSocket upgrade on a container without websocket: true gets a 500 naming the key; with it the WebSocket works`, async () => {
    const rt = await Runtime.start({
      containers: {
        plain: { module: "./ws_echo.ts", mode, serve: { port: 0, hostname: "127.0.0.1" } },
        ws: {
          module: "./ws_echo.ts",
          mode,
          serve: { port: 0, hostname: "127.0.0.1", websocket: true },
        },
      },
    }, { logLevel: "silent", baseUrl: base });
    try {
      const refused = await fetch(`http://127.0.0.1:${rt.serving("plain")!.port}/`, {
        headers: {
          upgrade: "websocket",
          connection: "Upgrade",
          "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
          "sec-websocket-version": "13",
        },
      });
      assert.equal(refused.status, 500);
      const body = await refused.json();
      assert.equal(body.error, "TypeError");
      assert.equal(
        body.message,
        'container "plain" serves with `websocket: false`; a WebSocket upgrade needs `serve: { websocket: true }` in the topology',
      );
      const socket = new WebSocket(`ws://127.0.0.1:${rt.serving("ws")!.port}/`);
      try {
        const message = new Promise<string>((resolve, reject) => {
          socket.onmessage = (event) => resolve(String(event.data));
          socket.onerror = () => reject(new Error("the WebSocket failed"));
        });
        await new Promise((resolve, reject) => {
          socket.onopen = resolve;
          socket.onerror = () => reject(new Error("the WebSocket did not open"));
        });
        socket.send("hi");
        assert.equal(await message, "ws#0.1: hi");
        // Still open after the exchange (the fast path's server would have ended it: 1005).
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.equal(socket.readyState, WebSocket.OPEN);
      } finally {
        const closed = new Promise((resolve) => (socket.onclose = resolve));
        socket.close();
        await closed;
      }
    } finally {
      await rt.shutdown();
    }
  });
}

/** Resolves with how long after `since` the server closed `conn` (reads until EOF), bounded. */
async function closedAfter(conn: Deno.Conn, since: number, boundMs: number): Promise<number> {
  const buf = new Uint8Array(4096);
  const timer = setTimeout(() => conn.close(), boundMs);
  try {
    while ((await conn.read(buf).catch(() => null)) !== null) {
      // a response, or nothing yet
    }
    return performance.now() - since;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the bound above
    }
  }
}

const servers: [string, ServeConnection][] = [];
const fast = bootHttpServer(false);
if (fast.kind === "fast") servers.push(["fast path", fastConnection(fast.serve)]);
const conn = bootHttpServer(true);
if (conn.kind === "conn") servers.push(["Deno.serveHttp", serveHttpConnection(conn.serve)]);

for (const [name, serve] of servers) {
  Deno.test(`[${name}] a connection that sends no request head in time, or idles too long after one, is closed; the listener keeps serving`, async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const http = new HttpConnections(listener, serve, () => new Response("ok"), {
      error() {},
      acceptFailed() {},
      answered() {},
      upgraded() {},
    }, { firstRequestMs: 300, idleMs: 700 });
    const { port } = listener.addr;
    const connect = () => Deno.connect({ hostname: "127.0.0.1", port });
    try {
      const t0 = performance.now();
      const [silent, slow, idle] = await Promise.all([connect(), connect(), connect()]);
      // Half a request head, then nothing (slowloris).
      await slow.write(new TextEncoder().encode("GET / HTTP/1.1\r\nhost: x\r\n"));
      await idle.write(new TextEncoder().encode("GET / HTTP/1.1\r\nhost: x\r\n\r\n"));
      const [silentMs, slowMs, idleMs] = await Promise.all([
        closedAfter(silent, t0, 2500),
        closedAfter(slow, t0, 2500),
        closedAfter(idle, t0, 2500),
      ]);
      for (const [what, ms] of [["silent", silentMs], ["slow", slowMs]] as const) {
        assert.ok(ms >= 290 && ms < 650, `the ${what} connection was closed after ${ms} ms`);
      }
      assert.ok(
        idleMs >= 690 && idleMs < 1200,
        `the idle connection was closed after ${idleMs} ms`,
      );
      assert.equal(http.size, 0);
      const response = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal(await response.text(), "ok");
    } finally {
      http.close();
      await http.drain();
    }
  });
}

for (const [name, serve] of servers) {
  Deno.test(`[${name}] a response still streaming past the idle bound is not cut`, async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const http = new HttpConnections(
      listener,
      serve,
      () => {
        let i = 0;
        const body = new ReadableStream<Uint8Array>({
          async pull(controller) {
            await new Promise((resolve) => setTimeout(resolve, 100));
            controller.enqueue(new TextEncoder().encode(`${i}\n`));
            if (++i === 8) controller.close();
          },
        });
        return new Response(body);
      },
      { error() {}, acceptFailed() {}, answered() {}, upgraded() {} },
      {
        firstRequestMs: 200,
        idleMs: 300,
      },
    );
    try {
      const response = await fetch(`http://127.0.0.1:${listener.addr.port}/`);
      assert.equal(await response.text(), "0\n1\n2\n3\n4\n5\n6\n7\n");
    } finally {
      http.close();
      await http.drain();
    }
  });
}
