/**
 * `kraken start [FILE]`: run a topology in the foreground, with its management API when the
 * topology has a `management:` block. Ctrl-C (or SIGTERM, or `kraken shutdown`) shuts it down
 * gracefully; a second Ctrl-C exits at once.
 *
 * @module
 */
import { loadTopology } from "../../config/load.ts";
import { parseListenAddress } from "../../config/topology.ts";
import type { Topology } from "../../config/topology.ts";
import { serveManagement } from "../../management/server.ts";
import { TopologyError } from "../../protocol/errors.ts";
import type { LogLevel } from "../../protocol/envelope.ts";
import { type LogEntry, Runtime } from "../../runtime/runtime.ts";
import type { Command, Io } from "../command.ts";
import type { ParsedArgs } from "../args.ts";
import { CliError, EXIT, usageError } from "../exit.ts";
import { assertNotDetached, type Detached, detachedRun, startDetached } from "./_detach.ts";
import { LOG_DEFAULTS, LogFiles } from "../_log_files.ts";
import { readRunState, removeRunState, runDirOf, writeRunState } from "../_run_state.ts";
import { palette, stripAnsi } from "../output.ts";
import { resolve } from "node:path";

/** Interrupts closer together than this are one interrupt delivered twice. */
const SAME_INTERRUPT_MS = 300;
import { formatDuration, formatLog, plural, renderTree } from "../output.ts";
import { hostName, jsonLogLine, LOG_FORMAT_FLAG, logFormat } from "../_log_format.ts";

const LEVELS = ["debug", "info", "warn", "error", "silent"];

/**
 * `kraken start [FILE] [--listen ADDR] [--log-level LEVEL] [--log-format text|json]`.
 *
 * @example
 * ```sh
 * KRAKEN_TOKEN=$(openssl rand -hex 16) kraken start ./kraken.yaml
 * ```
 */
export const start: Command = {
  name: "start",
  args: "[FILE]",
  summary: "run a topology (default ./kraken.yaml) in the foreground; Ctrl-C stops it gracefully",
  description: "With a management: block, the management API listens too (the address is " +
    "printed) and the other commands can reach it. Log lines go to stderr. With --json, stdout " +
    'gets one JSON object per line: {"type":"started",…}, {"type":"log",…}, {"type":"stopped",…}. ' +
    "Exits 0 after a requested shutdown, 1 if the application failed (its root supervisor gave " +
    "up), 2 for a bad topology.",
  flags: {
    listen: {
      type: "string",
      value: "ADDR",
      description: "management API address, overriding management.listen (e.g. 127.0.0.1:0)",
    },
    "log-level": {
      type: "string",
      value: "LEVEL",
      description: "debug | info (default) | warn | error | silent",
    },
    standby: {
      type: "boolean",
      description: "with a leadership: block, wait as a standby root while another root leads " +
        "and take over when it is lost",
    },
    detach: {
      type: "boolean",
      description: "run in the background; logs go to files, state to .kraken/ beside FILE",
    },
    "log-dir": {
      type: "string",
      value: "DIR",
      description: "with --detach: where the log files go (default .kraken/logs beside FILE)",
    },
    "log-max-size": {
      type: "string",
      value: "SIZE",
      description: "with --detach: rotate a log file past this size (default 10MiB)",
    },
    "log-files": {
      type: "string",
      value: "N",
      description: "with --detach: rotated files kept per log (default 5)",
    },
    "log-format": LOG_FORMAT_FLAG,
  },
  examples: [
    "kraken start",
    "kraken start deploy/kraken.yaml --listen 127.0.0.1:9191",
    "kraken start --json | jq -c 'select(.type == \"log\")'",
    "kraken start --detach --log-max-size 50MiB --log-files 10",
    "kraken start --log-format json 2>> /var/log/shop.jsonl",
  ],
  async run(args, io) {
    // Once the topology is loaded, in --log-format json, a failure is a JSON log line like any
    // other on stderr (a log shipper gets no line it cannot parse), not main's plain one.
    const failures: { say?: (text: string, level: LogLevel) => void } = {};
    try {
      return await startRun(args, io, failures);
    } catch (error) {
      if (!failures.say || !(error instanceof CliError)) throw error;
      const message = stripAnsi(error.message);
      failures.say(`kraken ${message.startsWith("start:") ? "" : "start: "}${message}`, "error");
      return error.code;
    }
  },
};

/**
 * What `kraken start` does; `failures.say` is set once failures are to be said as log lines.
 */
