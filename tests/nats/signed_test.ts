// With transports.secret, every message over NATS is signed and checked: a client allowed on the
// application's subjects but without the secret cannot cut a runtime off with forged presence,
// replay what it overheard, or answer a request; everything it tries is refused and counted.
import assert from "node:assert/strict";
import { connect, errors, type NatsConnection } from "@nats-io/transport-node";
import { NatsAuth, TRAILER } from "../../distribution/_nats_auth.ts";
import { Runtime } from "../../mod.ts";
import { MsgpackEncoder } from "../../protocol/msgpack.ts";
import { FIXTURES, waitUntil } from "../_helpers.ts";
import { NatsServer, natsTest } from "./_nats_server.ts";

const SECRET = "correct-horse-battery-staple";
const encoder = new MsgpackEncoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface World {
  a: Runtime;
  b: Runtime;
  nc: NatsConnection;
  /** Runtime b's id on NATS, as anyone on the presence subject reads it (`""` if unseen). */
  bId: string;
  logsOfB: string[];
}

async function world(fn: (w: World) => Promise<void>, secretOfB = SECRET): Promise<void> {
  const server = await NatsServer.start();
  const runtimes: Runtime[] = [];
  let nc: NatsConnection | null = null;
  const logsOfB: string[] = [];
  try {
    for (const [name, container, secret] of [["a", "front", SECRET], ["b", "back", secretOfB]]) {
      runtimes.push(
        await Runtime.start({
          name: "shop",
          transports: {
            name,
            ...(secret ? { secret } : {}),
            keepalive: "1s",
            nats: { servers: [server.url] },
          },
          containers: { [container]: { module: "./member.ts", mode: "inline" } },
        }, {
          baseUrl: FIXTURES.href,
          logLevel: "debug",
          logger: (e) => name === "b" && logsOfB.push(`${e.level} ${e.message}`),
        }),
      );
    }
    const [a, b] = runtimes;
    nc = await connect({ servers: [server.url] });
    if (secretOfB === SECRET) {
      await waitUntil(() => a.tree().peers.some((p) => p.containers.includes("back")), 5_000, "b");
    }
    // b's id, as anyone on the presence subject reads it (its tree shows it too).
    await waitUntil(() => b.tree().peers.length > 0 || secretOfB !== SECRET, 5_000, "a seen");
    const bId = a.tree().peers.find((p) => p.name === "b")?.address?.slice(5) ?? "";
    await fn({ a, b, nc, bId, logsOfB });
  } finally {
    await nc?.close();
    for (const rt of runtimes) await rt.shutdown();
    await server.kill();
  }
}

/** `body` as a payload: unsigned, or signed by `auth` for `subject`. */
function payload(body: unknown, subject: string, auth?: NatsAuth, reply = ""): Uint8Array {
  const data = encoder.encode(body, auth ? TRAILER : 0);
  auth?.seal(subject, reply, data);
  return data;
}

natsTest(
  "with a secret, forged presence (unsigned, or signed with another secret) under a runtime's id cuts nothing off; every forgery is refused and counted",
  async () => {
    await world(async ({ a, nc, bId }) => {
      const wrong = new NatsAuth({ secret: "not-the-secret", id: bId });
      const subject = "kraken.shop.presence";
      const before = a.tree().refused;
      let forged = 0;
      const forge = setInterval(() => {
        nc.publish(subject, payload({ o: bId, n: "b", c: [], q: [], k: 2_000 }, subject));
        nc.publish(subject, payload({ o: bId, n: "b", c: [], k: 2_000 }, subject, wrong));
        nc.publish(subject, payload({ o: bId, n: "b", x: 1 }, subject));
        forged += 3;
      }, 20);
      try {
        await sleep(300);
        for (let k = 0; k < 5; k++) {
          assert.equal(await a.ref("back").request("whoami", null, { timeout: 2_000 }), "back#0.1");
        }
      } finally {
        clearInterval(forge);
      }
      await nc.flush();
      await waitUntil(() => a.tree().refused >= before + forged, 3_000, "every forgery refused");
      const peer = a.tree().peers.find((p) => p.name === "b")!;
      assert.equal(peer.state, "connected");
      assert.deepEqual(peer.containers, ["back"]);
    });
  },
);

