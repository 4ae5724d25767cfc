// Canaries for the two Deno facts (checked on Deno 2.9.6) that keep a serving container on
// `Deno.serveHttp` per connection (runtime/_serve_http.ts), about half as fast as a bare
// `Deno.serve`, instead of one of Deno's faster servers. When one of these fails, Deno changed:
// re-measure the faster path (bench/serve.ts: `bare:http-conn-internal`, `bare:http`) and revisit
// the choice (docs/serving.md, "Why not Deno.serve").
import assert from "node:assert/strict";

const REQUEST = new TextEncoder().encode("GET / HTTP/1.1\r\nhost: x\r\n\r\n");

/** The first line of what `conn` answers, or "EOF" if it closes first; bounded by 2 s. */
async function firstLine(conn: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(1024);
  const timeout = AbortSignal.timeout(2_000);
  const n = await Promise.race([
    conn.read(buf).catch(() => null),
    new Promise<null>((resolve) => timeout.addEventListener("abort", () => resolve(null))),
  ]);
  if (timeout.aborted) return "timeout";
  return n === null ? "EOF" : new TextDecoder().decode(buf.subarray(0, n)).split("\r\n")[0];
}

type ServeOnConnection = (
  conn: Deno.Conn,
  signal: AbortSignal | undefined,
  handler: (request: Request) => Response,
  onError: () => Response,
  onListen: () => void,
) => { finished: Promise<void> };

Deno.test("Deno's internal per-connection server ends a WebSocket as soon as its upgrade completes", async (t) => {
  const key = Object.getOwnPropertySymbols(Deno).find((s) => s.description === "Deno.internal");
  const internal = key ? (Deno as unknown as Record<symbol, Record<string, unknown>>)[key] : null;
  const serveOn = internal?.serveHttpOnConnection as ServeOnConnection | undefined;
  if (typeof serveOn !== "function") {
    // Gone from this Deno: nothing to revisit on that side.
    await t.step({ name: "serveHttpOnConnection is absent here", ignore: true, fn: () => {} });
    return;
  }
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let finished: Promise<void> = Promise.resolve();
  const serverClosed = Promise.withResolvers<number>();
  const accepted = (async () => {
    const conn = await listener.accept();
    finished = serveOn(
      conn,
      undefined,
      (request) => {
        const { socket, response } = Deno.upgradeWebSocket(request);
        socket.onclose = (event) => serverClosed.resolve(event.code);
        return response;
      },
      () => new Response(null, { status: 500 }),
      () => {},
    ).finished;
  })();
  const ws = new WebSocket(`ws://127.0.0.1:${listener.addr.port}/`);
  const clientClosed = Promise.withResolvers<void>();
  ws.onclose = () => clientClosed.resolve();
  ws.onerror = () => {};
  const bound = setTimeout(() => {
    serverClosed.resolve(-1);
    ws.close();
  }, 2_000);
  try {
    await accepted;
    // Nothing on either side closes the socket: if it ends, the server ended it.
    assert.equal(
      await serverClosed.promise,
      1005,
      "Deno no longer ends a WebSocket at its upgrade here: re-measure its per-connection server " +
        "for runtime/_serve_http.ts (docs/serving.md, 'Why not Deno.serve')",
    );
    await clientClosed.promise;
    await finished;
  } finally {
    clearTimeout(bound);
    listener.close();
  }
});

Deno.test("Deno.serve's shutdown closes an accepted connection whose request comes a moment later", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("ok"),
  );
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  try {
    // Accepted by the server (its accept loop is eager), no request yet.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const stopped = server.shutdown();
    await conn.write(REQUEST).catch(() => {});
    // A lossless drain would answer it (or never have accepted it); Deno.serve drops it.
    assert.equal(await firstLine(conn), "EOF");
    await stopped;
  } finally {
    conn.close();
  }
});
