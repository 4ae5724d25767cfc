/**
 * The `kraken` command line.
 *
 * ```sh
 * deno install -g -A -n kraken jsr:@kraken/kraken/cli
 * kraken start ./kraken.yaml
 * ```
 *
 * This version has `start` (run a topology in the foreground; Ctrl-C shuts it down gracefully),
 * `check` (validate a topology without starting it), `help` and `version`. The commands that talk
 * to a running topology (`status`, `scale`, `reload`, …) need the management API and arrive with it.
 *
 * @module
 */
import { loadTopology } from "../config/load.ts";
import { Runtime } from "../runtime/runtime.ts";

/** The CLI's version, kept equal to the package's. */
export const VERSION = "0.1.0";

const HELP = `kraken ${VERSION} — distributed, fault-tolerant applications for Deno

Usage: kraken <command> [options]

Commands:
  start [FILE]   run a topology in the foreground (default ./kraken.yaml); Ctrl-C stops it
  check [FILE]   validate a topology without starting anything
  version        print the version
  help           print this help

Exit codes: 0 ok · 1 the application failed (e.g. its root supervisor gave up) · 2 bad usage
or bad topology.`;

const LATER = [
  "status",
  "tree",
  "scale",
  "restart",
  "stop",
  "spawn",
  "reload",
  "logs",
  "node",
  "shutdown",
  "new",
];

/**
 * Runs the CLI with `args`; returns the exit code.
 *
 * @example
 * ```ts ignore
 * import { main } from "jsr:@kraken/kraken/cli";
 * Deno.exit(await main(["check", "./kraken.yaml"]));
 * ```
 */
export async function main(args: string[]): Promise<number> {
  const [command = "help", ...rest] = args;
  switch (command) {
    case "help":
    case "--help":
    case "-h":
      console.log(HELP);
      return 0;
    case "version":
    case "--version":
      console.log(VERSION);
      return 0;
    case "check":
      try {
        const topology = await loadTopology(rest[0] ?? "./kraken.yaml");
        console.log(`${topology.file}: ok (${topology.containers.length} containers)`);
        return 0;
      } catch (error) {
        console.error(`kraken check: ${(error as Error).message}`);
        return 2;
      }
    case "start":
      return await start(rest[0] ?? "./kraken.yaml");
    default:
      if (LATER.includes(command)) {
        console.error(
          `kraken ${command}: needs the management API, which this version does not have yet`,
        );
        return 2;
      }
      console.error(`kraken: unknown command "${command}"; run "kraken help"`);
      return 2;
  }
}

async function start(file: string): Promise<number> {
  let rt: Runtime;
  try {
    rt = await Runtime.start(file);
  } catch (error) {
    console.error(`kraken start: ${(error as Error).message}`);
    return 2;
  }
  const stop = () => rt.shutdown();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  const error = await rt.closed;
  Deno.removeSignalListener("SIGINT", stop);
  Deno.removeSignalListener("SIGTERM", stop);
  const leaked = rt.tree().leaked;
  if (leaked.length > 0) {
    // Their threads cannot be stopped from JavaScript; this process's exit ends them.
    console.error(
      `kraken start: ${leaked.length} worker thread(s) stuck in a busy loop (${
        leaked.map((l) => l.instance).join(", ")
      }) end with this process`,
    );
  }
  if (error) {
    console.error(`kraken start: ${error.message}`);
    return 1;
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
