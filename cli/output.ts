/**
 * What the CLI prints: colours (off with `NO_COLOR`, `--no-color` or when not a terminal), the
 * supervision tree as a table, durations and log lines. Rendering is pure: functions take the
 * data and a {@linkcode Palette} and return text.
 *
 * @module
 */
import type { ContainerSnapshot, InstanceSnapshot, TreeSnapshot } from "../runtime/runtime.ts";
import { printable } from "../runtime/_printable.ts";

/**
 * Colour functions; each returns its text unchanged when colours are off.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { palette, type Palette } from "./output.ts";
 * const c: Palette = palette(false);
 * assert.equal(c.bold("x"), "x");
 * ```
 */
export interface Palette {
  /** Whether colours are on. */
  readonly enabled: boolean;
  /** Success, running. */
  green(text: string): string;
  /** Transitional states, warnings. */
  yellow(text: string): string;
  /** Failures. */
  red(text: string): string;
  /** Names, headings. */
  bold(text: string): string;
  /** Secondary detail. */
  dim(text: string): string;
  /** Modes, URLs. */
  cyan(text: string): string;
}

/**
 * A palette, on or off.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { palette } from "./output.ts";
 * assert.equal(palette(false).red("x"), "x");
 * assert.equal(palette(true).red("x"), "\x1b[31mx\x1b[39m");
 * ```
 */
export function palette(enabled: boolean): Palette {
  const wrap = (open: number, close: number) => (text: string) =>
    enabled ? `\x1b[${open}m${text}\x1b[${close}m` : text;
  return {
    enabled,
    green: wrap(32, 39),
    yellow: wrap(33, 39),
    red: wrap(31, 39),
    bold: wrap(1, 22),
    dim: wrap(2, 22),
    cyan: wrap(36, 39),
  };
}

/**
 * Whether to colour what goes to stdout (or stderr): `--color`/`--no-color` decide when given
 * (a command-line flag overrides `NO_COLOR`, as no-color.org asks); otherwise never with
 * `NO_COLOR` set to anything non-empty, and only when the stream is a terminal.
 *
 * @param flag The `--color` flag (`false` for `--no-color`), if given.
 * @param stream Which stream will be written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { palette, useColor } from "./output.ts";
 * assert.equal(useColor(false, "stdout"), false); // --no-color wins over a terminal
 * assert.equal(useColor(true, "stderr"), true); // --color wins over NO_COLOR
 * const c = palette(useColor(undefined, "stdout")); // else: a terminal, and no NO_COLOR
 * ```
 */
export function useColor(flag: boolean | undefined, stream: "stdout" | "stderr"): boolean {
  if (flag !== undefined) return flag;
  if ((Deno.env.get("NO_COLOR") ?? "") !== "") return false;
  return (stream === "stdout" ? Deno.stdout : Deno.stderr).isTerminal();
}

/**
 * Removes ANSI colour codes (for measuring and comparing).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stripAnsi } from "./output.ts";
 * assert.equal(stripAnsi("\x1b[32mok\x1b[39m"), "ok");
 * ```
 */
export function stripAnsi(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, "");
}

/**
 * A count with its noun, singular for one: `1 container`, `3 containers`, `0 replicas`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { plural } from "./output.ts";
 * assert.equal(plural(1, "replica"), "1 replica");
 * assert.equal(plural(2, "replica"), "2 replicas");
 * ```
 */
export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/**
 * A handler time given in milliseconds, to three significant digits at most: `8 µs`, `90.5 µs`,
 * `1.25 ms`, `312 ms`, `2.5 s`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatHandlerTime } from "./output.ts";
 * assert.equal(formatHandlerTime(0.09051), "90.5 µs");
 * assert.equal(formatHandlerTime(1.25), "1.25 ms");
 * ```
 */
export function formatHandlerTime(ms: number): string {
  const three = (n: number) => String(Number(n.toPrecision(3)));
  if (ms < 1) return `${three(ms * 1000)} µs`;
  if (ms < 1000) return `${three(ms)} ms`;
  return `${three(ms / 1000)} s`;
}

/**
 * A duration as people read it: `850ms`, `12s`, `3m 4s`, `2h 5m`, `3d 4h`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatDuration } from "./output.ts";
 * assert.equal(formatDuration(184_000), "3m 4s");
 * assert.equal(formatDuration(0), "0s");
 * ```
 */
