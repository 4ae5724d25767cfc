// Entity handlers in the metrics, in every local mode: each message's handler run counts in its
// topic's histogram (kraken_handler_duration_seconds) and in the container's handler sum and
// count, like a plain container's; the active entities are a gauge.
import assert from "node:assert/strict";
import type { Mode, TopologyInput } from "../../mod.ts";
import type room from "../fixtures/entities/room.ts";
import { prometheusText } from "../../management/prometheus.ts";
import { MODES, waitUntil, withRuntime } from "../_helpers.ts";

const topology = (mode: Mode): TopologyInput => ({
  containers: {
    // Idle long enough that no entity is passivated while the figures are read.
    rooms: { module: "./entities/room.ts", mode, entities: { idle: "1m" } },
  },
});

for (const mode of MODES) {
  Deno.test(`[${mode}] entity handler runs count per topic and in the handler sum, and active entities are a gauge`, async () => {
    await withRuntime(topology(mode), async (rt) => {
      const rooms = rt.ref<typeof room>("rooms");
      // Each bump takes at least 2 ms: every run is timed (a fast one would be sampled).
      for (let i = 0; i < 3; i++) await rooms.entity("x").request("bump", { ms: 2 });
      await rooms.entity("y").request("bump", { ms: 2 });
      await assert.rejects(rooms.entity("y").request("boom"), /room y exploded/);
      const figures = () => rt.metrics().find((m) => m.container === "rooms");
      const runs = (topic: string) => figures()?.topics?.find((t) => t.topic === topic)?.runs;
      // A worker's or process's figures come with its heartbeat.
      await waitUntil(
        () => runs("bump") === 4 && runs("boom") === 1 && figures()?.entities === 2,
        5000,
        "4 bumps, 1 boom and 2 active entities in the figures",
      );
      const bump = figures()!.topics!.find((t) => t.topic === "bump")!;
      assert.equal(bump.kind, "handler");
      assert.ok(bump.sumMs >= 4 * 2, `4 runs of at least 2 ms took ${bump.sumMs} ms`);
      const text = prometheusText(rt.metrics());
      const labels = `container="rooms",mode="${mode}",host="local"`;
      assert.ok(text.includes(`kraken_entities_active{${labels}} 2\n`), text);
      assert.ok(
        text.includes(
          `kraken_handler_duration_seconds_count{${labels},topic="bump",kind="handler"} 4\n`,
        ),
      );
      assert.ok(text.includes(`kraken_handler_seconds_count{${labels}} 5\n`));
      assert.match(text, new RegExp(`^kraken_handler_seconds\\{${labels},quantile="0.5"\\} `, "m"));
    });
  });
}
