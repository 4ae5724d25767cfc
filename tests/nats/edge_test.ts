// Over NATS, the same edge rule as on links: a request with a pathological body or malformed
// fields is answered with a FrameError on its reply inbox, anything else is dropped and counted,
// and no container ever sees it.
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { FrameError, Runtime } from "../../mod.ts";
import { decodeMsgpack, MsgpackEncoder } from "../../protocol/msgpack.ts";
import { FIXTURES, MODES, waitUntil } from "../_helpers.ts";
import { NatsServer, natsTest } from "./_nats_server.ts";

const encoder = new MsgpackEncoder();
const nest = (levels: number): unknown => levels === 0 ? 1 : [nest(levels - 1)];

async function start(server: NatsServer) {
  const rt = await Runtime.start({
    name: "shop",
    transports: { name: "a", keepalive: "500ms", nats: { servers: [server.url] } },
    containers: Object.fromEntries(MODES.map((mode) => [mode, { module: "./echo.ts", mode }])),
  }, { baseUrl: FIXTURES.href, logLevel: "silent" });
  const exits: string[] = [];
  rt.on("exit", (e) => exits.push(e.instance));
  return { rt, exits };
}

natsTest(
  "over NATS, a request with a pathological body or malformed fields is answered with a FrameError; the container never sees it (inline, worker, process)",
  async () => {
    const server = await NatsServer.start();
    const { rt, exits } = await start(server);
    const nc = await connect({ servers: [server.url] });
    try {
      const ask = async (subject: string, payload: Uint8Array) => {
        const msg = await nc.request(subject, payload, { timeout: 3_000 });
        return decodeMsgpack(msg.data) as { b?: unknown; e?: { name: string; message: string } };
      };
      const req = { o: "tester01", s: "host", i: 1, t: "echo", b: null as unknown };
      for (const mode of MODES) {
        const subject = `kraken.shop.c.${mode}`;
        const cases: [Uint8Array, RegExp][] = [
          [encoder.encode({ ...req, b: nest(70) }), /b(\[0\]){64} is nested deeper than 64 levels/],
          [encoder.encode({ ...req, i: "x" }), /field "i" is "x", expected a whole number/],
          [encoder.encode({ ...req, o: 5 }), /field "o" \(the requesting runtime\) is number/],
          [encoder.encode({ ...req, t: 5 }), /field "t" is 5, expected a string/],
          [new Uint8Array([0xc1, 0x00]), /payload is not a msgpack map/],
          [encoder.encode(["not", "a", "map"]), /payload is not a msgpack map/],
        ];
        // An unsupported extension inside the body: its bytes swapped in for a placeholder.
        const raw = encoder.encode({ ...req, b: "@@" });
        const at = raw.findIndex((_, n) => raw[n] === 0xa2 && raw[n + 1] === 0x40);
        cases.push([
          new Uint8Array([...raw.slice(0, at), 0xd4, 0x07, 0x00, ...raw.slice(at + 3)]),
          /extension type 7 is not supported/,
        ]);
        for (const [payload, why] of cases) {
          const reply = await ask(subject, payload);
          assert.equal(reply.e?.name, "FrameError", JSON.stringify(reply));
          assert.match(reply.e!.message, why);
        }
        // Sends and publications have nobody to answer: dropped, and counted.
        const before = rt.tree().refused;
        nc.publish(subject, encoder.encode({ o: "tester01", t: "count", b: nest(70) }));
        nc.publish("kraken.shop.pub", encoder.encode({ o: "tester01", t: "news", b: nest(70) }));
        await waitUntil(() => rt.tree().refused >= before + 2, 3_000, "two more refusals");
        // The deepest lawful body crosses; the handler never ran for anything refused.
        const deepest = nest(63);
        assert.deepEqual(await ask(subject, encoder.encode({ ...req, i: 2, b: deepest })), {
          b: deepest,
        });
        assert.deepEqual(await ask(subject, encoder.encode({ ...req, i: 3, t: "count" })), {
          b: 1,
        });
      }
      assert.deepEqual(exits, []);
    } finally {
      await nc.close();
      await rt.shutdown();
      await server.kill();
    }
  },
);

natsTest(
  "over NATS, a reply whose body breaks the wire rule reaches its requester as a FrameError at once",
  async () => {
    const server = await NatsServer.start();
    const { rt, exits } = await start(server);
    const nc = await connect({ servers: [server.url] });
    try {
      // The test plays a runtime "evil" that serves container "fake" with pathological replies.
      const presence = () =>
        nc.publish(
          "kraken.shop.presence",
          encoder.encode({ o: "evil0001", n: "evil", c: ["fake"], q: [10], k: 60_000 }),
        );
      presence();
      const sub = nc.subscribe("kraken.shop.c.fake", {
        queue: "fake",
        callback: (_e, msg) => {
          const { t } = decodeMsgpack(msg.data) as { t: string };
          if (t === "deep") msg.respond(encoder.encode({ b: { x: nest(70) } }));
          else if (t === "garbage") msg.respond(new Uint8Array([0xc1]));
          else msg.respond(encoder.encode({ e: { name: 5 } }));
        },
      });
      await waitUntil(() => rt.tree().peers.some((p) => p.containers.includes("fake")), 5_000, "");
      const began = performance.now();
      const cases: [string, RegExp][] = [
        ["deep", /^reply refused: b\.x(\[0\]){63} is nested deeper than 64 levels$/],
        ["garbage", /^reply refused: its NATS payload is not a msgpack map$/],
        ["bad error", /^reply refused: field "e\.name" is 5, expected a string$/],
      ];
      for (const [topic, why] of cases) {
        await assert.rejects(
          rt.ref("fake").request(topic, null, { timeout: 10_000 }),
          (e: Error) => e instanceof FrameError && why.test(e.message),
        );
      }
      assert.ok(performance.now() - began < 3_000, "at once, not at the timeout");
      assert.deepEqual(exits, []);
      sub.unsubscribe();
    } finally {
      await nc.close();
      await rt.shutdown();
      await server.kill();
    }
  },
);
