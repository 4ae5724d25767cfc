/**
 * The runtime manager's commands on one container: `scale`, `restart`, `stop`, `spawn`.
 *
 * @module
 */
import type { ContainerSnapshot } from "../../runtime/runtime.ts";
import type { ParsedArgs } from "../args.ts";
import type { Command, Io } from "../command.ts";
import { connect } from "../connection.ts";
import { usageError } from "../exit.ts";
import { containerState, plural } from "../output.ts";

const STOP_MODES = ["graceful", "kill", "graceful-then-kill"];

/** The one NAME positional (and nothing else). */
function nameOf(command: string, args: ParsedArgs, extra = 0): string {
  const [name] = args.positionals;
  if (!name) throw usageError(command, "missing NAME");
  if (args.positionals.length > 1 + extra) {
    throw usageError(command, `unexpected argument "${args.positionals[1 + extra]}"`);
  }
  return name;
}

function modeOf(command: string, flags: ParsedArgs["flags"]): string | undefined {
  const mode = flags.mode;
  if (mode === undefined) return undefined;
  if (typeof mode !== "string" || !STOP_MODES.includes(mode)) {
    throw usageError(command, `--mode must be one of ${STOP_MODES.join(", ")}, got "${mode}"`);
  }
  return mode;
}

function summary(container: ContainerSnapshot, io: Io): string {
  const state = containerState(container);
  const count = `${container.running}/${container.replicas} running`;
  return state === "running" ? io.out.green(count) : `${count}, ${io.out.yellow(state)}`;
}

const stopModeFlag = {
  mode: {
    type: "string" as const,
    value: "MODE",
    description: "graceful | kill | graceful-then-kill (default)",
  },
};

/**
 * `kraken scale NAME N`: change the replicas of a container live.
 *
 * @example
 * ```sh
 * kraken scale greeter 4
 * ```
 */
export const scale: Command = {
  name: "scale",
  args: "NAME N",
  summary: "change the number of replicas of a container, live",
  description: "New replicas start, surplus ones stop (last first); the others keep serving.",
  api: true,
  flags: {},
  examples: ["kraken scale greeter 4", "kraken scale greeter 0"],
  async run(args, io) {
    const name = nameOf("scale", args, 1);
    const raw = args.positionals[1];
    if (raw === undefined) throw usageError("scale", "missing N (the number of replicas)");
    const replicas = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(replicas)) {
      throw usageError("scale", `N must be a whole number >= 0, got "${raw}"`);
    }
    const client = await connect("scale", args.flags);
    const result = await client.request<{ from: number; to: number; container: ContainerSnapshot }>(
      "POST",
      `/v1/containers/${encodeURIComponent(name)}/scale`,
      { replicas },
    );
    if (io.json) io.printJson(result);
    else {
      io.print(
        `${io.out.bold(name)}: ${result.from} → ${plural(result.to, "replica")} (${
          summary(result.container, io)
        })`,
      );
    }
    return 0;
  },
};

/**
 * `kraken rebalance NAME`: move a `placement: spread` container's replicas toward even over the
 * agents linked now (a returning or new agent takes some back), one replica at a time.
 *
 * @example
 * ```sh
 * kraken rebalance api
 * ```
 */
export const rebalance: Command = {
  name: "rebalance",
  args: "NAME",
  summary: "spread a remote container's replicas evenly again over the agents (placement: spread)",
  description: "One replica at a time: it starts on the agent with the fewest and serves before " +
    "one on the agent with the most stops, so requests keep being answered.",
  api: true,
  flags: {},
  examples: ["kraken rebalance api"],
  async run(args, io) {
    const name = nameOf("rebalance", args, 1);
    const client = await connect("rebalance", args.flags);
    const result = await client.request<{
      moves: { from: string; to: string }[];
      container: ContainerSnapshot;
    }>("POST", `/v1/containers/${encodeURIComponent(name)}/rebalance`, {});
    if (io.json) io.printJson(result);
    else if (result.moves.length === 0) io.print(`${io.out.bold(name)}: already even`);
    else {
      for (const m of result.moves) {
        io.print(`${io.out.bold(name)}: one replica ${m.from} → ${m.to}`);
      }
      io.print(`${io.out.bold(name)}: ${summary(result.container, io)}`);
    }
    return 0;
  },
};

/**
 * `kraken restart NAME`: start every replica again, rolling (one at a time) unless
 * `--all-at-once` (not counted toward intensity).
 *
 * @example
 * ```sh
 * kraken restart billing
 * kraken restart billing --all-at-once --mode kill
 * ```
 */