export function formatDuration(ms: number): string {
  if (ms < 1000) return ms <= 0 ? "0s" : `${Math.round(ms)}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/**
 * A container's overall state from its instances: `running` (all wanted replicas up), `starting`,
 * `restarting`, `degraded` (fewer up than wanted), `held` (kept stopped on purpose), `idle`
 * (scaled to 0).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { containerState } from "./output.ts";
 * assert.equal(containerState({ replicas: 0, running: 0, held: false, instances: [] }), "idle");
 * ```
 */
export function containerState(
  c: Pick<ContainerSnapshot, "replicas" | "running" | "held" | "instances">,
): string {
  if (c.held) return "held";
  if (c.replicas === 0) return "idle";
  if (c.running >= c.replicas) return "running";
  if (c.instances.some((i) => i.state === "restarting")) return "restarting";
  if (c.instances.some((i) => i.state === "starting")) return "starting";
  return "degraded";
}

function colourState(state: string, c: Palette): string {
  switch (state) {
    case "running":
      return c.green(state);
    case "starting":
    case "restarting":
    case "stopping":
    case "idle":
      return c.yellow(state);
    default:
      return c.red(state);
  }
}

/**
 * Aligns rows into columns; widths ignore colour codes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { table } from "./output.ts";
 * assert.equal(table([["a", "bb"], ["ccc", "d"]]), "a    bb\nccc  d");
 * ```
 */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => widths[i] = Math.max(widths[i] ?? 0, stripAnsi(cell).length));
  }
  return rows.map((row) =>
    row.map((cell, i) =>
      i === row.length - 1 ? cell : cell + " ".repeat(widths[i] - stripAnsi(cell).length)
    ).join("  ")
  ).join("\n");
}

/**
 * Memory and CPU of instances, summed (a container's row) or of one: `-` when none reports any
 * (inline, or before its first heartbeat).
 */
function usageCells(instances: readonly InstanceSnapshot[], c: Palette): [string, string] {
  let memory: number | null = null;
  let cpu: number | null = null;
  for (const i of instances) {
    if (i.memoryBytes !== undefined) memory = (memory ?? 0) + i.memoryBytes;
    if (i.cpuPercent !== undefined) cpu = (cpu ?? 0) + i.cpuPercent;
  }
  return [
    memory === null ? c.dim("-") : formatBytes(memory),
    cpu === null ? c.dim("-") : `${cpu.toFixed(1)}%`,
  ];
}

/**
 * Bytes as the tree shows them: KiB below 1 MiB, MiB below 1 GiB, then GiB.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatBytes } from "./output.ts";
 * assert.equal(formatBytes(7.5 * 2 ** 20), "7.5 MiB");
 * ```
 */
export function formatBytes(bytes: number): string {
  if (bytes < 2 ** 20) return `${(bytes / 1024).toFixed(0)} KiB`;
  if (bytes < 2 ** 30) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
}

/**
 * Options of {@linkcode renderTree}.
 *
 * @example
 * ```ts
 * import type { TreeOptions } from "./output.ts";
 * const options: TreeOptions = { instances: true };
 * ```
 */
export interface TreeOptions {
  /** One row per instance under each container (id, node and pid, state, restarts, uptime). */
  instances?: boolean;
}

/**
 * The supervision tree as text: a heading with the application and its root supervisor, then one
 * row per container (nested children indented) with name, mode, host, state, replicas
 * (running/wanted), restarts and uptime (of its longest-running instance).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { palette, renderTree } from "./output.ts";
 * const text = renderTree({
 *   name: "shop",
 *   supervisor: { strategy: "one_for_one", intensity: 5, period: 10000, state: "running" },
 *   containers: [],
 *   relayed: 0,
 *   refused: 0,
 *   peers: [],
 *   leaked: [],
 *   schedules: [],
 * }, palette(false));
 * assert.ok(text.startsWith("shop"));
 * ```
 */
