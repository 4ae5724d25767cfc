// Reminders owned by an entity (`e.setTimer`), in every local mode: one fires once, in the
// entity's turn (never beside a message it is handling); cancelled, it never fires; one still
// pending when the entity is passivated is cleared with it and never fires, not even in the
// entity's next activation.
import assert from "node:assert/strict";
import type { Runtime } from "../../mod.ts";
import type reminder from "../fixtures/entities/reminder.ts";
import { MODES, waitUntil, withRuntime } from "../_helpers.ts";

type Reminded = { id: string; note: string; busy: boolean };

function reminded(rt: Runtime): Reminded[] {
  const seen: Reminded[] = [];
  rt.subscribe("reminded", (body) => void seen.push(body as Reminded));
  return seen;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const mode of MODES) {
  const topology = { containers: { notes: { module: "./entities/reminder.ts", mode } } };

  Deno.test(`[${mode}] an entity's reminder fires once, in the entity's turn, after the message it waited behind`, async () => {
    await withRuntime(topology, async (rt) => {
      const seen = reminded(rt);
      const e = rt.ref<typeof reminder>("notes").entity("n-1");
      await e.request("remind", { ms: 50, note: "soon" });
      // Due while the entity is handling `hold`: it runs after it, never beside it.
      await e.request("hold", { ms: 300 });
      await waitUntil(() => seen.length >= 1, 3000, "the reminder");
      await pause(200);
      assert.deepEqual(seen, [{ id: "n-1", note: "soon", busy: false }]);
      assert.deepEqual(await e.request("pending"), []);
    });
  });

  Deno.test(`[${mode}] a cancelled reminder never fires, and others go on`, async () => {
    await withRuntime(topology, async (rt) => {
      const seen = reminded(rt);
      const e = rt.ref<typeof reminder>("notes").entity("n-2");
      // Far enough off that a busy machine still cancels in time; the kept one comes due after it.
      await e.request("remind", { ms: 1500, note: "cancelled" });
      await e.request("remind", { ms: 1700, note: "kept" });
      assert.equal(await e.request("forget", { note: "cancelled" }), true);
      await waitUntil(() => seen.length >= 1, 3000, "the kept reminder");
      await pause(200);
      assert.deepEqual(seen.map((r) => r.note), ["kept"]);
    });
  });

  Deno.test(`[${mode}] a reminder pending at passivation is cleared with its entity and never fires`, async () => {
    await withRuntime(topology, async (rt) => {
      const seen = reminded(rt);
      const e = rt.ref<typeof reminder>("notes").entity("n-3");
      await e.request("remind", { ms: 300, note: "lost" });
      assert.equal(await e.request("leave"), true);
      await pause(100);
      // The next activation starts with no reminder of the last one's.
      assert.deepEqual(await e.request("pending"), []);
      await pause(500);
      assert.deepEqual(seen, []);
    });
  });
}
