/**
 * Checks shared by everything that reads a report a child or an agent made (events, exit reasons,
 * tree snapshots): untrusted values, kept only in the shapes and sizes expected. Pure.
 *
 * @module
 */

/** Longest text kept from a report (an exit message, a stack, a log line is not cut). */
export const MAX_TEXT = 16 * 1024;

/** A plain object (not an array, not null). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A finite number >= 0. */
export function count(value: unknown): boolean {
  return typeof value === "number" && value >= 0 && Number.isFinite(value);
}

/** `text`, cut to `MAX_TEXT`. */
export function short(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text;
}
