/**
 * `kraken check [FILE]`: validate a topology without starting anything.
 *
 * @module
 */
import { loadTopology } from "../../config/load.ts";
import { TopologyError } from "../../protocol/errors.ts";
import type { Command } from "../command.ts";
import { CliError, EXIT, usageError } from "../exit.ts";
import { plural } from "../output.ts";

/**
 * `kraken check [FILE]`: exit 0 when valid, 2 with the error (file:line:column: key: what) when not.
 *
 * @example
 * ```sh
 * kraken check ./kraken.yaml && echo valid
 * ```
 */
export const check: Command = {
  name: "check",
  args: "[FILE]",
  summary: "validate a topology (default ./kraken.yaml) without starting anything",
  description: "Checks every key and value, that every module exists, and that ${VAR}s are set.",
  flags: {},
  examples: ["kraken check", "kraken check deploy/kraken.yaml --json"],
  async run({ positionals }, io) {
    if (positionals.length > 1) {
      throw usageError("check", `unexpected argument "${positionals[1]}"`);
    }
    const file = positionals[0] ?? "./kraken.yaml";
    let topology;
    try {
      topology = await loadTopology(file);
    } catch (error) {
      if (!(error instanceof TopologyError)) throw error;
      throw new CliError(EXIT.usage, error.message, {
        error: {
          type: "TopologyError",
          message: error.message,
          key: error.key,
          file: error.file,
          line: error.line,
          column: error.column,
        },
      });
    }
    // What `kraken start` would refuse: a management token whose variable is unset here.
    const unset = topology.management?.tokenUnset;
    if (unset) {
      throw new CliError(EXIT.usage, unset, {
        error: { type: "TopologyError", message: unset, key: "management.token" },
      });
    }
    const count = (specs: typeof topology.containers): number =>
      specs.reduce((n, s) => n + 1 + count(s.children), 0);
    if (io.json) {
      io.printJson({
        ok: true,
        file: topology.file,
        name: topology.name,
        containers: count(topology.containers),
      });
    } else {
      io.print(
        `${topology.file}: ${io.out.green("ok")} (${
          plural(count(topology.containers), "container")
        })`,
      );
    }
    return 0;
  },
};
