// Without a secret, NATS permissions are the whole trust boundary. The recipe of
// docs/transports.md ("Permissions"): one NATS user per runtime, allowed to publish on the
// application's subjects, to subscribe only to its own containers (in their queue group), to
// presence, publications and its own inboxes, and to answer only requests it received. With it,
// runtimes work as usual, and another client on the same server can neither cut one off, nor
// overhear a request, nor answer one.
import assert from "node:assert/strict";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Runtime } from "../../mod.ts";
import { MsgpackEncoder } from "../../protocol/msgpack.ts";
import { FIXTURES, waitUntil } from "../_helpers.ts";
import { NatsServer, natsTest } from "./_nats_server.ts";

const encoder = new MsgpackEncoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The recipe as a nats-server configuration: the application's account holds one user per
 * runtime (its name, password and the containers it runs); every other client is in another
 * account. One account, `others`, has a client that may do anything there.
 */
function recipe(app: string, runtimes: { name: string; password: string; serves: string[] }[]) {
  const users = runtimes.map(({ name, password, serves }) => {
    const own = serves.map((c) => `"kraken.${app}.c.${c} ${c}"`).join(", ");
    return `      { user: ${name}, password: ${password}, permissions: {
          publish: { allow: ["kraken.${app}.c.>", "kraken.${app}.pub", "kraken.${app}.presence"] }
          subscribe: { allow: [${own}, "kraken.${app}.pub", "kraken.${app}.presence", "kraken.${app}.inbox.${name}.>"] }
          allow_responses: true
      } }`;
  });
  return `accounts {
  ${app}: {
    users: [
${users.join("\n")}
    ]
  }
  others: {
    users: [ { user: outsider, password: outsider } ]
  }
}
`;
}

async function world(
  fn: (
    a: Runtime,
    b: Runtime,
    connectAs: (user: string) => Promise<NatsConnection>,
    url: string,
  ) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const config = `${dir}/nats.conf`;
  await Deno.writeTextFile(
    config,
    recipe("shop", [
      { name: "a", password: "pa", serves: ["front"] },
      { name: "b", password: "pb", serves: ["back"] },
      { name: "c", password: "pc", serves: ["side"] },
    ]),
  );
  const server = await NatsServer.start(["-c", config]);
  const runtimes: Runtime[] = [];
  const clients: NatsConnection[] = [];
  try {
    for (const [name, container] of [["a", "front"], ["b", "back"]]) {
      runtimes.push(
        await Runtime.start({
          name: "shop",
          transports: {
            name,
            keepalive: "500ms",
            nats: { servers: [server.url], user: name, password: `p${name}` },
          },
          containers: { [container]: { module: "./member.ts", mode: "inline" } },
        }, { baseUrl: FIXTURES.href, logLevel: "silent" }),
      );
    }
    const [a, b] = runtimes;
    await waitUntil(() => a.tree().peers.some((p) => p.containers.includes("back")), 5_000, "b");
    await waitUntil(() => b.tree().peers.some((p) => p.containers.includes("front")), 5_000, "a");
    await fn(a, b, async (user) => {
      const pass = user === "c" ? "pc" : user;
      // No echo: what a client publishes in its own account never comes back to it.
      const nc = await connect({ servers: [server.url], user, pass, noEcho: true });
      clients.push(nc);
      return nc;
    }, server.url);
  } finally {
    for (const nc of clients) await nc.close().catch(() => {});
    for (const rt of runtimes) await rt.shutdown();
    await server.kill();
    await Deno.remove(dir, { recursive: true });
  }
}

natsTest(
  "with one NATS user per runtime, allowed only its own subjects, runtimes reach each other's containers and publications cross",
  async () => {
    await world(async (a, b) => {
      assert.equal(await a.ref("back").request("whoami"), "back#0.1");
      assert.equal(await b.ref("front").request("whoami"), "front#0.1");
      const got: unknown[] = [];
      b.subscribe("news", (body) => got.push(body));
      a.publish("news", "hello");
      await waitUntil(() => got.length === 1, 3_000, "the publication");
      assert.deepEqual(got, ["hello"]);
    });
  },
);

natsTest(
  "with the permissions recipe, neither an outsider nor another runtime's user can forge presence, overhear a request or answer one",
  async () => {
    await world(async (a, _b, connectAs) => {
      const outsider = await connectAs("outsider");
      const other = await connectAs("c"); // a member of the application, serving "side" only
      let overheard = 0;
      for (const nc of [outsider, other]) {
        nc.subscribe("kraken.shop.c.back", { callback: (e) => void (e || overheard++) });
        nc.subscribe("kraken.shop.c.back", {
          queue: "back",
          callback: (e) => void (e || overheard++),
        });
        nc.subscribe("kraken.shop.inbox.a.>", { callback: (e) => void (e || overheard++) });
      }
      // The outsider tries to cut b off, both try to answer a's requests on its inbox.
      const bId = a.tree().peers.find((p) => p.name === "b")!.address!.slice(5);
      const forge = setInterval(() => {
        outsider.publish(
          "kraken.shop.presence",
          encoder.encode({ o: bId, n: "b", c: [], k: 2_000 }),
        );
        for (const nc of [outsider, other]) {
          for (let token = 1; token < 20; token++) {
            nc.publish(`kraken.shop.inbox.a.x.${token}`, encoder.encode({ b: "FORGED" }));
          }
        }
      }, 20);
      try {
        await sleep(200);
        for (let k = 0; k < 5; k++) {
          assert.equal(await a.ref("back").request("whoami"), "back#0.1");
        }
      } finally {
        clearInterval(forge);
      }
      assert.equal(overheard, 0);
      assert.deepEqual(a.tree().peers.find((p) => p.name === "b")?.containers, ["back"]);
    });
  },
);

natsTest(
  "a runtime whose NATS user may not subscribe to a container's subject logs the refusal naming the subject and keeps serving its other containers",
  async () => {
    await world(async (a, _b, _connectAs, url) => {
      const logs: string[] = [];
      // User c may serve "side" only; this runtime also runs "front" (a's, in the recipe).
      const c = await Runtime.start({
        name: "shop",
        transports: {
          name: "c",
          keepalive: "500ms",
          nats: { servers: [url], user: "c", password: "pc" },
        },
        containers: {
          side: { module: "./member.ts", mode: "inline" },
          front: { module: "./member.ts", mode: "inline" },
        },
      }, {
        baseUrl: FIXTURES.href,
        logLevel: "debug",
        logger: (e) => logs.push(`${e.level} ${e.message}`),
      });
      try {
        await waitUntil(
          () => logs.some((l) => l.includes("kraken.shop.c.front")),
          5_000,
          "the refusal logged",
        );
        await waitUntil(
          () => a.tree().peers.some((p) => p.containers.includes("side")),
          5_000,
          "c announces side",
        );
        assert.equal(await a.ref("side").request("whoami"), "side#0.1");
        assert.equal(await a.ref("front").request("whoami"), "front#0.1", "a's own front");
        const refusal = logs.find((l) => l.includes("kraken.shop.c.front"))!;
        assert.match(
          refusal,
          /^error NATS refused this runtime's subscription to kraken\.shop\.c\.front/,
        );
        assert.match(refusal, /subscribe permissions/);
      } finally {
        await c.shutdown();
      }
    });
  },
);