export const restart: Command = {
  name: "restart",
  args: "NAME",
  summary: "start a container's replicas again, one at a time (not counted as a failure)",
  description: "Rolling: a new replica runs before an old one drains and stops, so requests keep " +
    "being answered. --all-at-once stops every replica, then starts them all.",
  api: true,
  flags: {
    ...stopModeFlag,
    "all-at-once": {
      type: "boolean",
      description: "stop every replica, then start them all (a gap in service)",
    },
  },
  examples: [
    "kraken restart billing",
    "kraken restart billing --all-at-once",
    "kraken restart billing --mode kill",
  ],
  async run(args, io) {
    const name = nameOf("restart", args);
    const mode = modeOf("restart", args.flags);
    const rolling = args.flags["all-at-once"] !== true;
    const client = await connect("restart", args.flags);
    const how = rolling ? "rolling, one replica at a time" : "all replicas at once";
    if (!io.json) io.print(`restarting ${io.out.bold(name)} (${how})…`);
    const result = await client.request<{ container: ContainerSnapshot }>(
      "POST",
      `/v1/containers/${encodeURIComponent(name)}/restart`,
      { ...(mode ? { mode } : {}), rolling },
    );
    if (io.json) io.printJson({ ...result, rolling });
    else io.print(`${io.out.bold(name)} restarted (${summary(result.container, io)})`);
    return 0;
  },
};

/**
 * `kraken stop NAME`: stop every replica and remove the container from the tree.
 *
 * @example
 * ```sh
 * kraken stop cache
 * ```
 */
export const stop: Command = {
  name: "stop",
  args: "NAME",
  summary: "stop a container (every replica) and remove it from the tree",
  description: 'It stays removed until "kraken spawn" or "kraken reload" brings it back.',
  api: true,
  flags: stopModeFlag,
  examples: ["kraken stop cache", "kraken stop cache --mode kill"],
  async run(args, io) {
    const name = nameOf("stop", args);
    const mode = modeOf("stop", args.flags);
    const client = await connect("stop", args.flags);
    const result = await client.request(
      "POST",
      `/v1/containers/${encodeURIComponent(name)}/stop`,
      mode ? { mode } : {},
    );
    if (io.json) io.printJson(result);
    else io.print(`${io.out.bold(name)} stopped`);
    return 0;
  },
};

/**
 * `kraken spawn NAME --module M [--mode ..] [--replicas ..]`: start a new container.
 *
 * @example
 * ```sh
 * kraken spawn cache --module ./containers/cache.ts --mode worker --replicas 2
 * ```
 */
export const spawn: Command = {
  name: "spawn",
  args: "NAME",
  summary: "start a new container under the root supervisor (as if it were in the topology)",
  description:
    "A relative --module resolves against the running topology's folder. --spec takes a whole " +
    'container as JSON (e.g. \'{"module":"./a.ts","permissions":{"net":true}}\'); the other ' +
    "flags override its fields.",
  api: true,
  flags: {
    module: { type: "string", short: "m", value: "MODULE", description: "the container module" },
    mode: { type: "string", value: "MODE", description: "inline | worker (default) | process" },
    replicas: { type: "string", short: "r", value: "N", description: "instances (default 1)" },
    config: { type: "string", value: "JSON", description: "ctx.config, as a JSON object" },
    spec: { type: "string", value: "JSON", description: "the whole container spec as JSON" },
    parent: { type: "string", value: "NAME", description: "start it under this inline container" },
    replace: { type: "boolean", description: "replace a container of the same name" },
  },
  examples: [
    "kraken spawn cache --module ./containers/cache.ts --mode worker --replicas 2",
    "kraken spawn cache --module ./containers/cache_v2.ts --replace",
  ],
  async run(args, io) {
    const name = nameOf("spawn", args);
    const { flags } = args;
    const spec: Record<string, unknown> = flags.spec === undefined
      ? {}
      : jsonObject("spawn", "--spec", flags.spec);
    if (typeof flags.module === "string") spec.module = flags.module;
    if (typeof flags.mode === "string") spec.mode = flags.mode;
    if (typeof flags.replicas === "string") {
      if (!/^\d+$/.test(flags.replicas)) {
        throw usageError(
          "spawn",
          `--replicas must be a whole number >= 0, got "${flags.replicas}"`,
        );
      }
      spec.replicas = Number(flags.replicas);
    }
    if (flags.config !== undefined) spec.config = jsonObject("spawn", "--config", flags.config);
    if (spec.module === undefined) throw usageError("spawn", "missing --module MODULE");
    const client = await connect("spawn", flags);
    const result = await client.request<{ container: ContainerSnapshot | null }>(
      "POST",
      "/v1/containers",
      {
        name,
        spec,
        ...(flags.replace === true ? { replace: true } : {}),
        ...(typeof flags.parent === "string" ? { parent: flags.parent } : {}),
      },
    );
    if (io.json) io.printJson(result);
    else {
      io.print(
        `${io.out.bold(name)} ${flags.replace === true ? "replaced" : "spawned"}${
          result.container ? ` (${summary(result.container, io)})` : ""
        }`,
      );
    }
    return 0;
  },
};

function jsonObject(
  command: string,
  flag: string,
  value: string | boolean,
): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(String(value));
  } catch (error) {
    throw usageError(command, `${flag} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw usageError(command, `${flag} must be a JSON object`);
  }
  return parsed as Record<string, unknown>;
}
