/**
 * `--log-format`: how `kraken start` and `kraken node` write log lines to stderr. `text` (the
 * default) for people; `json` for log shippers: one JSON object per line, always the same keys.
 *
 * @module
 */
import type { LogEntry } from "../runtime/runtime.ts";
import { usageError } from "./exit.ts";

/** The formats `--log-format` takes. */
export const LOG_FORMATS = ["text", "json"] as const;

/** One of {@linkcode LOG_FORMATS}. */
export type LogFormat = typeof LOG_FORMATS[number];

/** The `--log-format` flag, as both commands declare it. */
export const LOG_FORMAT_FLAG = {
  type: "string",
  value: "FORMAT",
  description: "text (default) | json: one JSON object per line on stderr " +
    "(time, level, container, instance, host, trace_id, msg) for log shippers",
} as const;

/**
 * The `--log-format` value of `command`, checked.
 *
 * @throws {CliError} A usage error naming the flag, the value and the formats.
 */
export function logFormat(command: string, value: unknown): LogFormat {
  if (value === undefined) return "text";
  if (typeof value !== "string" || !(LOG_FORMATS as readonly string[]).includes(value)) {
    throw usageError(
      command,
      `--log-format must be one of ${LOG_FORMATS.join(", ")}, got "${value}"`,
    );
  }
  return value as LogFormat;
}

/** One log line as `--log-format json` writes it. */
export interface JsonLogLine {
  /** ISO 8601, UTC, milliseconds. */
  time: string;
  level: string;
  /** The container that logged it, or `runtime` for the runtime's own lines. */
  container: string;
  /** The instance that logged it (`orders#0.1`), or `null` for the runtime's own lines. */
  instance: string | null;
  /** The machine's host name. */
  host: string;
  /** The runtime's name (the topology's, or the agent's `--name`). */
  runtime: string;
  /** The trace id of the span it was logged in, when tracing is on and there was one. */
  trace_id?: string;
  msg: string;
}

/**
 * A log entry as one JSON line (no newline). Message and source are container text: JSON escapes
 * every control character, so a message cannot forge a second line.
 *
 * @param entry The log entry.
 * @param where The host and runtime names.
 * @param time When it was logged (ms since the epoch).
 * @returns The JSON text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jsonLogLine } from "./_log_format.ts";
 * const line = jsonLogLine(
 *   { level: "info", message: "placed\nFAKE", source: "orders#0.1" },
 *   { host: "box", runtime: "shop" },
 *   0,
 * );
 * assert.equal(
 *   line,
 *   '{"time":"1970-01-01T00:00:00.000Z","level":"info","container":"orders","instance":"orders#0.1","host":"box","runtime":"shop","msg":"placed\\nFAKE"}',
 * );
 * ```
 */
export function jsonLogLine(
  entry: LogEntry,
  where: { host: string; runtime: string },
  time: number = Date.now(),
): string {
  const own = entry.source === "runtime";
  const hash = entry.source.lastIndexOf("#");
  const line: JsonLogLine = {
    time: new Date(time).toISOString(),
    level: entry.level,
    container: own ? "runtime" : hash > 0 ? entry.source.slice(0, hash) : entry.source,
    instance: own ? null : entry.source,
    host: where.host,
    runtime: where.runtime,
    ...(entry.trace === undefined ? {} : { trace_id: entry.trace }),
    msg: entry.message,
  };
  return JSON.stringify(line);
}

/** This machine's host name (`localhost` where it may not be read). */
export function hostName(): string {
  try {
    return Deno.hostname();
  } catch {
    return "localhost";
  }
}