natsTest(
  "with a secret, a request, send or publication overheard and replayed byte for byte, or sent unsigned, is refused: each handler ran once",
  async () => {
    await world(async ({ a, b, nc }) => {
      const heard: { subject: string; data: Uint8Array; reply?: string }[] = [];
      for (const subject of ["kraken.shop.c.back", "kraken.shop.pub"]) {
        nc.subscribe(subject, {
          callback: (_e, m) => void heard.push({ subject, data: m.data.slice(), reply: m.reply }),
        });
      }
      await nc.flush();
      const news: unknown[] = [];
      b.subscribe("news", (body) => news.push(body));
      assert.equal(await a.ref("back").request("count"), 1);
      a.ref("back").send("count");
      a.publish("news", "once");
      await waitUntil(() => heard.length === 3 && news.length === 1, 3_000, "all three overheard");
      const before = b.tree().refused;
      for (const { subject, data, reply } of heard) {
        nc.publish(subject, data, reply ? { reply } : undefined);
      }
      // Unsigned, as a client without the secret would send them: no answer at all.
      const req = { o: "tester0000000000", s: "host", i: 1, t: "count", b: null };
      await assert.rejects(
        nc.request("kraken.shop.c.back", encoder.encode(req), { timeout: 300 }),
        errors.TimeoutError,
      );
      nc.publish("kraken.shop.pub", encoder.encode({ o: "tester0000000000", t: "news", b: 1 }));
      await nc.flush();
      await waitUntil(() => b.tree().refused >= before + 5, 3_000, "five refusals");
      assert.equal(await a.ref("back").request("count"), 3, "the request and the send ran once");
      assert.deepEqual(news, ["once"]);
    });
  },
);

natsTest(
  "with a secret, a reply from an eavesdropper loses to the real one: it is taken only when signed by a runtime that announces the container",
  async () => {
    await world(async ({ a, nc, bId }) => {
      // Signed with the right secret, but under an id that announces nothing (or not "back").
      const insider = new NatsAuth({ secret: SECRET, id: "0123456789abcdef" });
      const asB = new NatsAuth({ secret: SECRET, id: bId });
      let seen = 0;
      nc.subscribe("kraken.shop.c.back", {
        callback: (_e, m) => {
          if (!m.reply) return;
          seen++;
          nc.publish(m.reply, payload({ b: "FORGED" }, m.reply));
          nc.publish(m.reply, payload({ b: "INSIDER" }, m.reply, insider));
          nc.publish(m.reply, payload({ b: "WRONG INBOX" }, "kraken.shop.inbox.x.1", asB));
          nc.publish(m.reply, new Uint8Array([0xc1]));
        },
      });
      await nc.flush();
      const before = a.tree().refused;
      // The handler takes a while: the forged replies are there first.
      for (let k = 0; k < 5; k++) {
        assert.equal(await a.ref("back").request("sleep", { ms: 100 }), "back#0.1");
      }
      assert.equal(seen, 5, "the eavesdropper saw every request (signing does not hide them)");
      await waitUntil(() => a.tree().refused >= before + 20, 3_000, "every forged reply refused");
    });
  },
);

natsTest(
  "runtimes whose secrets differ do not hear each other, and the refusal says why",
  async () => {
    await world(async ({ a, logsOfB }) => {
      await sleep(1_200); // two presence beats each way
      assert.deepEqual(a.tree().peers, []);
      assert.ok(a.tree().refused > 0);
      assert.ok(
        logsOfB.some((line) => /not signed with this application's secret/.test(line)),
        logsOfB.join("\n"),
      );
      assert.ok(!logsOfB.some((line) => line.includes(SECRET)), "the secret is never logged");
    }, "another-secret");
  },
);

natsTest(
  "a runtime without the secret beside runtimes with it hears nobody, and its refusals say the messages look signed",
  async () => {
    await world(async ({ a, b, logsOfB }) => {
      await sleep(1_200);
      assert.deepEqual(a.tree().peers, []);
      assert.deepEqual(b.tree().peers, []);
      assert.ok(
        logsOfB.some((line) =>
          /it looks signed: do all runtimes .* same transports\.secret/.test(line)
        ),
        logsOfB.join("\n"),
      );
    }, "");
  },
);
