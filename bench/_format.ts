// Formatting the benches share: rates, durations, ratios, verdicts, medians and aligned tables.

/** A rate as `12.3k/s` or `1.23M/s`. */
export function rate(rps: number): string {
  return rps >= 1e6 ? `${(rps / 1e6).toFixed(2)}M/s` : `${(rps / 1e3).toFixed(1)}k/s`;
}

/** Milliseconds as `0.123 ms` (3 decimals below 10 ms, 1 above). */
export function ms(value: number): string {
  return value >= 10 ? `${value.toFixed(1)} ms` : `${value.toFixed(3)} ms`;
}

/** A ratio as `1.23x`. */
export function ratio(value: number): string {
  return `${value.toFixed(2)}x`;
}

/** A target check as `ok` or `MISS`. */
export function verdict(ok: boolean): string {
  return ok ? "ok" : "MISS";
}

/** The median of `values`. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Prints rows under `head`, the first column left-aligned, the others right-aligned. */
export function table(head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  console.log(line(head));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of rows) console.log(line(row));
}
