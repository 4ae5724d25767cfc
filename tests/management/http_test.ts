// The management API's HTTP/1.1 server speaks enough HTTP for any client: bodies by length or in
// chunks (with 100-continue), HEAD, HTTP/1.0, one request per connection; malformed requests get
// a 4xx, a handler that throws a bare 500, and a client that hangs up ends the stream it was
// reading. Raw sockets, so what is on the wire is what is checked.
import assert from "node:assert/strict";
import { serveHttp } from "../../management/_http.ts";

const encoder = new TextEncoder();

/** Sends `raw` on a fresh connection and reads until the server closes it. */
async function exchange(port: number, raw: string | Uint8Array): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(typeof raw === "string" ? encoder.encode(raw) : raw);
    let out = "";
    const buffer = new Uint8Array(65536);
    while (true) {
      const n = await conn.read(buffer).catch(() => null);
      if (n === null) break;
      out += new TextDecoder().decode(buffer.subarray(0, n));
    }
    return out;
  } finally {
    conn.close();
  }
}

/** An echo of what the handler saw: method, path, body. */
function echoServer() {
  return serveHttp({
    hostname: "127.0.0.1",
    port: 0,
    async handler(request) {
      if (new URL(request.url).pathname === "/throw") throw new Error("secret detail");
      const body = await request.text();
      return Response.json({
        method: request.method,
        path: new URL(request.url).pathname + new URL(request.url).search,
        body,
        host: request.headers.get("host"),
      });
    },
  });
}

Deno.test("HTTP: bodies by content-length and in chunks (after 100 Continue) reach the handler; every response closes its connection", async () => {
  const server = echoServer();
  try {
    const port = server.addr.port;
    const byLength = await exchange(
      port,
      "POST /a?b=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    );
    assert.match(byLength, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(byLength, /\r\nconnection: close\r\n/);
    assert.match(byLength, /\r\ntransfer-encoding: chunked\r\n/);
    assert.match(byLength, /"method":"POST","path":"\/a\?b=1","body":"hello","host":"x"/);
    const chunked = await exchange(
      port,
      "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n" +
        "3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nTrailer: t\r\n\r\n",
    );
    assert.match(chunked, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    assert.match(chunked, /"body":"abcdefg"/);
    // fetch (keep-alive by default) takes the close in its stride.
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`http://127.0.0.1:${port}/f`, { method: "PUT", body: "x" });
      assert.equal((await response.json()).body, "x");
    }
  } finally {
    await server.close();
  }
});

Deno.test("HTTP: HEAD gets no body, HTTP/1.0 a body delimited by the close, a throwing handler a bare 500", async () => {
  const server = echoServer();
  try {
    const port = server.addr.port;
    const head = await exchange(port, "HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(head.endsWith("\r\n\r\n"), "nothing after the head");
    const old = await exchange(port, "GET /old HTTP/1.0\r\n\r\n");
    assert.doesNotMatch(old, /transfer-encoding/);
    assert.ok(old.endsWith('"body":"","host":null}'));
    const thrown = await exchange(port, "GET /throw HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.match(thrown, /^HTTP\/1\.1 500 Internal Server Error\r\n/);
    assert.match(thrown, /"message":"internal error"/);
    assert.doesNotMatch(thrown, /secret detail/);
  } finally {
    await server.close();
  }
});

Deno.test("HTTP: malformed requests get 400 (bad request line, folded header, bad length, mixed framing), a long head 431", async () => {
  const server = echoServer();
  try {
    const port = server.addr.port;
    const cases: [string, RegExp][] = [
      ["GARBAGE\r\n\r\n", /^HTTP\/1\.1 400 /],
      ["GET http://elsewhere/ HTTP/1.1\r\n\r\n", /^HTTP\/1\.1 400 /],
      ["GET / HTTP/2.0\r\n\r\n", /^HTTP\/1\.1 400 /],
      ["GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", /^HTTP\/1\.1 400 /],
      ["POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", /^HTTP\/1\.1 400 /],
      [
        "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc",
        /^HTTP\/1\.1 400 /,
      ],
      [`GET / HTTP/1.1\r\nX: ${"y".repeat(17_000)}\r\n\r\n`, /^HTTP\/1\.1 431 /],
    ];
    for (const [raw, expected] of cases) assert.match(await exchange(port, raw), expected, raw);
  } finally {
    await server.close();
  }
});

Deno.test("HTTP: a client that hangs up ends the stream it was reading (the handler's stream is cancelled)", async () => {
  const cancelled = Promise.withResolvers<void>();
  let timer: ReturnType<typeof setInterval> | undefined;
  const server = serveHttp({
    hostname: "127.0.0.1",
    port: 0,
    handler: () =>
      new Response(
        new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(encoder.encode("opening\n"));
            // Nothing more for a long while: only the client's end can tell it left.
            timer = setInterval(() => controller.enqueue(encoder.encode(".")), 60_000);
          },
          cancel() {
            clearInterval(timer);
            cancelled.resolve();
          },
        }),
      ),
  });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    await conn.write(encoder.encode("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"));
    const buffer = new Uint8Array(4096);
    let seen = "";
    while (!seen.includes("opening")) {
      seen += new TextDecoder().decode(buffer.subarray(0, (await conn.read(buffer)) ?? 0));
    }
    conn.close();
    let late: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      cancelled.promise,
      new Promise((
        _,
        reject,
      ) => (late = setTimeout(() => reject(new Error("not cancelled")), 2000))),
    ]);
    clearTimeout(late);
  } finally {
    clearInterval(timer);
    await server.close();
  }
});
