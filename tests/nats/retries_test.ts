// A retried request whose first reply was lost on its way back over NATS: the handler ran once,
// and the retry is answered from the instance's stored reply — whatever mode the container runs in.
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { Runtime } from "../../mod.ts";
import { decodeMsgpack, MsgpackEncoder } from "../../protocol/msgpack.ts";
import { FIXTURES, MODES, waitUntil } from "../_helpers.ts";
import { CuttableProxy } from "../_proxy.ts";
import { NatsServer, natsTest } from "./_nats_server.ts";

const encoder = new MsgpackEncoder();

natsTest(
  "a retry whose first reply was lost in flight is answered from the stored reply, the handler run once (inline, worker, process)",
  async () => {
    const server = await NatsServer.start();
    const rt = await Runtime.start({
      name: "shop",
      transports: { name: "b", keepalive: "500ms", nats: { servers: [server.url] } },
      containers: Object.fromEntries(MODES.map((mode) => [mode, { module: "./echo.ts", mode }])),
    }, { baseUrl: FIXTURES.href, logLevel: "silent" });
    // A requesting runtime, spoken by hand: its first reply goes to an inbox it no longer reads.
    const nc = await connect({ servers: [server.url] });
    try {
      for (const mode of MODES) {
        const subject = `kraken.shop.c.${mode}`;
        const ask = { o: "tester01", s: "host", i: 7, t: "count", b: null, r: 1 };
        // The wiretap only shows that the first reply left; the requester never receives it.
        const tap = nc.subscribe(`lost.${mode}`, { max: 1, timeout: 5_000 }); // bounded
        nc.publish(subject, encoder.encode(ask), { reply: `lost.${mode}` });
        for await (const msg of tap) assert.deepEqual(decodeMsgpack(msg.data), { b: 1 });
        const retry = await nc.request(subject, encoder.encode(ask), { timeout: 3_000 });
        assert.deepEqual(decodeMsgpack(retry.data), { b: 1 }, `${mode}: the stored reply`);
        const next = await nc.request(
          subject,
          encoder.encode({ ...ask, i: 8 }),
          { timeout: 3_000 },
        );
        assert.deepEqual(decodeMsgpack(next.data), { b: 2 }, `${mode}: the handler ran once`);
      }
    } finally {
      await nc.close();
      await rt.shutdown();
      await server.kill();
    }
  },
);

for (const mode of ["worker", "process"] as const) {
  natsTest(
    `[${mode}] a runtime's retried request whose reply was lost while its NATS connection was cut gets the stored reply`,
    async () => {
      const server = await NatsServer.start();
      // Runtime a reaches NATS through a proxy the test cuts; b serves the container.
      const proxy = CuttableProxy.start({ port: server.port });
      const runtimes: Runtime[] = [];
      try {
        for (
          const [name, url, containers] of [
            ["a", `nats://127.0.0.1:${proxy.port}`, {}],
            ["b", server.url, { back: { module: "./echo.ts", mode } }],
          ] as const
        ) {
          runtimes.push(
            await Runtime.start({
              name: "shop",
              transports: { name, keepalive: "2s", nats: { servers: [url] } },
              containers,
            }, { baseUrl: FIXTURES.href, logLevel: "silent" }),
          );
        }
        const [a] = runtimes;
        await waitUntil(() => a.tree().peers.some((p) => p.state === "connected"), 5_000, "a, b");
        const reply = a.ref("back").request("slowIncrement", { ms: 1_000 }, {
          timeout: 4_000,
          retries: 1,
        });
        // The handler is running; its reply will come while a is cut off, and be lost.
        await new Promise((r) => setTimeout(r, 200));
        proxy.cut();
        await new Promise((r) => setTimeout(r, 1_300));
        proxy.restore();
        assert.equal(await reply, 1, "answered at the retry, from the stored reply");
        assert.equal(await a.ref("back").request("count"), 2, "the handler ran once");
      } finally {
        for (const rt of runtimes.toReversed()) await rt.shutdown();
        await proxy.close();
        await server.kill();
      }
    },
  );
}
