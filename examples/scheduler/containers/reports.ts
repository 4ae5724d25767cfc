// The minutely report: what the journal holds so far, written back to it as one line. Any replica
// may get a tick; the schedule sends each tick to one of them, once.
import { container } from "../../../container.ts";
import type journal from "./journal.ts";

export default container((ctx) => ({
  async run(body: { kind?: string } | undefined, meta: { tick?: string }) {
    const summary = await ctx.ref<typeof journal>("journal").request("check");
    const note = `${body?.kind ?? "?"} report: ${summary.ticks} ticks so far ${
      JSON.stringify(summary.perJob)
    }`;
    await ctx.ref<typeof journal>("journal").request("append", {
      tick: meta.tick ?? "(not a tick)",
      job: "report",
      by: ctx.instance,
      note,
    });
    return note;
  },
}));
