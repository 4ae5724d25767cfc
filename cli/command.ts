/**
 * The shape every `kraken` command has, the flags they share, and how `--help` is written.
 *
 * @module
 */
import { flagHelp, type FlagSpec, type ParsedArgs } from "./args.ts";
import { type Palette, palette, useColor } from "./output.ts";

/**
 * What a command writes to, decided once from the flags and the terminal.
 *
 * @example A command writes JSON or text, as asked
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Io, makeIo } from "./command.ts";
 * const report = (io: Io) => io.json ? io.printJson({ ok: true }) : io.print(io.out.green("ok"));
 * const io = makeIo({ json: true });
 * assert.equal(io.json, true);
 * report(io); // prints {"ok":true}
 * ```
 */
export interface Io {
  /** `--json`: machine-readable output only. */
  readonly json: boolean;
  /** Colours for stdout. */
  readonly out: Palette;
  /** Colours for stderr. */
  readonly err: Palette;
  /** Writes a line to stdout. */
  print(text: string): void;
  /** Writes a line to stderr. */
  error(text: string): void;
  /** Writes a value as one JSON line to stdout. */
  printJson(value: unknown): void;
}

/**
 * One `kraken` command.
 *
 * @example
 * ```ts
 * import type { Command } from "./command.ts";
 * const hello: Command = {
 *   name: "hello",
 *   args: "",
 *   summary: "say hello",
 *   flags: {},
 *   run: (_args, io) => (io.print("hello"), Promise.resolve(0)),
 * };
 * ```
 */
export interface Command {
  /** Its name (`scale`). */
  readonly name: string;
  /** Other names (`tree` for `status`). */
  readonly aliases?: readonly string[];
  /** Its positionals for the usage line (`NAME N`). */
  readonly args: string;
  /** One line for `kraken help`. */
  readonly summary: string;
  /** A paragraph for `kraken COMMAND --help`. */
  readonly description?: string;
  /** Its flags (the shared ones are added by the dispatcher). */
  readonly flags: FlagSpec;
  /** Whether it talks to a running topology (adds `--url` and `--token`). */
  readonly api?: boolean;
  /** Example invocations. */
  readonly examples?: readonly string[];
  /** Runs it; returns the exit code (failures may also throw a `CliError`). */
  run(args: ParsedArgs, io: Io): Promise<number>;
}

/**
 * Flags every command accepts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { COMMON_FLAGS } from "./command.ts";
 * assert.equal(COMMON_FLAGS.json.type, "boolean");
 * ```
 */
export const COMMON_FLAGS: FlagSpec = {
  json: { type: "boolean", description: "machine-readable output (JSON)" },
  color: {
    type: "boolean",
    description: "colours on even when not a terminal (--no-color: off; else NO_COLOR)",
  },
  help: { type: "boolean", short: "h", description: "show this help" },
};

/**
 * Flags of the commands that talk to a running topology.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { API_FLAGS } from "./command.ts";
 * assert.equal(API_FLAGS.url.type, "string");
 * ```
 */
export const API_FLAGS: FlagSpec = {
  url: {
    type: "string",
    value: "URL",
    description: "management API (default: KRAKEN_URL, ./kraken.yaml's management.listen, " +
      "http://127.0.0.1:9090)",
  },
  token: {
    type: "string",
    value: "TOKEN",
    description: "bearer token (default: KRAKEN_TOKEN, ./kraken.yaml's management.token)",
  },
};

/**
 * Every flag `command` accepts: its own, the API ones if it talks to a runtime, the common ones.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { allFlags, type Command } from "./command.ts";
 * const scale: Command = {
 *   name: "scale",
 *   args: "NAME N",
 *   summary: "change replicas live",
 *   flags: {},
 *   api: true,
 *   run: () => Promise.resolve(0),
 * };
 * assert.deepEqual(Object.keys(allFlags(scale)), ["url", "token", "json", "color", "help"]);
 * ```
 */
export function allFlags(command: Command): FlagSpec {
  return { ...command.flags, ...(command.api ? API_FLAGS : {}), ...COMMON_FLAGS };
}

/**
 * The `--help` text of a command.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Command, commandHelp } from "./command.ts";
 * const scale: Command = {
 *   name: "scale",
 *   args: "NAME N",
 *   summary: "change replicas live",
 *   flags: {},
 *   run: () => Promise.resolve(0),
 * };
 * assert.match(commandHelp(scale), /^Usage: kraken scale NAME N \[options\]\n/);
 * ```
 */
export function commandHelp(command: Command): string {
  const names = [command.name, ...(command.aliases ?? [])].join(" | ");
  return [
    `Usage: kraken ${names}${command.args ? ` ${command.args}` : ""} [options]`,
    "",
    command.summary,
    ...(command.description ? ["", wrap(command.description, 80)] : []),
    "",
    "Options:",
    flagHelp(allFlags(command)),
    ...(command.examples?.length
      ? ["", "Examples:", ...command.examples.map((e) => `  ${e}`)]
      : []),
    "",
    "Exit codes: 0 ok · 1 operation failed · 2 bad usage or topology · 3 runtime unreachable · " +
    "4 unauthorized",
  ].join("\n");
}

/** Text folded at spaces into lines of at most `width` characters (a longer word stays whole). */
function wrap(text: string, width: number): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  if (line !== "") lines.push(line);
  return lines.join("\n");
}

/**
 * The {@linkcode Io} for the given flags: colours only on terminals and without `NO_COLOR`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { makeIo } from "./command.ts";
 * const io = makeIo({ json: false, color: false }); // --no-color
 * assert.equal(io.out.green("ok"), "ok");
 * io.print(io.out.green("ok"));
 * ```
 */
export function makeIo(flags: Record<string, string | boolean>): Io {
  const json = flags.json === true;
  const color = typeof flags.color === "boolean" ? flags.color : undefined;
  return {
    json,
    out: palette(!json && useColor(color, "stdout")),
    err: palette(!json && useColor(color, "stderr")),
    print: (text) => console.log(text),
    error: (text) => console.error(text),
    printJson: (value) => console.log(JSON.stringify(value)),
  };
}
