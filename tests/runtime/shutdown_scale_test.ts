// Shutting down many containers stays linear: a container that stops does not send the whole
// routing table to every node still running, and its `down` goes only to the workers it held a
// direct channel to (see runtime/_peer_ports.ts).
import assert from "node:assert/strict";
import { BatchingLink } from "../../transports/link.ts";
import type { Envelope } from "../../protocol/envelope.ts";
import { withRuntime } from "../_helpers.ts";

Deno.test("[worker] a runtime shutting down sends no routing table to the nodes it is stopping", async () => {
  const names = Array.from({ length: 8 }, (_, i) => `c${i}`);
  const sent = { routes: 0, down: 0 };
  const send = BatchingLink.prototype.send;
  let counting = false;
  BatchingLink.prototype.send = function (this: BatchingLink, env: Envelope) {
    if (counting && (env.k === "routes" || env.k === "down")) sent[env.k]++;
    return send.call(this, env);
  };
  try {
    await withRuntime({
      containers: Object.fromEntries(
        names.map((n) => [n, { module: "./echo.ts", mode: "worker" }]),
      ),
    }, async (rt) => {
      for (const name of names) await rt.ref(name).request("echo", name);
      // c0 and c1 talk: they hold a direct channel, the others none.
      await rt.ref("c0").request("ask", { to: "c1", topic: "count" });
      counting = true;
    });
  } finally {
    BatchingLink.prototype.send = send;
  }
  assert.equal(sent.routes, 0, "no table went out while stopping");
  // c1 stops before c0 (reverse start order): c0 alone hears of it.
  assert.equal(sent.down, 1, `${sent.down} down notices`);
});
