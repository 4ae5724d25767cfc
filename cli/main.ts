/**
 * The `kraken` command line.
 *
 * ```sh
 * deno install -g -A --no-prompt -n kraken jsr:@kraken/kraken/cli
 * kraken new shop && cd shop
 * kraken start              # in one terminal
 * kraken status             # in another
 * kraken scale greeter 4
 * kraken call greeter greet '{"who":"ada"}'
 * kraken reload             # apply an edited kraken.yaml (shows the plan, asks)
 * kraken logs counter
 * kraken shutdown
 * ```
 *
 * Commands that talk to a running topology use its management API (`--url`/`--token`, or
 * `KRAKEN_URL`/`KRAKEN_TOKEN`, or the `management:` block of `./kraken.yaml`). Every command takes
 * `--json` and `--help`. Exit codes: 0 ok · 1 the operation or the application failed · 2 bad
 * usage or a bad topology · 3 the runtime cannot be reached · 4 unauthorized. See docs/cli.md.
 *
 * @module
 */
import { parseArgs } from "./args.ts";
import { allFlags, type Command, commandHelp, makeIo } from "./command.ts";
import { CliError, EXIT } from "./exit.ts";
import { VERSION as CLI_VERSION } from "./version.ts";
import { TopologyError } from "../protocol/errors.ts";
import { suggest } from "../config/_suggest.ts";
import { stripAnsi } from "./output.ts";

/**
 * The CLI's version, kept equal to the package's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { VERSION } from "./main.ts";
 * assert.equal(VERSION.split(".").length, 3);
 * ```
 */
export const VERSION: string = CLI_VERSION;

/** Commands in help order, loaded on use: `kraken status` does not load the runtime. */
const COMMANDS: readonly { names: readonly string[]; load: () => Promise<Command> }[] = [
  { names: ["new"], load: async () => (await import("./commands/new.ts")).create },
  { names: ["start"], load: async () => (await import("./commands/start.ts")).start },
  { names: ["status", "tree"], load: async () => (await import("./commands/status.ts")).status },
  { names: ["scale"], load: async () => (await import("./commands/containers.ts")).scale },
  {
    names: ["rebalance"],
    load: async () => (await import("./commands/containers.ts")).rebalance,
  },
  { names: ["restart"], load: async () => (await import("./commands/containers.ts")).restart },
  { names: ["stop"], load: async () => (await import("./commands/containers.ts")).stop },
  { names: ["spawn"], load: async () => (await import("./commands/containers.ts")).spawn },
  { names: ["call"], load: async () => (await import("./commands/call.ts")).call },
  { names: ["reload"], load: async () => (await import("./commands/reload.ts")).reload },
  { names: ["logs"], load: async () => (await import("./commands/logs.ts")).logs },
  {
    names: ["schedules"],
    load: async () => (await import("./commands/schedules.ts")).schedules,
  },
  { names: ["shutdown"], load: async () => (await import("./commands/shutdown.ts")).shutdown },
  { names: ["schema"], load: async () => (await import("./commands/schema.ts")).schema },
  { names: ["check"], load: async () => (await import("./commands/check.ts")).check },
  { names: ["node"], load: async () => (await import("./commands/node.ts")).node },
];

