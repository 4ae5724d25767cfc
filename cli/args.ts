/**
 * Command-line parsing: positionals and `--flags` as each command declares them. Pure.
 *
 * @module
 */
import { usageError } from "./exit.ts";
import { suggest } from "../config/_suggest.ts";

/**
 * One flag a command accepts.
 *
 * @example
 * ```ts
 * import type { Flag } from "./args.ts";
 * const yes: Flag = { type: "boolean", short: "y", description: "do not ask" };
 * ```
 */
export interface Flag {
  /** `boolean` flags take no value (`--yes`, and `--no-follow` for false); `string` flags do. */
  type: "boolean" | "string";
  /** A one-letter alias (`-y`). */
  short?: string;
  /** The placeholder in help (`N`, `URL`). */
  value?: string;
  /** One line for `--help`. */
  description: string;
}

/**
 * Flags by long name (without `--`).
 *
 * @example
 * ```ts
 * import type { FlagSpec } from "./args.ts";
 * const spec: FlagSpec = { tail: { type: "string", value: "N", description: "lines of history" } };
 * ```
 */
export type FlagSpec = Record<string, Flag>;

/**
 * The parsed command line.
 *
 * @example
 * ```ts
 * import type { ParsedArgs } from "./args.ts";
 * const parsed: ParsedArgs = { positionals: ["api"], flags: { json: true } };
 * ```
 */
export interface ParsedArgs {
  /** Arguments that are not flags, in order. */
  positionals: string[];
  /** Flags given, by long name: `true`/`false` or the string value. */
  flags: Record<string, string | boolean>;
}

/**
 * Parses `argv` against `spec`. `--name value`, `--name=value`, `-n value`, `--no-name` (a boolean
 * set to false) and `--` (the rest are positionals) are understood.
 *
 * @param command The command's name, for error messages.
 * @param argv The arguments after the command.
 * @param spec The flags it accepts.
 * @returns Positionals and flags.
 * @throws {CliError} Exit code 2: an unknown flag, or a string flag without its value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseArgs } from "./args.ts";
 * const { positionals, flags } = parseArgs("logs", ["api", "--no-follow", "--tail=5"], {
 *   follow: { type: "boolean", description: "keep following" },
 *   tail: { type: "string", value: "N", description: "lines of history" },
 * });
 * assert.equal(positionals[0], "api");
 * assert.equal(flags.follow, false);
 * assert.equal(flags.tail, "5");
 * ```
 */
export function parseArgs(command: string, argv: readonly string[], spec: FlagSpec): ParsedArgs {
  const positionals: string[] = [];
  const flags: Record<string, string | boolean> = {};
  const byShort = new Map(
    Object.entries(spec).filter(([, f]) => f.short).map(([name, f]) => [f.short!, name]),
  );
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-" || /^-\d/.test(arg)) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const raw = eq === -1 ? arg : arg.slice(0, eq);
    const inline = eq === -1 ? undefined : arg.slice(eq + 1);
    let name = raw.startsWith("--") ? raw.slice(2) : byShort.get(raw.slice(1)) ?? "";
    let negated = false;
    if (!spec[name] && name.startsWith("no-") && spec[name.slice(3)]?.type === "boolean") {
      name = name.slice(3);
      negated = true;
    }
    const flag = spec[name];
    if (!flag) {
      const known = Object.keys(spec).map((n) => `--${n}`).join(", ");
      const near = raw.startsWith("--") ? suggest(raw.slice(2), Object.keys(spec)) : undefined;
      throw usageError(
        command,
        `unknown option ${raw}${
          near ? ` (did you mean --${near}?)` : ""
        }; expected one of ${known}`,
      );
    }
    if (flag.type === "boolean") {
      if (inline !== undefined && !["true", "false"].includes(inline)) {
        throw usageError(command, `--${name} takes no value, got "${inline}"`);
      }
      flags[name] = negated ? false : inline !== "false";
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) {
      throw usageError(command, `--${name} needs a value (${flag.value ?? "VALUE"})`);
    }
    flags[name] = value;
  }
  return { positionals, flags };
}

/**
 * The help text of a command's flags, one per line, aligned.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { flagHelp } from "./args.ts";
 * const text = flagHelp({ yes: { type: "boolean", short: "y", description: "do not ask" } });
 * assert.ok(text.includes("-y, --yes"));
 * ```
 */
export function flagHelp(spec: FlagSpec): string {
  const rows = Object.entries(spec).map(([name, f]) => [
    `${f.short ? `-${f.short}, ` : "    "}--${name}${f.value ? ` ${f.value}` : ""}`,
    f.description,
  ]);
  const width = Math.max(0, ...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`).join("\n");
}