async function startRun(
  { positionals, flags }: ParsedArgs,
  io: Io,
  failures: { say?: (text: string, level: LogLevel) => void },
): Promise<number> {
  if (positionals.length > 1) {
    throw usageError("start", `unexpected argument "${positionals[1]}"`);
  }
  const file = positionals[0] ?? "./kraken.yaml";
  const level = flags["log-level"] ?? "info";
  if (typeof level !== "string" || !LEVELS.includes(level)) {
    throw usageError("start", `--log-level must be one of ${LEVELS.join(", ")}, got "${level}"`);
  }
  const logging = logOptions(flags, file);
  // The detached copy of a `--detach` start: its output and logs go to files.
  const detached = detachedRun();
  let files: LogFiles | null = null;
  if (detached) ({ io, files } = toFiles(detached));
  const format = logFormat("start", flags["log-format"]);
  const topology = await load(file);
  const where = { host: hostName(), runtime: topology.name };
  // What this command says on stderr itself: in --log-format json, a line like any other.
  const say = (text: string, level: LogLevel = "info") =>
    format === "json"
      ? io.error(jsonLogLine({ level, message: text, source: "runtime" }, where))
      : io.error(text);
  if (format === "json" && !io.json) failures.say = say;
  const management = topology.management;
  if (flags.listen !== undefined && !management) {
    throw usageError("start", `--listen needs a management: block (with a token) in ${file}`);
  }
  // A copy already detached from this folder holds the port: say which copy, not that the port
  // is taken.
  if (flags.detach === true) assertNotDetached(logging.runDir, io);
  const listen = typeof flags.listen === "string" ? flags.listen : management?.listen;
  if (listen !== undefined) assertCanListen(listen, logging.runDir);
  if (flags.detach === true) return await startDetached(topology, logging, io);
  const progress = startProgress(topology, io, format === "json" ? say : null);
  // Lines logged while starting are kept for `kraken logs` (the API starts after the runtime).
  const backlog: (LogEntry & { time: number })[] = [];
  let keep = true;
  const logger = (entry: LogEntry) => {
    const line = { ...entry, time: Date.now() };
    if (keep && backlog.length < 1000) backlog.push(line);
    if (files) return files.log(entry, line.time);
    progress.pause();
    if (io.json) io.printJson({ type: "log", ...line });
    else if (format === "json") io.error(jsonLogLine(entry, where, line.time));
    else io.error(formatLog(line, io.err));
    progress.resume();
  };
  // Ctrl-C (or SIGTERM) is ours from before the first container starts: one that comes while
  // starting lets the start finish, then stops what started, gracefully; a second exits now.
  let rt: Runtime | null = null;
  let signals = 0;
  let firstAt = 0;
  const onSignal = () => {
    // One Ctrl-C can arrive twice: from the terminal to the whole process group, and passed on
    // by whatever started this process (`deno task`, the relaunch for --unstable-net). A second
    // one counts only once a person could have pressed it.
    if (signals > 0 && performance.now() - firstAt < SAME_INTERRUPT_MS) return;
    if (signals++ === 0) firstAt = performance.now();
    if (signals > 1) {
      say("kraken start: second interrupt: exiting now", "warn");
      Deno.exit(130);
    }
    if (!io.json) {
      say(
        rt
          ? "shutting down… (Ctrl-C again to exit at once)"
          : "interrupted while starting: stopping once started… (Ctrl-C again to exit at once)",
      );
    }
    rt?.shutdown();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const unlisten = () => {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  };
  const began = performance.now();
  try {
    rt = await Runtime.start(file, {
      logLevel: level as LogLevel | "silent",
      logger,
      on: { start: (event) => progress.started(event.instance) },
      standby: flags.standby === true,
    });
  } catch (error) {
    unlisten();
    if (error instanceof TopologyError) throw new CliError(EXIT.usage, error.message);
    throw new CliError(
      EXIT.failed,
      `the application failed to start: ${(error as Error).message}`,
    );
  } finally {
    progress.done();
  }
  const took = performance.now() - began;
  if (signals > 0) rt.shutdown();
  let api: Awaited<ReturnType<typeof serveManagement>> | null = null;
  if (management && signals === 0) {
    try {
      api = await serveManagement(rt, {
        listen: typeof flags.listen === "string" ? flags.listen : management.listen,
        token: management.token,
        backlog: backlog.splice(0),
      });
    } catch (error) {
      unlisten();
      await rt.shutdown();
      throw new CliError(
        error instanceof TypeError ? EXIT.usage : EXIT.failed,
        `the management API cannot listen on ${flags.listen ?? management.listen}: ${
          (error as Error).message
        }`,
      );
    }
  }
  keep = false;
  backlog.length = 0;

  announce(rt, io, { file, took, api: api?.url ?? null, detached: detached !== null });
  if (detached && signals === 0) {
    try {
      recordDetached(detached, topology, file, api?.url ?? null);
    } catch (error) {
      await rt.shutdown();
      await api?.close();
      throw error;
    }
  }
  const error = await rt.closed;
  if (detached) removeRunState(detached.runDir, Deno.pid);
  unlisten();
  await api?.close();
  const leaked = rt.tree().leaked;
  if (leaked.length > 0) {
    // Their threads cannot be stopped from JavaScript; this process's exit ends them.
    say(
      `kraken start: ${leaked.length} worker thread(s) stuck in a busy loop (${
        leaked.map((l) => l.instance).join(", ")
      }) end with this process`,
      "warn",
    );
  }
  if (io.json) {
    io.printJson({ type: "stopped", ok: !error, ...(error ? { error: error.message } : {}) });
  }
  if (error) throw new CliError(EXIT.failed, `the application failed: ${error.message}`);
  if (!io.json) say("stopped");
  return 0;
}

/** `--log-dir`, `--log-max-size`, `--log-files` (only with `--detach`), and the run folder. */
function logOptions(flags: Record<string, string | boolean>, file: string): Detached {
  const runDir = runDirOf(file);
  const given = ["log-dir", "log-max-size", "log-files"].filter((f) => flags[f] !== undefined);
  if (given.length > 0 && flags.detach !== true && !Deno.env.get("KRAKEN_DETACHED")) {
    throw usageError(
      "start",
      `--${given[0]} needs --detach (in the foreground, logs go to stderr)`,
    );
  }
  const size = flags["log-max-size"];
  let maxBytes = LOG_DEFAULTS.maxBytes;
  if (typeof size === "string") {
    const m = /^\s*(\d+)\s*(B|KiB|MiB|GiB)?\s*$/.exec(size);
    const units: Record<string, number> = { B: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30 };
    maxBytes = m ? Number(m[1]) * units[m[2] ?? "B"] : NaN;
    if (!(maxBytes >= 1024 && maxBytes <= 2 ** 40)) {
      throw usageError(
        "start",
        `--log-max-size must be a size from 1KiB such as 1048576, 512KiB or 10MiB, got "${size}"`,
      );
    }
  }
  const files = flags["log-files"];
  const keep = files === undefined ? LOG_DEFAULTS.keep : Number(files);
  if (!Number.isSafeInteger(keep) || keep < 1 || keep > 100) {
    throw usageError("start", `--log-files must be a whole number from 1 to 100, got "${files}"`);
  }
  const dir = flags["log-dir"];
  return {
    runDir,
    logDir: typeof dir === "string" ? resolve(dir) : `${runDir}/logs`,
    maxBytes,
    keep,
  };
}

/**
 * The detached copy's output: what `kraken start` prints, and anything printed to the console
 * (a failure's message included), goes to `runtime.log`; nothing has a terminal.
 */
function toFiles(detached: Detached): { io: Io; files: LogFiles } {
  Deno.mkdirSync(detached.logDir, { recursive: true });
  const files = new LogFiles(detached.logDir, detached);
  const line = (text: string) => files.line(stripAnsi(text));
  const write = (...args: unknown[]) => line(args.map(String).join(" "));
  console.log = write;
  console.error = write;
  console.warn = write;
  const plain = palette(false);
  const io: Io = {
    json: false,
    out: plain,
    err: plain,
    print: line,
    error: line,
    printJson: (value) => line(JSON.stringify(value)),
  };
  return { io, files };
}

/**
 * Writes the state file once the runtime runs and its API listens, refusing when another copy of
 * the same application got there first (two `--detach` at once).
 */
function recordDetached(detached: Detached, topology: Topology, file: string, url: URL | null) {
  const other = readRunState(detached.runDir);
  if (other?.alive && other.state.pid !== Deno.pid) {
    throw new CliError(
      EXIT.failed,
      `"${other.state.name}" already runs detached (pid ${other.state.pid}): this copy stops`,
    );
  }
  const topologyFile = resolve(file);
  writeRunState(detached.runDir, {
    pid: Deno.pid,
    name: topology.name,
    topology: topologyFile,
    url: url?.href ?? null,
    token: topology.management ? `management.token of ${topologyFile}` : "none",
    logDir: detached.logDir,
    started: new Date().toISOString(),
  });
}

/**
 * Fails before anything starts when the management API's port is taken (another `kraken start`,
 * most often), rather than starting every container only to stop them all again.
 */
function assertCanListen(listen: string, runDir: string): void {
  let address: { hostname: string; port: number };
  try {
    address = parseListenAddress(listen);
  } catch (error) {
    throw usageError("start", `--listen: ${(error as Error).message}`);
  }
  if (address.port === 0) return;
  try {
    Deno.listen({ ...address, transport: "tcp" }).close();
  } catch (error) {
    throw new CliError(
      EXIT.failed,
      `the management API cannot listen on ${listen}: ${(error as Error).message}${
        error instanceof Deno.errors.AddrInUse ? ` (${whoListens(runDir)})` : ""
      }`,
    );
  }
}

/** A guess at who holds the API's port: the copy detached from this folder, when one runs. */
function whoListens(runDir: string): string {
  const found = readRunState(runDir);
  if (found?.alive) {
    const { state } = found;
    return `"${state.name}" runs detached from this folder (pid ${state.pid}${
      state.url ? `, management API ${state.url}` : ""
    }): "kraken shutdown" stops it`;
  }
  return 'is another "kraken start" running? --listen 127.0.0.1:0 picks a free port';
}

async function load(file: string): Promise<Topology> {
  let topology: Topology;
  try {
    topology = await loadTopology(file);
  } catch (error) {
    if (error instanceof TopologyError) throw new CliError(EXIT.usage, error.message);
    throw error;
  }
  // A runtime runs without its token; `kraken start` serves the management API, so it needs it.
  const unset = topology.management?.tokenUnset;
  if (unset) throw new CliError(EXIT.usage, unset);
  return topology;
}

/**
 * Shows what is starting: a line per container, then (on a terminal) a ticking elapsed time that
 * log lines interrupt cleanly. With `structured` (`--log-format json`), the same lines go through
 * it, one JSON log object each, and nothing ticks.
 */
function startProgress(
  topology: Topology,
  io: Io,
  structured: ((text: string) => void) | null,
) {
  const containers = topology.containers.map((c) => `${c.name} (${c.mode} ×${c.replicas})`);
  // Instances started later (restarts, scaling, reloads) are not progress of this start: the
  // log and `kraken status` tell of those.
  let finished = false;
  if (structured && !io.json) {
    structured(`starting ${topology.name}: ${containers.join(", ") || "no containers"}`);
    return {
      pause() {},
      resume() {},
      done: () => void (finished = true),
      started: (instance: string) => finished || structured(`started ${instance}`),
    };
  }
  if (io.json) {
    return {
      pause() {},
      resume() {},
      done: () => void (finished = true),
      started: (instance: string) =>
        finished || io.printJson({ type: "progress", started: instance }),
    };
  }
  io.error(
    `starting ${io.err.bold(topology.name)}: ${containers.join(", ") || "no containers"}`,
  );
  const tty = Deno.stderr.isTerminal();
  const began = performance.now();
  let timer: ReturnType<typeof setInterval> | undefined;
  const encoder = new TextEncoder();
  const draw = () =>
    Deno.stderr.writeSync(
      encoder.encode(`\r${io.err.dim(`starting… ${formatDuration(performance.now() - began)}`)}`),
    );
  const clear = () => Deno.stderr.writeSync(encoder.encode("\r\x1b[2K"));
  if (tty) timer = setInterval(draw, 100);
  return {
    pause: () => tty && timer && clear(),
    resume: () => tty && timer && draw(),
    done() {
      finished = true;
      if (!timer) return;
      clearInterval(timer);
      timer = undefined;
      clear();
    },
    /** One line per instance as it comes up. */
    started(instance: string) {
      if (finished) return;
      if (tty && timer) clear();
      io.error(`  ${io.err.green("✓")} ${instance}`);
      if (tty && timer) draw();
    },
  };
}

function announce(
  rt: Runtime,
  io: Io,
  info: { file: string; took: number; api: URL | null; detached: boolean },
) {
  const tree = rt.tree();
  const instances = tree.containers.reduce((n, c) => n + c.running, 0);
  if (io.json) {
    io.printJson({
      type: "started",
      name: tree.name,
      ...(rt.standingBy ? { standingBy: true } : {}),
      file: info.file,
      pid: Deno.pid,
      containers: tree.containers.length,
      instances,
      startedInMs: Math.round(info.took),
      management: info.api?.href ?? null,
    });
    return;
  }
  io.print(
    rt.standingBy
      // A cold standby runs none of them yet: saying "running … 0 containers" would mislead.
      ? `${io.out.yellow("standing by")} ${io.out.bold(tree.name)}: another root leads; ${
        plural(rt.topology.containers.length, "container")
      } start here once this root takes over (ready in ${formatDuration(info.took)})`
      : `${io.out.green("running")} ${io.out.bold(tree.name)}: ${
        plural(tree.containers.length, "container")
      }, ${plural(instances, "instance")}, started in ${formatDuration(info.took)}`,
  );
  io.print(
    info.api
      ? `management API: ${io.out.cyan(info.api.href)}`
      : io.out.dim("no management: block: kraken status/scale/reload cannot reach this runtime"),
  );
  io.print(renderTree(tree, io.out));
  io.print(
    io.out.dim(info.detached ? `pid ${Deno.pid}: kraken shutdown stops it` : "Ctrl-C to stop"),
  );
}