async function help(): Promise<string> {
  const commands = await Promise.all(COMMANDS.map((c) => c.load()));
  const rows = commands.map((c) => [
    `${[c.name, ...(c.aliases ?? [])].join(" | ")}${c.args ? ` ${c.args}` : ""}`,
    c.summary,
  ]);
  rows.push(["help [COMMAND]", "this help, or a command's"], ["version", "print the version"]);
  const width = Math.max(...rows.map(([left]) => left.length));
  return [
    `kraken ${VERSION} — distributed, fault-tolerant applications for Deno`,
    "",
    "Usage: kraken <command> [options]",
    "",
    "Commands:",
    ...rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`),
    "",
    "Every command takes --json (machine-readable output) and --help. Commands that talk to a",
    "running topology take --url and --token (or KRAKEN_URL / KRAKEN_TOKEN; default: the",
    "management: block of ./kraken.yaml).",
    "",
    "Exit codes: 0 ok · 1 the operation or the application failed · 2 bad usage or bad topology",
    "· 3 cannot reach the runtime · 4 unauthorized (missing or wrong token)",
  ].join("\n");
}

function find(name: string) {
  return COMMANDS.find((c) => c.names.includes(name));
}

/**
 * Runs the CLI with `args`; returns the exit code (see the module doc).
 *
 * @param args The arguments after `kraken`.
 * @returns 0 ok, 1 failed, 2 usage or topology error, 3 unreachable, 4 unauthorized.
 *
 * @example Checking a topology file, as `kraken check` does
 * ```ts
 * import assert from "node:assert/strict";
 * import { main } from "jsr:@kraken/kraken/cli";
 * const file = await Deno.makeTempFile({ suffix: ".yaml" });
 * await Deno.writeTextFile(file, "containers:\n  api: { module: ./api.ts, replicas: lots }\n");
 * assert.equal(await main(["check", file, "--json"]), 2); // replicas must be a number
 * await Deno.remove(file);
 * ```
 */
export async function main(args: string[]): Promise<number> {
  const [first = "help", ...rest] = args;
  const json = rest.includes("--json");
  switch (first) {
    case "help":
    case "--help":
    case "-h": {
      // `kraken help --help` and `kraken help --json` are the general help too.
      const topic = rest[0]?.startsWith("-") ? undefined : rest[0];
      const entry = topic ? find(topic) : undefined;
      if (topic && !entry) return unknown(topic, json);
      console.log(entry ? commandHelp(await entry.load()) : await help());
      return EXIT.ok;
    }
    case "version":
    case "--version":
    case "-V":
      console.log(json ? JSON.stringify({ version: VERSION }) : VERSION);
      return EXIT.ok;
  }
  const entry = find(first);
  if (!entry) return unknown(first, json);
  if (first === "start" || first === "node") {
    // They run containers: never where Deno could prompt (see _no_prompt.ts).
    const code = await (await import("./_no_prompt.ts")).relaunchWithoutPrompt();
    if (code !== null) return code;
  }
  const command = await entry.load();
  let io = makeIo({ json });
  try {
    const parsed = parseArgs(command.name, rest, allFlags(command));
    io = makeIo(parsed.flags);
    if (parsed.flags.help === true) {
      io.print(commandHelp(command));
      return EXIT.ok;
    }
    return await command.run(parsed, io);
  } catch (error) {
    return report(error, io.json, command.name);
  }
}

function unknown(name: string, json: boolean): number {
  const near = suggest(name, COMMANDS.flatMap((c) => c.names));
  const message = `unknown command "${name}"${
    near ? ` (did you mean "${near}"?)` : ""
  }; run "kraken help"`;
  if (json) console.log(JSON.stringify({ ok: false, code: EXIT.usage, message }));
  else console.error(`kraken: ${message}`);
  return EXIT.usage;
}

/** Prints a failure (one line on stderr, or a JSON object on stdout) and returns its exit code. */
function report(error: unknown, json: boolean, command?: string): number {
  const code = error instanceof CliError
    ? error.code
    : error instanceof TopologyError
    ? EXIT.usage
    : EXIT.failed;
  // Messages can quote an isolate's coloured error text: no escape codes in a line or in JSON.
  const message = stripAnsi((error as Error)?.message ?? String(error));
  if (json) {
    const detail = error instanceof CliError ? error.detail : undefined;
    console.log(JSON.stringify({ ok: false, code, message, ...(detail ?? {}) }));
  } else {
    const prefix = command && !message.startsWith(`${command}:`)
      ? `kraken ${command}: `
      : "kraken ";
    console.error(`${prefix}${message}`);
    if (!(error instanceof CliError) && !(error instanceof TopologyError)) {
      // An unexpected failure: the stack helps a bug report.
      console.error((error as Error)?.stack ?? "");
    }
  }
  return code;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
