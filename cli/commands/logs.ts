/**
 * `kraken logs NAME`: a container's recent log lines, then new ones as they come (Ctrl-C stops).
 *
 * @module
 */
import type { Command } from "../command.ts";
import { connect } from "../connection.ts";
import { usageError } from "../exit.ts";
import { formatLog, type PrintableLog } from "../output.ts";

/**
 * `kraken logs NAME [--no-follow] [--tail N]`.
 *
 * @example
 * ```sh
 * kraken logs billing --tail 20
 * kraken logs billing --no-follow --json | jq -r .message
 * ```
 */
export const logs: Command = {
  name: "logs",
  args: "[NAME]",
  summary: "print a container's recent log lines and follow new ones (Ctrl-C stops)",
  description: "Without NAME: every container's and the runtime's lines. Lines are what the " +
    "container logs with ctx.log and prints (worker and process output included). The runtime " +
    "keeps the last 1000 lines; following ends when the runtime stops. --json prints one JSON " +
    "object per line: {time, level, source, container, message}.",
  api: true,
  flags: {
    follow: { type: "boolean", short: "f", description: "keep following (default; --no-follow)" },
    tail: {
      type: "string",
      short: "n",
      value: "N",
      description: "lines of history first (default 100)",
    },
  },
  examples: ["kraken logs billing", "kraken logs billing --no-follow --tail 20"],
  async run({ positionals, flags }, io) {
    if (positionals.length > 1) throw usageError("logs", `unexpected argument "${positionals[1]}"`);
    const [name] = positionals;
    const tail = flags.tail === undefined ? "100" : String(flags.tail);
    if (!/^\d+$/.test(tail)) {
      throw usageError("logs", `--tail must be a whole number >= 0, got "${tail}"`);
    }
    const follow = flags.follow !== false;
    const client = await connect("logs", flags);
    const query = new URLSearchParams({ follow: follow ? "1" : "0", tail });
    if (name) query.set("container", name);
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    if (follow) Deno.addSignalListener("SIGINT", onSignal);
    try {
      await client.stream(`/v1/logs?${query}`, (event) => {
        if (event.type !== "log") return;
        if (io.json) io.printJson(event.data);
        else io.print(formatLog(event.data as unknown as PrintableLog, io.out));
      }, { signal: stop.signal });
    } finally {
      if (follow) Deno.removeSignalListener("SIGINT", onSignal);
    }
    return 0;
  },
};
