// Workers get a direct channel to each other once they talk, not at start: starting n workers
// made n² channels before (see runtime/_peer_ports.ts).
import assert from "node:assert/strict";
import type echo from "../fixtures/echo.ts";
import { withRuntime } from "../_helpers.ts";

const NAMES = ["a", "b", "c", "d", "e", "f"];

/** Counts the MessageChannels made in this isolate while `fn` runs. */
async function countChannels(fn: (seen: () => number) => Promise<void>): Promise<void> {
  const Original = globalThis.MessageChannel;
  let made = 0;
  globalThis.MessageChannel = class extends Original {
    constructor() {
      super();
      made++;
    }
  };
  try {
    await fn(() => made);
  } finally {
    globalThis.MessageChannel = Original;
  }
}

Deno.test("[worker] workers that never talk to each other get no direct channel", async () => {
  await countChannels(async (made) => {
    await withRuntime({
      containers: Object.fromEntries(
        NAMES.map((n) => [n, { module: "./echo.ts", mode: "worker" }]),
      ),
    }, async (rt) => {
      for (const name of NAMES) await rt.ref(name).request("echo", name);
      assert.equal(made(), 0);
    });
  });
});

Deno.test("[worker] two workers that talk get one direct channel, and later traffic skips the host", async () => {
  await countChannels(async (made) => {
    await withRuntime({
      containers: Object.fromEntries(
        NAMES.map((n) => [n, { module: "./echo.ts", mode: "worker" }]),
      ),
    }, async (rt) => {
      const a = rt.ref<typeof echo>("a");
      for (let i = 0; i < 10; i++) await a.request("ask", { to: "b", topic: "count" });
      await rt.ref<typeof echo>("b").request("ask", { to: "a", topic: "count" });
      assert.equal(made(), 1, "one channel for the pair, whichever side asks");
      const relayed = rt.tree().relayed;
      assert.ok(relayed <= 2, `only the first exchange crossed the host (relayed ${relayed})`);
      for (let i = 0; i < 10; i++) await a.request("ask", { to: "b", topic: "count" });
      assert.equal(rt.tree().relayed, relayed);
    });
  });
});
