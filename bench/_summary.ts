// The one summary table `deno task bench` ends with: every bench hands its headline figures here
// as rows (figure, value or ratio, target, met/missed), wherever it runs.
//
// A bench running inside bench/main.ts's process calls `addSummaryRow`; a bench that main.ts
// runs as its own process calls the same function: main.ts passes the path of a JSON-lines file
// in KRAKEN_BENCH_SUMMARY, rows are appended to it, and main.ts reads them back when the child
// ends. A bench run on its own (`deno task bench:…`) prints its rows itself with
// `printSummary()`.

/** One row of the summary table. */
export interface SummaryRow {
  /** What is measured, e.g. `inline req/s vs Comedy in-memory`. */
  figure: string;
  /** The measured value or ratio as printed, e.g. `2.12x` or `18.4 ms`. */
  value: string;
  /** The target as printed, e.g. `>= 2x`; `-` for a figure shown for information. */
  target: string;
  /** Whether the target is met; `null` when there is no target. */
  met: boolean | null;
  /** Which bench file measured it. */
  bench: string;
}

/** The environment variable naming the JSON-lines file child benches append their rows to. */
export const SUMMARY_ENV = "KRAKEN_BENCH_SUMMARY";

const rows: SummaryRow[] = [];

/** Records one row; appends it to the parent's file when run under bench/main.ts. */
export function addSummaryRow(row: SummaryRow): void {
  rows.push(row);
  const file = Deno.env.get(SUMMARY_ENV);
  if (file) Deno.writeTextFileSync(file, JSON.stringify(row) + "\n", { append: true });
}

/** The rows recorded in this process, plus those child benches appended to `file`. */
export function summaryRows(file?: string): SummaryRow[] {
  const own = Deno.env.get(SUMMARY_ENV) ? [] : [...rows]; // under a parent, the file has them
  if (!file) return own;
  let text = "";
  try {
    text = Deno.readTextFileSync(file);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const children = text.split("\n").filter((l) => l.trim() !== "").map((l) =>
    JSON.parse(l) as SummaryRow
  );
  return [...own, ...children];
}

/** The rows as a Markdown table (what docs/performance.md keeps). */
export function summaryMarkdown(list: SummaryRow[]): string {
  const cells = list.map((r) => [
    r.figure,
    r.value,
    r.target,
    r.met === null ? "-" : r.met ? "met" : "MISSED",
    r.bench,
  ]);
  const head = ["figure", "value", "target", "met", "bench"];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i])).join(" | ")} |`;
  return [line(head), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...cells.map(line)]
    .join("\n");
}

/** Prints the summary table of `list` (default: this process's rows). */
export function printSummary(list: SummaryRow[] = summaryRows()): void {
  const missed = list.filter((r) => r.met === false).length;
  const met = list.filter((r) => r.met === true).length;
  console.log(`\nSummary: ${met} target(s) met, ${missed} missed`);
  console.log(summaryMarkdown(list));
}
