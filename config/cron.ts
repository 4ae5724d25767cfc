/**
 * Cron expressions, read by `npm:croner` (seconds, time zones, `L`, `W`, `#`, `@hourly`…), loaded
 * on demand: the library's entry imports no npm package, so a worker or process that never reads
 * a schedule never pays for it.
 *
 * @module
 */
import type * as Croner from "croner";
import { TopologyError } from "../protocol/errors.ts";

/**
 * When a cron expression fires next: the first time strictly after `after` (ms since the epoch),
 * or `null` when it never fires again (an expression that never fires at all, such as
 * `0 0 30 2 *`, February 30th, is refused by {@linkcode cronNextRun}).
 */
export type NextRun = (after: number) => number | null;

/**
 * Reads a cron expression with the cron parser (loaded on first use).
 *
 * @param expression 5 fields (minute first) or 6 (seconds first), or `@hourly`, `@daily`…
 * @param options `timezone`: the IANA zone it is read in (default UTC); `key`: the key path an
 *   error names (default `cron`).
 * @returns Its {@linkcode NextRun}.
 * @throws {TopologyError} A value the parser refuses (an out-of-range field, an unknown name or
 *   zone), naming the key, the expression and the parser's reason; or one that never fires
 *   (`0 0 30 2 *`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cronNextRun } from "./cron.ts";
 * const next = await cronNextRun("0 * * * * *", { timezone: "Europe/Paris" });
 * assert.equal(next(Date.parse("2026-01-01T00:00:30Z")), Date.parse("2026-01-01T00:01:00Z"));
 * await assert.rejects(cronNextRun("61 * * * * *"), /cron: "61 \* \* \* \* \*" is not a valid/);
 * await assert.rejects(cronNextRun("0 0 30 2 *"), /cron: "0 0 30 2 \*" never fires/);
 * ```
 */
export async function cronNextRun(
  expression: string,
  options: { timezone?: string; key?: string; file?: string; line?: number; column?: number } = {},
): Promise<NextRun> {
  const { Cron }: typeof Croner = await import("croner");
  const where = {
    key: options.key ?? "cron",
    file: options.file,
    line: options.line,
    column: options.column,
  };
  let cron: Croner.Cron;
  let first: Date | null;
  try {
    // Without a zone, cron is read in UTC, not in whatever zone this machine is set to.
    cron = new Cron(expression, { timezone: options.timezone ?? "UTC", paused: true });
    first = cron.nextRun(new Date(0)); // a bad zone is only noticed when a time is computed
  } catch (error) {
    throw new TopologyError(
      `"${expression}" is not a valid cron expression${
        options.timezone ? ` in time zone ${options.timezone}` : ""
      }: ${
        (error as Error).message
      }; expected 5 fields (minute hour day month weekday) or 6 (seconds first)`,
      where,
    );
  }
  // Its fields repeat every year (there is no year field), so one that has no time at all since
  // 1970 never has one: a schedule that would sit there with `next: null`, silently never run.
  if (first === null) {
    throw new TopologyError(
      `"${expression}" never fires (no date matches all its fields, such as February 30th); ` +
        "expected a cron expression that matches at least one time",
      where,
    );
  }
  return (after) => cron.nextRun(new Date(after))?.getTime() ?? null;
}
