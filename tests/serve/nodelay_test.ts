import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";

const base = new URL("./fixtures/", import.meta.url).href;

/** Sends `depth` GETs in one write and reads until `depth` responses (by their heads) are in. */
async function pipelined(conn: Deno.TcpConn, depth: number): Promise<void> {
  const request = "GET /hi HTTP/1.1\r\nhost: x\r\n\r\n".repeat(depth);
  await conn.write(new TextEncoder().encode(request));
  const buf = new Uint8Array(64 * 1024);
  let text = "";
  while ((text.match(/HTTP\/1\.1 200/g) ?? []).length < depth || !text.endsWith("}")) {
    const n = await conn.read(buf);
    if (n === null) throw new Error(`closed after ${text.length} bytes`);
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
}

// Without TCP_NODELAY on the accepted connection, the responses to pipelined requests after the
// first are held by Nagle until the client's delayed ACK (40 ms on Linux): each batch of
// pipelined requests takes >= 40 ms (the serving bench saw 11k req/s instead of 85k).
// Both HTTP paths: the default (fast) one and `websocket: true` (Deno.serveHttp).
const cases = [
  ...(["inline", "worker", "process"] as const).map((mode) => ({ mode, websocket: false })),
  { mode: "worker" as const, websocket: true },
];
for (const { mode, websocket } of cases) {
  Deno.test(
    `a ${mode} serving container${
      websocket ? " with websocket: true" : ""
    } answers pipelined requests without the 40 ms Nagle stall`,
    async () => {
      const rt = await Runtime.start({
        containers: {
          api: { module: "./hello.ts", mode, serve: { port: 0, hostname: "127.0.0.1", websocket } },
        },
      }, { logLevel: "silent", baseUrl: base });
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: rt.serving("api")!.port });
      try {
        conn.setNoDelay(true);
        await pipelined(conn, 8); // warm-up
        const batches = 10;
        const t0 = performance.now();
        for (let i = 0; i < batches; i++) await pipelined(conn, 8);
        const perBatch = (performance.now() - t0) / batches;
        assert.ok(perBatch < 20, `a batch of 8 pipelined requests took ${perBatch.toFixed(1)} ms`);
      } finally {
        conn.close();
        await rt.shutdown();
      }
    },
  );
}
