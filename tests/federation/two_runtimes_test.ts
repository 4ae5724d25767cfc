// Two runtimes, one application: runtime B joins runtime A over an authenticated link, and
// containers on either side reach each other by name with the same ref().request().
import assert from "node:assert/strict";
import type { Runtime, TopologyInput } from "../../mod.ts";
import { FIXTURES, waitUntil } from "../_helpers.ts";
import { FrameError, Runtime as RT } from "../../mod.ts";

const SECRET = "two-runtimes";

async function start(topology: TopologyInput, logs: string[] = []): Promise<Runtime> {
  return await RT.start(topology, {
    baseUrl: FIXTURES.href,
    logLevel: "info",
    logger: (e) => logs.push(`${e.level} ${e.message}`),
  });
}

function pair(listenUrl: string, secretB = SECRET) {
  const a: TopologyInput = {
    name: "shop",
    transports: { name: "a", listen: listenUrl, secret: SECRET, keepalive: "500ms" },
    containers: { front: { module: "./member.ts", mode: "worker" } },
  };
  const b = (address: string): TopologyInput => ({
    name: "shop",
    transports: { name: "b", secret: secretB, keepalive: "500ms" },
    hosts: { a: { address } },
    containers: {
      back: { module: "./member.ts", mode: "process" },
      side: { module: "./member.ts", mode: "inline" },
    },
  });
  return { a, b };
}

const connected = (rt: Runtime, peer: string) =>
  rt.tree().peers.some((p) => p.name === peer && p.state === "connected") &&
  Object.keys(rt.tree().peers.find((p) => p.name === peer)!.containers).length > 0;