export function renderTree(tree: TreeSnapshot, c: Palette, options: TreeOptions = {}): string {
  const s = tree.supervisor;
  const lines = [
    `${c.bold(tree.name)}  ${colourState(s.state, c)}  ${
      c.dim(`${s.strategy}, at most ${s.intensity} restarts in ${formatDuration(s.period)}`)
    }`,
  ];
  const serving = treeServes(tree.containers);
  const hosting = treeHostsEntities(tree.containers);
  const header = [
    "NAME",
    "MODE",
    "HOST",
    "STATE",
    "REPLICAS",
    "RESTARTS",
    "UPTIME",
    "MEMORY",
    "CPU",
  ];
  // A column for served addresses only when something serves one; for active entities likewise.
  const rows: string[][] = [
    [...header, ...(serving ? ["SERVES"] : []), ...(hosting ? ["ENTITIES"] : [])].map((h) =>
      c.dim(h)
    ),
  ];
  const count = (n: number | undefined) => n === undefined ? c.dim("-") : String(n);
  const walk = (list: readonly ContainerSnapshot[], prefix: string) => {
    list.forEach((container, index) => {
      const last = index === list.length - 1;
      const branch = prefix === "" && list === tree.containers ? "" : last ? "└─ " : "├─ ";
      const uptime = Math.max(0, ...container.instances.map((i) => i.uptime));
      const state = containerState(container);
      rows.push([
        (prefix + branch ? c.dim(prefix + branch) : "") + c.bold(container.name),
        c.cyan(container.mode),
        container.host,
        colourState(state, c),
        `${container.running}/${container.replicas}`,
        container.restarts > 0 ? c.yellow(String(container.restarts)) : "0",
        uptime > 0 ? formatDuration(uptime) : c.dim("-"),
        ...usageCells(container.instances, c),
        ...(serving ? [container.serving ? formatServing(container.serving) : c.dim("-")] : []),
        ...(hosting ? [count(sumEntities(container))] : []),
      ]);
      const childPrefix = prefix + (branch === "" ? "" : last ? "   " : "│  ");
      if (options.instances) {
        for (const instance of container.instances) {
          rows.push([
            c.dim(`${childPrefix}  · ${instance.id}`),
            "",
            // Where it runs: its worker thread (w…) or process (p…), with the OS pid of a
            // process, for ps, top and kill.
            c.dim(
              instance.pid === undefined ? instance.node : `${instance.node} (pid ${instance.pid})`,
            ),
            colourState(instance.state, c),
            "",
            instance.restarts > 0 ? c.yellow(String(instance.restarts)) : c.dim("0"),
            instance.uptime > 0 ? formatDuration(instance.uptime) : c.dim("-"),
            ...usageCells([instance], c),
            ...(serving ? [""] : []),
            ...(hosting ? [count(instance.entities)] : []),
          ]);
        }
      }
      if (container.children?.length) walk(container.children, childPrefix);
    });
  };
  walk(tree.containers, "");
  if (tree.containers.length === 0) lines.push(c.dim("(no containers)"));
  else lines.push(table(rows));
  if (tree.peers.length > 0) {
    lines.push("", c.bold("peers"));
    lines.push(table(tree.peers.map((peer) => [
      c.bold(peer.name),
      peer.address ?? c.dim("(dialed in)"),
      peer.state === "connected" ? c.green(peer.state) : c.yellow(peer.state),
      `for ${formatDuration(peer.since)}`,
      peer.refused !== undefined
        ? c.yellow(`refused: ${peer.refused}`)
        : c.dim(peer.containers.join(", ")),
    ])));
  }
  if (tree.leaked.length > 0) {
    lines.push(
      c.yellow(
        `${tree.leaked.length} worker thread(s) stuck in a busy loop: ${
          tree.leaked.map((l) => l.instance).join(", ")
        }`,
      ),
    );
  }
  return lines.join("\n");
}

/** Whether any container of the tree reports active entities. */
function treeHostsEntities(list: readonly ContainerSnapshot[]): boolean {
  return list.some((c) =>
    c.instances.some((i) => i.entities !== undefined) ||
    (c.children !== undefined && treeHostsEntities(c.children))
  );
}

/** Active entities over a container's instances (`undefined`: it reports none). */
function sumEntities(container: ContainerSnapshot): number | undefined {
  let sum: number | undefined;
  for (const i of container.instances) if (i.entities !== undefined) sum = (sum ?? 0) + i.entities;
  return sum;
}

/** Whether any container of `list`, nested ones included, serves an address. */
function treeServes(list: readonly ContainerSnapshot[]): boolean {
  return list.some((c) => c.serving !== undefined || treeServes(c.children ?? []));
}

/**
 * A served address as the tree shows it: `http://0.0.0.0:8080`, `tcp://[::1]:9000`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatServing } from "./output.ts";
 * assert.equal(formatServing({ hostname: "0.0.0.0", port: 8080, protocol: "http" }), "http://0.0.0.0:8080");
 * ```
 */
export function formatServing(
  serving: { hostname: string; port: number; protocol: "http" | "tcp" },
): string {
  const host = serving.hostname.includes(":") ? `[${serving.hostname}]` : serving.hostname;
  return `${serving.protocol}://${host}:${serving.port}`;
}

/**
 * A log line to print.
 *
 * @example
 * ```ts
 * import type { PrintableLog } from "./output.ts";
 * const line: PrintableLog = { time: Date.now(), level: "info", source: "runtime", message: "started" };
 * ```
 */
export interface PrintableLog {
  /** Milliseconds since the epoch. */
  time: number;
  /** Severity. */
  level: string;
  /** `runtime` or the instance id. */
  source: string;
  /** The text. */
  message: string;
}

/**
 * One log line: `12:03:04.567 INFO  [api#0.1] message`, the level coloured.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatLog, palette } from "./output.ts";
 * const line = formatLog({ time: 0, level: "warn", source: "api#0.1", message: "slow" }, palette(false));
 * assert.ok(line.endsWith("WARN  [api#0.1] slow"));
 * ```
 */
export function formatLog(entry: PrintableLog, c: Palette): string {
  const time = new Date(entry.time).toISOString().slice(11, 23);
  const level = entry.level.toUpperCase().padEnd(5);
  const coloured = entry.level === "error"
    ? c.red(level)
    : entry.level === "warn"
    ? c.yellow(level)
    : entry.level === "debug"
    ? c.dim(level)
    : c.green(level);
  // Message and source come from container code: shown, never obeyed (see _printable.ts).
  return `${c.dim(time)} ${coloured} ${c.cyan(`[${printable(entry.source)}]`)} ${
    printable(entry.message)
  }`;
}
