// NATS's max_payload plays the part of a link's max_frame: a request or reply too large for it
// fails at once with FrameError (not at its timeout), and smaller messages still cross.
import assert from "node:assert/strict";
import { FrameError, Runtime } from "../../mod.ts";
import { FIXTURES, waitUntil } from "../_helpers.ts";
import { NatsServer, natsTest } from "./_nats_server.ts";

natsTest(
  "a request or reply larger than NATS's max_payload fails with FrameError at once",
  async () => {
    const dir = await Deno.makeTempDir();
    const config = `${dir}/nats.conf`;
    await Deno.writeTextFile(config, "max_payload: 65536\n");
    const server = await NatsServer.start(["-c", config]);
    const runtimes: Runtime[] = [];
    try {
      for (const [name, container] of [["a", "front"], ["b", "back"]]) {
        runtimes.push(
          await Runtime.start({
            name: "shop",
            transports: { name, keepalive: "500ms", nats: { servers: [server.url] } },
            containers: { [container]: { module: "./member.ts", mode: "inline" } },
          }, { baseUrl: FIXTURES.href, logLevel: "silent" }),
        );
      }
      const [a] = runtimes;
      await waitUntil(() => a.tree().peers.some((p) => p.state === "connected"), 5000, "a sees b");
      const began = performance.now();
      await assert.rejects(
        a.ref("back").request("echo", "y".repeat(100_000), { timeout: 10_000 }),
        (e: Error) =>
          e instanceof FrameError &&
          /^request "echo" not sent: 1000\d\d bytes exceed the NATS server's max_payload of 65536 bytes$/
            .test(e.message),
      );
      await assert.rejects(
        a.ref("back").request("text", { size: 70_000 }, { timeout: 10_000 }),
        (e: Error) =>
          e instanceof FrameError &&
          /^reply not sent: 700\d\d bytes exceed the NATS server's max_payload/.test(e.message),
      );
      assert.ok(performance.now() - began < 2_000, "refused at once, not at the timeout");
      assert.equal(await a.ref("back").request("echo", "y".repeat(60_000)), "y".repeat(60_000));
    } finally {
      for (const rt of runtimes) await rt.shutdown();
      await server.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
