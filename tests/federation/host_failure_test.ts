// A peer runtime in its own OS process fails: killed (-9) or frozen (SIGSTOP). Its containers are
// held for while it is away, requests made meanwhile complete once it is back, and a frozen peer
// is declared unreachable after its keepalive.
import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import { FIXTURES, waitUntil } from "../_helpers.ts";

const SECRET = "host-failure";

function spawnB(address: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-lock", new URL("runtime_b.ts", FIXTURES).pathname, address, SECRET],
    stdin: "piped",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
}

async function withA(fn: (rt: Runtime, logs: string[]) => Promise<void>): Promise<void> {
  const logs: string[] = [];
  const rt = await Runtime.start({
    name: "shop",
    transports: { name: "a", listen: "tcp://127.0.0.1:0", secret: SECRET, keepalive: "500ms" },
    containers: { front: { module: "./member.ts", mode: "inline" } },
  }, { baseUrl: FIXTURES.href, logLevel: "info", logger: (e) => logs.push(e.message) });
  try {
    await fn(rt, logs);
  } finally {
    await rt.shutdown();
  }
}

const state = (rt: Runtime) => rt.tree().peers.find((p) => p.name === "b")?.state;

Deno.test("a peer runtime killed with SIGKILL: requests made while it is away complete when it is back", async () => {
  await withA(async (rt) => {
    let b = spawnB(rt.listening!.href);
    try {
      await waitUntil(() => state(rt) === "connected", 10_000, "b joined");
      await waitUntil(() => rt.tree().peers[0].containers.includes("back"), 5000, "b's routes");
      const pid = await rt.ref("back").request("pid") as number;
      b.kill("SIGKILL");
      await b.status;
      await b.stdin.close().catch(() => {});
      await waitUntil(() => state(rt) === "connecting", 3000, "b seen gone");
      const pending = rt.ref("back").request("pid", undefined, { timeout: 10_000 });
      b = spawnB(rt.listening!.href);
      const newPid = await pending;
      assert.notEqual(newPid, pid, "answered by the new runtime b");
      assert.equal(state(rt), "connected");
    } finally {
      await b.stdin.close().catch(() => {});
      try {
        b.kill("SIGKILL");
      } catch {
        // already gone
      }
      await b.status;
    }
  });
});

Deno.test("a frozen peer runtime (SIGSTOP) is declared unreachable after its keepalive, and rejoins when it thaws", async () => {
  await withA(async (rt, logs) => {
    const b = spawnB(rt.listening!.href);
    try {
      await waitUntil(() => state(rt) === "connected", 10_000, "b joined");
      await waitUntil(() => rt.tree().peers[0].containers.includes("back"), 5000, "b's routes");
      // Its instance is in the table (a reply came back through it) before b is frozen: on a busy
      // machine the claim can arrive before the routes that list the instance.
      assert.equal(
        typeof await rt.ref("back").request("pid", undefined, { timeout: 5000 }),
        "number",
      );
      const unresponsive: string[] = [];
      rt.on("unresponsive", (e) => unresponsive.push(e.instance));
      Deno.kill(b.pid, "SIGSTOP");
      const t = performance.now();
      await waitUntil(() => state(rt) !== "connected", 5000, "b declared unreachable");
      const took = performance.now() - t;
      assert.ok(took >= 300 && took < 3000, `declared after ${took} ms`);
      assert.ok(logs.some((l) => /runtime "b" silent for \d+ ms: unreachable/.test(l)));
      assert.deepEqual(unresponsive, ["back#0.1"], "presence reaches the runtime's events");
      // The sender's choice: fail at once rather than wait for the peer.
      await assert.rejects(
        rt.ref("back").request("pid", undefined, { hold: false }),
        /restarting or its runtime is away \(and the sender chose hold: false\)/,
      );
      Deno.kill(b.pid, "SIGCONT");
      await waitUntil(() => state(rt) === "connected", 10_000, "b rejoined");
      assert.equal(
        typeof await rt.ref("back").request("pid", undefined, { timeout: 5000 }),
        "number",
      );
    } finally {
      try {
        Deno.kill(b.pid, "SIGCONT");
      } catch {
        // gone
      }
      await b.stdin.close().catch(() => {});
      await b.status;
    }
  });
});