for (const scheme of ["tcp", "unix", "memory", "ws"]) {
  Deno.test(`[${scheme}] a container in one runtime requests a container in another by name, both ways`, async () => {
    const dir = scheme === "unix" ? await Deno.makeTempDir() : "";
    const url = scheme === "tcp"
      ? "tcp://127.0.0.1:0"
      : scheme === "ws"
      ? "ws://127.0.0.1:0/kraken"
      : scheme === "unix"
      ? `unix://${dir}/a.sock`
      : `memory://shop-${crypto.randomUUID()}`;
    const { a, b } = pair(url);
    const rtA = await start(a);
    let rtB: Runtime | null = null;
    try {
      rtB = await start(b(rtA.listening!.href));
      await waitUntil(() => connected(rtA, "b") && connected(rtB!, "a"), 5000, "linked");
      // Host of A → process container in B, and host of B → worker in A.
      assert.equal(await rtA.ref("back").request("whoami"), "back#0.1");
      assert.equal(await rtB.ref("front").request("whoami"), "front#0.1");
      // A worker in A → a process in B → an inline container in B, and replies back.
      assert.equal(
        await rtA.ref("front").request("ask", {
          to: "back",
          topic: "ask",
          body: { to: "side", topic: "whoami" },
        }),
        "side#0.1",
      );
      // A process in B asks a worker in A.
      assert.equal(await rtB.ref("back").request("ask", { to: "front", topic: "count" }), 1);
      // Publications cross once.
      const got: unknown[] = [];
      rtA.subscribe("news", (body) => got.push(body));
      rtB.publish("news", "from b");
      await waitUntil(() => got.length === 1, 2000, "publication");
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(got, ["from b"]);
      assert.deepEqual(rtA.tree().peers.map((p) => [p.name, p.state, p.containers.sort()]), [
        ["b", "connected", ["back", "side"]],
      ]);
    } finally {
      await rtB?.shutdown();
      await rtA.shutdown();
      if (dir) await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("a runtime with the wrong secret never joins, and the secret is never logged", async () => {
  const logsA: string[] = [];
  const logsB: string[] = [];
  const { a, b } = pair("tcp://127.0.0.1:0", "not-the-secret");
  const rtA = await start(a, logsA);
  const rtB = await start(b(rtA.listening!.href), logsB);
  try {
    await waitUntil(() => logsA.some((l) => l.includes("AuthenticationError")), 3000, "refusal");
    assert.deepEqual(rtA.tree().peers, []);
    assert.equal(rtB.tree().peers[0].state, "connecting");
    await assert.rejects(rtB.ref("front").request("whoami"), /no container named "front"/);
    for (const line of [...logsA, ...logsB]) {
      assert.ok(!line.includes(SECRET) && !line.includes("not-the-secret"), line);
    }
  } finally {
    await rtB.shutdown();
    await rtA.shutdown();
  }
});

Deno.test("two runtimes running a container of the same name are refused with a clear message", async () => {
  const logs: string[] = [];
  const rtA = await start({
    transports: { name: "a", listen: "tcp://127.0.0.1:0", secret: SECRET },
    containers: { same: { module: "./member.ts", mode: "inline" } },
  }, logs);
  const rtB = await start({
    transports: { name: "b", secret: SECRET },
    hosts: { a: { address: rtA.listening!.href } },
    containers: { same: { module: "./member.ts", mode: "inline" } },
  });
  try {
    await waitUntil(() => logs.some((l) => l.includes("refused runtime")), 3000, "refusal");
    assert.match(
      logs.find((l) => l.includes("refused runtime"))!,
      /both runtimes run "same"; container names are unique across the application/,
    );
  } finally {
    await rtB.shutdown();
    await rtA.shutdown();
  }
});

Deno.test("a refused runtime is told why: it logs the reason and shows it on the peer in its tree, never naming another runtime", async () => {
  const logsB: string[] = [];
  const rtA = await start({
    transports: { name: "a", listen: "tcp://127.0.0.1:0", secret: SECRET },
    containers: { same: { module: "./member.ts", mode: "inline" } },
  });
  const rtC = await start({
    transports: { name: "c", secret: SECRET },
    hosts: { a: { address: rtA.listening!.href } },
    containers: { back: { module: "./member.ts", mode: "inline" } },
  });
  await waitUntil(() => connected(rtA, "c"), 3000, "c links with a");
  const rtB = await start({
    transports: { name: "b", secret: SECRET },
    hosts: { a: { address: rtA.listening!.href } },
    containers: { back: { module: "./member.ts", mode: "inline" } },
  }, logsB);
  try {
    const refusal = () => logsB.find((l) => l.includes("refused this runtime's link"));
    await waitUntil(() => refusal() !== undefined, 3000, "b hears why");
    assert.match(
      refusal()!,
      /runtime "a" at tcp:\/\/127\.0\.0\.1:\d+\/? refused this runtime's link: "back" already runs on another runtime$/,
    );
    const [peer] = rtB.tree().peers;
    assert.equal(peer.state, "connecting");
    assert.equal(peer.refused, '"back" already runs on another runtime');
    assert.ok(!logsB.some((l) => l.includes('"c"')), "c's name is not told to b");
  } finally {
    await rtB.shutdown();
    await rtC.shutdown();
    await rtA.shutdown();
  }
});

Deno.test("a request made the moment a peer links waits for the peer's routes instead of failing", async () => {
  const { a, b } = pair("tcp://127.0.0.1:0");
  const rtA = await start(a);
  const rtB = await start(b(rtA.listening!.href));
  try {
    // No wait for routes: the first instant A lists B as connected, A asks for B's container.
    const end = performance.now() + 10_000;
    while (!rtA.tree().peers.some((p) => p.name === "b" && p.state === "connected")) {
      if (performance.now() > end) {
        throw new Error("timed out waiting for A to list B as connected");
      }
      await new Promise((r) => setTimeout(r, 0));
    }
    assert.equal(await rtA.ref("side").request("whoami"), "side#0.1");
  } finally {
    await rtB.shutdown();
    await rtA.shutdown();
  }
});

Deno.test("max_frame: a request or reply larger than a link's frame fails with FrameError at once; the link stays up", async () => {
  const rtA = await start({
    transports: { name: "a", listen: "tcp://127.0.0.1:0", secret: SECRET, max_frame: "64KiB" },
    containers: { front: { module: "./member.ts", mode: "inline" } },
  });
  const rtB = await start({
    transports: { name: "b", secret: SECRET, max_frame: "64KiB" },
    hosts: { a: { address: rtA.listening!.href } },
    containers: { side: { module: "./member.ts", mode: "inline" } },
  });
  try {
    await waitUntil(() => connected(rtA, "b") && connected(rtB, "a"), 5000, "linked");
    const began = performance.now();
    await assert.rejects(
      rtA.ref("side").request("echo", "y".repeat(100_000), { timeout: 10_000 }),
      (e: Error) =>
        e instanceof FrameError &&
        /request "echo" not sent: 1000\d\d bytes exceed the link's maximum frame of 65536 bytes/
          .test(e.message),
    );
    await assert.rejects(
      rtA.ref("side").request("text", { size: 70_000 }, { timeout: 10_000 }),
      (e: Error) =>
        e instanceof FrameError && /reply not sent: 700\d\d bytes exceed/.test(e.message),
    );
    assert.ok(performance.now() - began < 2_000, "refused at once, not at the timeout");
    // The link stayed up, and what fits still crosses.
    assert.equal(await rtA.ref("side").request("echo", "y".repeat(60_000)), "y".repeat(60_000));
    assert.equal(rtA.tree().peers[0].state, "connected");
  } finally {
    await rtB.shutdown();
    await rtA.shutdown();
  }
});
