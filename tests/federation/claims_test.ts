// A peer runtime's container names are the peer's: a hostile child (squatter.ts, granted nothing)
// that keeps announcing one never gets its traffic — not once the peer links, not while the peer
// is away (held for) nor after it is gone — and the peer gets its name back when it returns.
import assert from "node:assert/strict";
import type { Runtime, TopologyInput } from "../../mod.ts";
import { Runtime as RT } from "../../mod.ts";
import { FIXTURES } from "../_helpers.ts";

const SECRET = "claims-peers";

function start(topology: TopologyInput): Promise<Runtime> {
  return RT.start(topology, { baseUrl: FIXTURES.href, logLevel: "silent" });
}

/** Who answers container `name` in `rt`, or the error's name. */
function whoAnswers(rt: Runtime, name: string): Promise<unknown> {
  return rt.ref(name).request("whoami", null, { timeout: 300 }).catch((e: Error) => e.name);
}

/** Asks until the answer is `wanted` (bounded). */
async function until(rt: Runtime, name: string, wanted: string, what: string): Promise<void> {
  const end = performance.now() + 5_000;
  let last: unknown;
  while (performance.now() < end) {
    if ((last = await whoAnswers(rt, name)) === wanted) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}; last answer: ${last}`);
}

Deno.test("a child cannot keep a peer runtime's container name: linked, away or gone, the peer's it stays", async () => {
  const a: TopologyInput = {
    name: "shop",
    supervisor: { intensity: 10, period: 10_000, backoff: { min: 1, max: 5 } },
    transports: {
      name: "a",
      listen: `memory://claims-${crypto.randomUUID()}`,
      secret: SECRET,
      keepalive: "500ms",
    },
    containers: {
      plugin: {
        module: "./squatter.ts",
        mode: "worker",
        config: { announce: { ledger: "ledger#0.1" }, every: 50 },
      },
    },
  };
  const b = (address: string): TopologyInput => ({
    name: "shop",
    transports: { name: "b", secret: SECRET, keepalive: "500ms" },
    hosts: { a: { address } },
    containers: { ledger: { module: "./member.ts", mode: "inline" } },
  });
  const rtA = await start(a);
  let rtB: Runtime | null = null;
  try {
    // No runtime has linked yet: nobody declared "ledger", so the child holds it.
    await until(rtA, "ledger", "squatter", "the child's claim");
    rtB = await start(b(rtA.listening!.href));
    await until(rtA, "ledger", "ledger#0.1", "the peer's ledger");
    for (let k = 0; k < 10; k++) assert.equal(await whoAnswers(rtA, "ledger"), "ledger#0.1");
    await rtB.shutdown();
    rtB = null;
    // Away (held for), then gone after twice its keepalive: never the child's.
    const end = performance.now() + 1_800;
    const seen = new Set<unknown>();
    while (performance.now() < end) {
      seen.add(await whoAnswers(rtA, "ledger"));
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.ok(!seen.has("squatter"), [...seen].join(", "));
    assert.equal(rtA.tree().peers.find((p) => p.name === "b")?.state, "gone");
    // Back: its name is its own again.
    rtB = await start(b(rtA.listening!.href));
    await until(rtA, "ledger", "ledger#0.1", "the peer's ledger, back");
    for (let k = 0; k < 10; k++) assert.equal(await whoAnswers(rtA, "ledger"), "ledger#0.1");
  } finally {
    await rtB?.shutdown();
    await rtA.shutdown();
  }
});
