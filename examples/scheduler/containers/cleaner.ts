// The cleanup job, in a subprocess with no permission at all: it drops the entries of its cache
// older than 30 s (here, made up as it goes) and says how many in the journal. Kill -9 one of the
// processes: its replica restarts, and the ticks go on to whichever replica is up.
import { container } from "../../../container.ts";
import type journal from "./journal.ts";

export default container((ctx) => {
  const cache = new Map<number, number>(); // key -> when it was stored (ms)
  let next = 0;
  return {
    async cleanup(_body: unknown, meta: { tick?: string }) {
      const now = Date.now();
      for (let i = 0; i < 3; i++) cache.set(next++, now - Math.floor(Math.random() * 60_000));
      let removed = 0;
      for (const [key, at] of cache) {
        if (now - at > 30_000) {
          cache.delete(key);
          removed++;
        }
      }
      await ctx.ref<typeof journal>("journal").request("append", {
        tick: meta.tick ?? "(not a tick)",
        job: "cleanup",
        by: `${ctx.instance} pid ${Deno.pid}`,
        note: `removed ${removed}, ${cache.size} left`,
      });
      return removed;
    },
  };
});
