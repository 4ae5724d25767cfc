// Runtimes of one application linked only by a real nats-server: containers reach each other by
// name over NATS from separate OS processes, replicas in two runtimes share one queue group,
// publications cross once, and errors keep their type.
import assert from "node:assert/strict";
import { RemoteError, Runtime, type TopologyInput, UnknownTopicError } from "../../mod.ts";
import { FIXTURES, waitUntil } from "../_helpers.ts";
import { NatsServer, natsTest, RuntimeProcess } from "./_nats_server.ts";

async function startA(
  servers: string[],
  containers: TopologyInput["containers"],
  logs: string[] = [],
): Promise<Runtime> {
  return await Runtime.start({
    name: "shop",
    transports: { name: "a", keepalive: "500ms", nats: { servers } },
    containers,
  }, {
    baseUrl: FIXTURES.href,
    logLevel: "info",
    logger: (e) => logs.push(`${e.level} ${e.message}`),
  });
}

/** Whether `rt` sees runtime `name` on NATS with all of `containers`. */
const sees = (rt: Runtime, name: string, containers: string[]) =>
  rt.tree().peers.some((p) =>
    p.name === name && p.state === "connected" && containers.every((c) => p.containers.includes(c))
  );

natsTest(
  "two runtimes in separate processes reach each other's worker and process containers by name over NATS, both ways",
  async () => {
    const server = await NatsServer.start();
    let rtA: Runtime | null = null;
    let b: RuntimeProcess | null = null;
    try {
      rtA = await startA([server.url], { front: { module: "./member.ts", mode: "worker" } });
      b = await RuntimeProcess.start({
        name: "b",
        servers: [server.url],
        containers: {
          back: { module: "./member.ts", mode: "process" },
          side: { module: "./member.ts", mode: "worker" },
        },
      });
      await waitUntil(() => sees(rtA!, "b", ["back", "side"]), 5000, "a sees b");
      // The host of A → a process container in B; a worker in A → a process in B → a worker in B.
      assert.equal(await rtA.ref("back").request("whoami"), "back#0.1");
      assert.notEqual(await rtA.ref("back").request("pid"), Deno.pid);
      assert.equal(
        await rtA.ref("front").request("ask", {
          to: "back",
          topic: "ask",
          body: { to: "side", topic: "whoami" },
        }),
        "side#0.1",
      );
      // B's process container asks A's worker, and B's worker asks it too: the other way round.
      assert.equal(await rtA.ref("back").request("ask", { to: "front", topic: "count" }), 1);
      assert.equal(await rtA.ref("side").request("ask", { to: "front", topic: "count" }), 2);
      // Errors keep their type across NATS: a handler's error, an unknown topic.
      await assert.rejects(
        rtA.ref("back").request("fail", { cls: "DbError", message: "db down" }),
        (e: Error) =>
          e instanceof RemoteError && e.remoteName === "DbError" &&
          e.message === 'container "back" threw DbError: db down',
      );
      await assert.rejects(
        rtA.ref("side").request("nope"),
        (e: Error) =>
          e instanceof UnknownTopicError && /has no handler for topic "nope"/.test(e.message),
      );
      const peer = rtA.tree().peers.find((p) => p.name === "b")!;
      assert.match(peer.address ?? "", /^nats:[0-9a-f]{16}$/);
      assert.deepEqual(peer.containers.toSorted(), ["back", "side"]);
    } finally {
      await b?.stop();
      await rtA?.shutdown();
      await server.kill();
    }
  },
);

natsTest(
  "replicas of one container in two runtimes form one queue group: both answer",
  async () => {
    const server = await NatsServer.start();
    let rtA: Runtime | null = null;
    const others: RuntimeProcess[] = [];
    try {
      rtA = await startA([server.url], { front: { module: "./member.ts", mode: "inline" } });
      for (const [name, mode] of [["b", "worker"], ["c", "process"]]) {
        others.push(
          await RuntimeProcess.start({
            name,
            servers: [server.url],
            containers: { pool: { module: "./member.ts", mode } },
          }),
        );
      }
      await waitUntil(() => sees(rtA!, "b", ["pool"]) && sees(rtA!, "c", ["pool"]), 5000, "b, c");
      const pids = await Promise.all(
        Array.from({ length: 60 }, () => rtA!.ref("pool").request("pid") as Promise<number>),
      );
      const counts = new Map<number, number>();
      for (const pid of pids) counts.set(pid, (counts.get(pid) ?? 0) + 1);
      assert.equal(counts.size, 2, `answered by ${[...counts.keys()]}`);
      for (const n of counts.values()) assert.ok(n >= 5, `uneven spread: ${[...counts.values()]}`);
    } finally {
      await Promise.all(others.map((o) => o.stop()));
      await rtA?.shutdown();
      await server.kill();
    }
  },
);

natsTest(
  "publications cross between runtimes over NATS exactly once, and never come back to their sender",
  async () => {
    const server = await NatsServer.start();
    let rtA: Runtime | null = null;
    let b: RuntimeProcess | null = null;
    try {
      rtA = await startA([server.url], { here: { module: "./echo.ts", mode: "worker" } });
      b = await RuntimeProcess.start({
        name: "b",
        servers: [server.url],
        containers: { there: { module: "./echo.ts", mode: "process" } },
      });
      await waitUntil(() => sees(rtA!, "b", ["there"]), 5000, "a sees b");
      const got: unknown[] = [];
      rtA.subscribe("news", (body) => got.push(body));
      rtA.publish("news", "from a's host");
      await rtA.ref("there").request("tell", { topic: "news", body: "from b's process" });
      await rtA.ref("here").request("tell", { topic: "news", body: "from a's worker" });
      await waitUntil(() => got.length >= 3, 3000, "three publications");
      await new Promise((r) => setTimeout(r, 150)); // duplicates would arrive by now
      assert.deepEqual(got.toSorted(), ["from a's host", "from a's worker", "from b's process"]);
      const seenThere = await rtA.ref("there").request("seen") as string[];
      const seenHere = await rtA.ref("here").request("seen") as string[];
      assert.deepEqual(seenThere.toSorted(), got.toSorted());
      assert.deepEqual(seenHere.toSorted(), got.toSorted());
    } finally {
      await b?.stop();
      await rtA?.shutdown();
      await server.kill();
    }
  },
);
