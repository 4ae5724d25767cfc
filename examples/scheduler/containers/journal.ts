// The journal: one line per tick a job ran — `<tick id>  <job>  <instance>  <what it did>` — kept
// in memory and appended to the file of `config.file`. `check` counts the ticks and lists any that
// ran more than once (there should be none, whatever is scaled, reloaded or killed).
import { container } from "../../../container.ts";

/** One line of the journal, as a job sends it. */
export interface Entry {
  tick: string;
  job: string;
  by: string;
  note: string;
}

export default container((ctx) => {
  const file = String(ctx.config.file);
  const lines: string[] = [];
  const runs = new Map<string, number>();
  return {
    async append(entry: Entry) {
      const line = `${entry.tick}  ${entry.job.padEnd(7)}  ${entry.by.padEnd(12)}  ${entry.note}`;
      lines.push(line);
      runs.set(entry.tick, (runs.get(entry.tick) ?? 0) + 1);
      await Deno.writeTextFile(file, `${line}\n`, { append: true });
      return lines.length;
    },
    /** The last `n` lines (default 20). */
    show(body: { n?: number } | undefined) {
      return lines.slice(-(body?.n ?? 20));
    },
    /** How many ticks ran, per job, and the ticks that ran more than once. */
    check() {
      const perJob: Record<string, number> = {};
      for (const tick of runs.keys()) {
        const job = tick.split("@")[0];
        perJob[job] = (perJob[job] ?? 0) + 1;
      }
      const twice = [...runs].filter(([, n]) => n > 1).map(([tick]) => tick);
      return { ticks: runs.size, perJob, twice };
    },
  };
});
