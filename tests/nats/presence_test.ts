// Presence over NATS: a runtime killed with SIGKILL is away after twice its keepalive (its
// containers held for), gone after twice more (its containers dropped: senders fail with
// UnavailableError), and a new incarnation replaces it; a graceful leave is seen at once.
import assert from "node:assert/strict";
import { Runtime, UnavailableError } from "../../mod.ts";
import { FIXTURES, waitUntil } from "../_helpers.ts";
import { NatsServer, natsTest, RuntimeProcess } from "./_nats_server.ts";

const KEEPALIVE = 300;

async function withA(servers: string[], fn: (rt: Runtime) => Promise<void>): Promise<void> {
  const rt = await Runtime.start({
    name: "shop",
    transports: { name: "a", keepalive: KEEPALIVE, nats: { servers } },
    containers: { front: { module: "./member.ts", mode: "inline" } },
  }, { baseUrl: FIXTURES.href, logLevel: "silent" });
  try {
    await fn(rt);
  } finally {
    await rt.shutdown();
  }
}

const spawnB = (servers: string[], keepalive = KEEPALIVE) =>
  RuntimeProcess.start({
    name: "b",
    servers,
    keepalive: `${keepalive}ms`,
    containers: { back: { module: "./member.ts", mode: "worker" } },
  });

const peersNamed = (rt: Runtime, name: string) => rt.tree().peers.filter((p) => p.name === name);

natsTest(
  "a runtime killed with SIGKILL is away after 2x keepalive, gone after 2x more; its containers then fail fast",
  async () => {
    const server = await NatsServer.start();
    const servers = [server.url];
    let b: RuntimeProcess | null = null;
    try {
      await withA(servers, async (rt) => {
        b = await spawnB(servers);
        await waitUntil(() => peersNamed(rt, "b")[0]?.state === "connected", 5000, "b seen");
        const oldPid = await rt.ref("back").request("pid");
        const unresponsive: string[] = [];
        rt.on("unresponsive", (e) => unresponsive.push(e.container));
        await b.kill();
        const killedAt = performance.now();
        // A request made now waits (no responders while b is still announced, then held) and
        // fails with UnavailableError once b is gone: it neither hangs nor times out.
        const pending = rt.ref("back").request("pid", undefined, { timeout: 10_000 })
          .then(() => null, (e: Error) => e);
        await waitUntil(() => peersNamed(rt, "b")[0].state === "connecting", 3000, "b away");
        const away = performance.now() - killedAt;
        assert.ok(away >= 2 * KEEPALIVE - 50 && away < 4 * KEEPALIVE, `away after ${away} ms`);
        assert.deepEqual(unresponsive, ["back"]);
        await assert.rejects(
          rt.ref("back").request("pid", undefined, { hold: false }),
          (e: Error) =>
            e instanceof UnavailableError && /restarting or its runtime is away/.test(e.message),
        );
        await waitUntil(() => peersNamed(rt, "b")[0].state === "gone", 3000, "b gone");
        const gone = performance.now() - killedAt;
        assert.ok(gone >= 4 * KEEPALIVE - 50 && gone < 7 * KEEPALIVE, `gone after ${gone} ms`);
        const failed = await pending;
        assert.ok(failed instanceof UnavailableError, String(failed));
        await assert.rejects(
          rt.ref("back").request("pid"),
          (e: Error) =>
            e instanceof UnavailableError && /no container named "back"/.test(e.message),
        );
        // A new incarnation of b takes the old one's place in the tree and serves again.
        b = await spawnB(servers);
        await waitUntil(() => peersNamed(rt, "b")[0]?.state === "connected", 5000, "b back");
        assert.equal(peersNamed(rt, "b").length, 1, "the dead incarnation is dropped");
        assert.notEqual(await rt.ref("back").request("pid"), oldPid);
      });
    } finally {
      await (b as RuntimeProcess | null)?.kill();
      await server.kill();
    }
  },
);

natsTest(
  "a runtime that shuts down announces it: peers hold its containers at once, and a request made meanwhile is served when it is back",
  async () => {
    const server = await NatsServer.start();
    const servers = [server.url];
    let b: RuntimeProcess | null = null;
    try {
      await withA(servers, async (rt) => {
        // b's keepalive is long enough for its next incarnation to start before it is gone.
        b = await spawnB(servers, 2000);
        await waitUntil(() => peersNamed(rt, "b")[0]?.state === "connected", 5000, "b seen");
        const stopping = b.stop();
        await waitUntil(() => peersNamed(rt, "b")[0].state === "connecting", KEEPALIVE, "b left");
        await stopping;
        // Held (not refused) until b's next incarnation announces "back".
        const pending = rt.ref("back").request("whoami", undefined, { timeout: 10_000 });
        b = await spawnB(servers, 2000);
        assert.equal(await pending, "back#0.1");
      });
    } finally {
      await (b as RuntimeProcess | null)?.kill();
      await server.kill();
    }
  },
);
