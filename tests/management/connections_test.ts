// The management API's connections are bounded, and nothing a client without the token does can
// end the runtime: out of file descriptors it keeps accepting once they are back; idle and slow
// connections make room for a newcomer (the oldest one still sending its request is closed) and
// time out; streams keep working and are never closed for a newcomer. Real sockets.
import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import { serveManagement } from "../../management/server.ts";

const TOKEN = "connections-token";
const AUTH = { authorization: `Bearer ${TOKEN}` };

/** Resolves once the server closes `conn` (reads to its end), or `false` after `ms`. */
async function closedWithin(conn: Deno.Conn, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  const end = (async () => {
    const buffer = new Uint8Array(1024);
    while ((await conn.read(buffer).catch(() => null)) !== null) { /* to its end */ }
    return true;
  })();
  try {
    return await Promise.race([end, late]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("a runtime whose management API is flooded with idle connections past its file limit keeps running, and answers once they go", async () => {
  const fixture = new URL("../fixtures/management_host.ts", import.meta.url).pathname;
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      `ulimit -n 48 && exec "$0" run -A --no-lock "$@"`,
      Deno.execPath(),
      fixture,
      TOKEN,
    ],
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const idle: Deno.Conn[] = [];
  try {
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!out.includes("\n")) out += (await lines.read()).value ?? "";
    lines.releaseLock();
    const api = new URL(out.trim());
    // Without the token: more idle connections than the runtime may hold files.
    for (let i = 0; i < 150; i++) {
      idle.push(await Deno.connect({ hostname: api.hostname, port: Number(api.port) }));
    }
    await new Promise((r) => setTimeout(r, 1500));
    for (const conn of idle.splice(0)) conn.close();
    let status = 0;
    for (let attempt = 0; attempt < 40 && status !== 200; attempt++) {
      status = await fetch(new URL("v1/tree", api), {
        headers: AUTH,
        signal: AbortSignal.timeout(2000),
      }).then(async (r) => (await r.body?.cancel(), r.status), () => 0);
      if (status !== 200) await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(status, 200, "the API answers again");
  } finally {
    for (const conn of idle) conn.close();
    await child.stdin.close().catch(() => {});
    const kill = setTimeout(() => child.kill("SIGKILL"), 10_000);
    const { code } = await child.status;
    clearTimeout(kill);
    const err = await stderr;
    assert.equal(code, 0, `the runtime ended by itself, cleanly: ${err.slice(-400)}`);
    const reports = err.split("\n").filter((l) => l.includes("cannot accept a connection"));
    assert.ok(reports.length >= 1, "the failed accepts were reported");
    assert.ok(reports.length <= 5, `at most one report a second, got ${reports.length}`);
    assert.match(
      reports[0],
      /^kraken: management API: cannot accept a connection: Too many open files/,
    );
  }
});

Deno.test("idle connections cannot lock the token holder out: the oldest one still sending its request makes room, and a slow head is cut at its deadline", async () => {
  const rt = await Runtime.start({ name: "conns", containers: {} }, { logLevel: "silent" });
  const api = await serveManagement(rt, {
    listen: "127.0.0.1:0",
    token: TOKEN,
    maxConnections: 8,
    headersTimeout: 1000,
  });
  const idle: Deno.Conn[] = [];
  try {
    const port = Number(api.url.port);
    for (let i = 0; i < 20; i++) idle.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    // The 12 oldest were closed to make room for the newer ones.
    const closed = await Promise.all(idle.slice(0, 12).map((conn) => closedWithin(conn, 800)));
    assert.deepEqual(closed, Array(12).fill(true));
    // Every slot is held by an idle connection: the token holder still gets through.
    const tree = await fetch(new URL("v1/tree", api.url), { headers: AUTH });
    assert.equal(tree.status, 200);
    assert.equal((await tree.json()).name, "conns");
    // A head sent a byte at a time is cut at its deadline, not held for ever.
    const slow = await Deno.connect({ hostname: "127.0.0.1", port });
    idle.push(slow);
    await slow.write(new TextEncoder().encode("GET /v1/tree HTTP/1.1\r\nHost: x\r\n"));
    const started = performance.now();
    assert.ok(await closedWithin(slow, 3000), "closed");
    assert.ok(performance.now() - started < 2000);
  } finally {
    for (const conn of idle) conn.close();
    await api.close();
    await rt.shutdown();
  }
});

Deno.test("streams are never closed for a newcomer: with every connection streaming, one more is answered 503; a head over 16 KiB is 431", async () => {
  const rt = await Runtime.start({ name: "conns", containers: {} }, { logLevel: "silent" });
  const api = await serveManagement(rt, {
    listen: "127.0.0.1:0",
    token: TOKEN,
    maxConnections: 2,
    heartbeat: 100,
  });
  const streams: ReadableStreamDefaultReader<Uint8Array>[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const events = await fetch(new URL("v1/events", api.url), { headers: AUTH });
      assert.equal(events.status, 200);
      const reader = events.body!.getReader();
      await reader.read(); // ": kraken", the stream's opening
      streams.push(reader);
    }
    const third = await fetch(new URL("v1/tree", api.url), { headers: AUTH });
    assert.equal(third.status, 503);
    assert.equal((await third.json()).error.type, "Unavailable");
    // Both streams still flow (a keep-alive comment each), then one ends: room again.
    for (const reader of streams) {
      assert.equal(new TextDecoder().decode((await reader.read()).value), ": keep-alive\n\n");
    }
    await streams.shift()!.cancel();
    let status = 0;
    for (let i = 0; i < 20 && status !== 200; i++) {
      const r = await fetch(new URL("v1/tree", api.url), { headers: AUTH });
      status = r.status;
      await r.body?.cancel();
      if (status !== 200) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(status, 200, "a stream that ended made room");
    const big = await fetch(new URL("v1/tree", api.url), {
      headers: { ...AUTH, "x-padding": "x".repeat(20_000) },
    });
    assert.equal(big.status, 431);
    await big.body?.cancel();
  } finally {
    for (const reader of streams) await reader.cancel();
    await api.close();
    await rt.shutdown();
  }
});
