/**
 * Schedules as `kraken status` and `kraken schedules` print them: one row each, with when it
 * fires, where each tick goes, when it fires next and how its last tick went.
 *
 * @module
 */
import type { ScheduleSnapshot } from "../runtime/runtime.ts";
import { formatHandlerTime, type Palette, table } from "./output.ts";

/**
 * The table of schedules (`now` in ms, to say how soon the next tick is).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderSchedules } from "./_schedules_view.ts";
 * import { palette } from "./output.ts";
 * const text = renderSchedules([{
 *   name: "cleanup", every: 10_000, to: "cleaner", topic: "cleanup", missed: "skip",
 *   next: "2026-12-05T00:00:10.000Z", last: null, fired: 0, missedTicks: 0, okTicks: 0, failedTicks: 0,
 * }], palette(false), Date.parse("2026-12-05T00:00:03Z"));
 * assert.match(text, /cleanup\s+every 10s\s+cleaner\.cleanup\s+2026-12-05T00:00:10Z \(in 7s\)\s+-/);
 * ```
 */
export function renderSchedules(
  schedules: readonly ScheduleSnapshot[],
  c: Palette,
  now: number = Date.now(),
): string {
  const rows = [["SCHEDULE", "WHEN", "TO", "NEXT", "LAST", "FIRED", "MISSED"].map((h) => c.dim(h))];
  for (const s of schedules) {
    const when = s.cron !== undefined
      ? `cron ${s.cron}${s.timezone ? ` (${s.timezone})` : ""}`
      : `every ${seconds(s.every ?? 0)}`;
    const next = s.next === null
      ? c.dim("never")
      : `${s.next.replace(".000Z", "Z")} (in ${seconds(Math.max(0, Date.parse(s.next) - now))})`;
    const last = s.last === null
      ? c.dim("-")
      : `${s.last.at.replace(".000Z", "Z")} ${
        s.last.outcome === "ok"
          ? c.green("ok")
          : s.last.outcome === "failed"
          ? c.red(`failed: ${s.last.error ?? ""}`)
          : c.yellow("running")
      }${s.last.ms === undefined ? "" : c.dim(` ${formatHandlerTime(s.last.ms)}`)}`;
    rows.push([
      c.bold(s.name),
      when,
      `${s.to}${s.entity === undefined ? "" : `[${s.entity}]`}.${s.topic}`,
      next,
      last,
      String(s.fired),
      s.missedTicks > 0 ? c.yellow(`${s.missedTicks} (${s.missed})`) : "0",
    ]);
  }
  return table(rows);
}

/** Whole seconds, as `7s`, `1m30s`. */
function seconds(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ""}` : `${s}s`;
}
