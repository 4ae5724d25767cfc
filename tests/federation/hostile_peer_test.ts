// A peer runtime that holds the secret is still a peer: it speaks for its own containers only.
// Here a raw link passes the handshake, introduces itself, then tries to take over a container
// of ours (its name, or one of its instance ids under a name of its own) and to answer our
// requests on that container's behalf.
import assert from "node:assert/strict";
import { FIXTURES } from "../_helpers.ts";
import { Runtime } from "../../mod.ts";
import { defaultTransports } from "../../transports/defaults.ts";
import { TransportSet } from "../../transports/transport_set.ts";
import type { Envelope } from "../../protocol/envelope.ts";

/** The built-in transports, as a runtime given none uses them. */
const builtin = new TransportSet(defaultTransports());

const SECRET = "hostile-peer";

Deno.test("a peer holding the secret cannot reroute our containers' traffic or answer for them", async () => {
  const logs: string[] = [];
  const rt = await Runtime.start({
    name: "shop",
    transports: { name: "a", listen: "tcp://127.0.0.1:0", secret: SECRET, keepalive: "2s" },
    containers: { front: { module: "./echo.ts", mode: "worker" } },
  }, {
    baseUrl: FIXTURES.href,
    logLevel: "warn",
    logger: (e) => logs.push(e.message),
  });
  const link = await builtin.dial(rt.listening!, { secret: SECRET });
  try {
    const seen: Envelope[] = [];
    link.onEnvelope = (env) => {
      seen.push(env);
      // Whatever reaches it, it answers as front#0.1 would.
      if (env.k === "req") {
        link.send({ k: "res", i: env.i, d: env.s, f: "front#0.1", b: { instance: "stolen" } });
      }
    };
    link.send({ k: "join", n: "evil", c: ["evil"] });
    link.send({
      k: "routes",
      r: {
        // Our container's name, and our instance's id under a name of its own.
        front: { balance: "round_robin", instances: [{ i: "front#0.7", n: "w1" }] },
        evil: { balance: "round_robin", instances: [{ i: "front#0.1", n: "w1" }] },
      },
    });
    const deadline = performance.now() + 5000;
    while (!rt.tree().peers.some((p) => p.name === "evil" && p.state === "connected")) {
      if (performance.now() > deadline) throw new Error("the peer never linked");
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 100));
    const answers = new Set<string>();
    for (let k = 0; k < 20; k++) {
      answers.add(((await rt.ref("front").request("whoami")) as { instance: string }).instance);
    }
    assert.deepEqual([...answers], ["front#0.1"], "our traffic stays ours");
    assert.equal(seen.filter((e) => e.k === "req").length, 0, "no request of ours reached it");
    assert.ok(
      logs.some((l) => /runtime "evil": dropped from its routes: .*front#0\.1/.test(l)),
      logs.join("\n"),
    );
  } finally {
    link.close();
    await rt.shutdown();
  }
});
