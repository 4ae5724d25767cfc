/**
 * `kraken schema`: the JSON Schema of `kraken.yaml`, for editors.
 *
 * @module
 */
import { topologyJsonSchema } from "../../config/schema.ts";
import type { Command } from "../command.ts";
import { usageError } from "../exit.ts";

/**
 * `kraken schema > kraken.schema.json`.
 *
 * @example
 * ```sh
 * kraken schema > kraken.schema.json
 * # first line of kraken.yaml: # yaml-language-server: $schema=./kraken.schema.json
 * ```
 */
export const schema: Command = {
  name: "schema",
  args: "",
  summary: "print the JSON Schema of kraken.yaml (for editor completion and checking)",
  description: "Point your editor at it, e.g. with the YAML language server put " +
    "`# yaml-language-server: $schema=./kraken.schema.json` on the first line of kraken.yaml.",
  flags: {},
  examples: ["kraken schema > kraken.schema.json"],
  run({ positionals }, io) {
    if (positionals.length > 0) {
      throw usageError("schema", `unexpected argument "${positionals[0]}"`);
    }
    const value = topologyJsonSchema();
    // --json prints it on one line; otherwise indented for people.
    io.print(io.json ? JSON.stringify(value) : JSON.stringify(value, null, 2));
    return Promise.resolve(0);
  },
};
