/**
 * `kraken status` / `kraken tree`: the live supervision tree of a running topology.
 *
 * @module
 */
import type { TreeSnapshot } from "../../runtime/runtime.ts";
import type { Command } from "../command.ts";
import { connect } from "../connection.ts";
import { renderTree } from "../output.ts";

/**
 * `kraken status [--instances] [--watch]`.
 *
 * @example
 * ```sh
 * kraken status --instances
 * kraken tree --json | jq '.containers[].name'
 * ```
 */
export const status: Command = {
  name: "status",
  aliases: ["tree"],
  args: "",
  summary: "show the live tree: name, mode, host, state, replicas, restarts, uptime",
  description: "Reads GET /v1/tree. With --json, prints the tree snapshot as the API returns it.",
  api: true,
  flags: {
    instances: { type: "boolean", short: "i", description: "one row per instance too" },
    watch: {
      type: "boolean",
      short: "w",
      description: "redraw every second until Ctrl-C (terminals only)",
    },
  },
  examples: ["kraken status", "kraken tree -i", "kraken status --json"],
  async run({ flags }, io) {
    const client = await connect("status", flags);
    const fetchTree = () => client.request<TreeSnapshot>("GET", "/v1/tree");
    const render = (tree: TreeSnapshot) =>
      renderTree(tree, io.out, { instances: flags.instances === true });
    if (flags.watch !== true || io.json || !Deno.stdout.isTerminal()) {
      const tree = await fetchTree();
      if (io.json) io.printJson(tree);
      else io.print(render(tree));
      return 0;
    }
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    Deno.addSignalListener("SIGINT", onSignal);
    try {
      while (!stop.signal.aborted) {
        const tree = await fetchTree();
        // Clear the screen and home the cursor, then draw.
        io.print(`\x1b[2J\x1b[H${render(tree)}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 1000);
          stop.signal.addEventListener("abort", () => {
            clearTimeout(timer);
            resolve();
          }, { once: true });
        });
      }
    } finally {
      Deno.removeSignalListener("SIGINT", onSignal);
    }
    return 0;
  },
};
