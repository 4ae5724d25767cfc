/**
 * `kraken status` / `kraken tree`: the live supervision tree of a running topology.
 *
 * @module
 */
import type { ContainerSnapshot, Runtime, TreeSnapshot } from "../../runtime/runtime.ts";
import type { Command, Io } from "../command.ts";
import type { ManagementClient } from "../client.ts";
import { connect } from "../connection.ts";
import { usageError } from "../exit.ts";
import { formatDuration, formatHandlerTime, renderTree, table } from "../output.ts";
import { renderSchedules } from "../_schedules_view.ts";

/**
 * `kraken status [NAME] [--instances] [--watch]`.
 *
 * @example
 * ```sh
 * kraken status --instances
 * kraken status billing          # one container, its instances and metrics; exit 1 if unknown
 * kraken tree --json | jq '.containers[].name'
 * ```
 */
export const status: Command = {
  name: "status",
  aliases: ["tree"],
  args: "[NAME]",
  summary: "show the live tree: name, mode, host, state, replicas, restarts, uptime",
  description:
    "Reads GET /v1/tree (its schedules: next and last tick of each). With NAME: that container only, with its instances and " +
    "metrics (GET /v1/containers/NAME); exit 1 when there is no such container. With --json, " +
    "prints what the API returns.",
  api: true,
  flags: {
    instances: { type: "boolean", short: "i", description: "one row per instance too" },
    watch: {
      type: "boolean",
      short: "w",
      description: "redraw every second until Ctrl-C (terminals only)",
    },
  },
  examples: ["kraken status", "kraken tree -i", "kraken status billing", "kraken status --json"],
  async run({ positionals, flags }, io) {
    if (positionals.length > 1) {
      throw usageError("status", `unexpected argument "${positionals[1]}"`);
    }
    const client = await connect("status", flags);
    if (positionals[0]) return await one(client, positionals[0], io);
    const fetchTree = () => client.request<TreeSnapshot>("GET", "/v1/tree");
    const render = (tree: TreeSnapshot) =>
      renderTree(tree, io.out, { instances: flags.instances === true }) +
      (tree.schedules?.length
        ? `\n\n${io.out.bold("schedules")}\n${renderSchedules(tree.schedules, io.out)}`
        : "");
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

type ContainerMetrics = ReturnType<Runtime["metrics"]>[number];

/** `kraken status NAME`: one container, its instances and its metrics. */
async function one(client: ManagementClient, name: string, io: Io): Promise<number> {
  const path = `/v1/containers/${encodeURIComponent(name)}`;
  const body = await client.request<
    { container: ContainerSnapshot; metrics: ContainerMetrics | null }
  >("GET", path);
  if (io.json) {
    io.printJson(body);
    return 0;
  }
  const tree = await client.request<TreeSnapshot>("GET", "/v1/tree");
  const only = { ...tree, containers: [body.container], peers: [], leaked: [], schedules: [] };
  io.print(renderTree(only, io.out, {
    instances: true,
  }));
  const m = body.metrics;
  if (m) {
    const ms = (value: number | null) => value === null ? "-" : formatHandlerTime(value);
    io.print("");
    io.print(table([
      ["messages in / out", `${m.messagesIn} / ${m.messagesOut}`],
      ["requests / errors", `${m.requests} / ${m.errors}`],
      ["handler p50 / p99", `${ms(m.handlerP50Ms)} / ${ms(m.handlerP99Ms)}`],
      ["queue depth", String(m.queueDepth)],
      ["memory", m.memoryBytes === null ? "-" : `${(m.memoryBytes / 2 ** 20).toFixed(1)} MiB`],
      ...(m.violations > 0 ? [["violations (dropped)", String(m.violations)]] : []),
    ].map(([k, v]) => [io.out.dim(k), v])));
  }
  const uptime = Math.max(0, ...body.container.instances.map((i) => i.uptime));
  if (uptime > 0) io.print(io.out.dim(`up ${formatDuration(uptime)}`));
  return 0;
}
