/**
 * `kraken start --detach`: the runtime runs in the background. This process checks that the
 * application is not already running detached, then starts its own command line again (without
 * `--detach`) as a new session (`setsid`: no terminal, so no Ctrl-C or hang-up reaches it) with
 * stdin, stdout and stderr closed, and waits until that copy has written its state file
 * (`_run_state.ts`): then it prints where the runtime is and exits. The copy (see
 * {@linkcode detachedRun}) writes its logs to rotated files (`_log_files.ts`).
 *
 * @module
 */
import type { Topology } from "../../config/topology.ts";
import { hasUnstableNet } from "../../runtime/_serve_check.ts";
import { commandLine } from "../_no_prompt.ts";
import type { Io } from "../command.ts";
import { CliError, EXIT } from "../exit.ts";
import { readRunState, removeRunState } from "../_run_state.ts";

/** The environment variable that makes `kraken start` the detached copy (JSON {@linkcode Detached}). */
const DETACHED = "KRAKEN_DETACHED";
/** How long the copy may take to start before this process gives up on it, ms. */
const READY_WITHIN_MS = 60_000;

/**
 * Where a detached runtime keeps its state and logs, and how its logs rotate.
 *
 * @example
 * ```ts
 * import type { Detached } from "./_detach.ts";
 * const d: Detached = { runDir: "/srv/.kraken", logDir: "/srv/.kraken/logs", maxBytes: 1 << 20, keep: 5 };
 * ```
 */
export interface Detached {
  /** `.kraken/` beside the topology file: the state file. */
  runDir: string;
  /** The log files' folder (`--log-dir`, default `<runDir>/logs`). */
  logDir: string;
  /** `--log-max-size`, bytes. */
  maxBytes: number;
  /** `--log-files`: rotated files kept per log. */
  keep: number;
}

/**
 * The detached settings when this process is the detached copy, else `null`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { detachedRun } from "./_detach.ts";
 * assert.equal(detachedRun(), null); // a test is no detached runtime
 * ```
 */
export function detachedRun(): Detached | null {
  const raw = Deno.env.get(DETACHED);
  if (!raw) return null;
  const d = JSON.parse(raw) as Detached;
  // Not passed on to anything this runtime starts (process containers get a chosen environment
  // anyway: this is for anything else it runs).
  try {
    Deno.env.delete(DETACHED);
  } catch {
    // without env access it stays; nothing reads it but this function
  }
  return d;
}

/**
 * Refuses a second `--detach` of an application that already runs detached from the same folder,
 * naming its pid and address, and removes a stale state file (its pid is gone). Called before
 * anything else is checked: the running copy holds the API's port, and "the port is taken" would
 * hide who took it.
 *
 * @throws {CliError} When the application already runs detached (exit 1).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { assertNotDetached } from "./_detach.ts";
 * import { makeIo } from "../command.ts";
 * // Nothing runs detached from there: nothing to refuse.
 * assert.doesNotThrow(() => assertNotDetached("/nonexistent/.kraken", makeIo({ json: true })));
 * ```
 */
export function assertNotDetached(runDir: string, io: Io): void {
  const found = readRunState(runDir);
  if (found?.alive) {
    const { state } = found;
    throw new CliError(
      EXIT.failed,
      `"${state.name}" already runs detached from ${state.topology} (pid ${state.pid}${
        state.url ? `, management API ${state.url}` : ""
      }, logs in ${state.logDir}): "kraken shutdown" stops it, "kraken status" shows it`,
    );
  }
  if (found) {
    removeRunState(runDir, 0);
    if (!io.json) {
      io.error(`removed a stale state file: pid ${found.state.pid} is gone (it did not shut down)`);
    }
  }
}

/**
 * Starts the detached copy and waits until it is ready; returns the exit code. The caller has
 * called {@linkcode assertNotDetached} first.
 *
 * @throws {CliError} When this process's command line cannot be read, or the copy ended before it
 * was ready (with the last lines of its log).
 */
export async function startDetached(
  topology: Topology,
  detached: Detached,
  io: Io,
): Promise<number> {
  const argv = commandLine();
  if (!argv) {
    throw new CliError(
      EXIT.failed,
      "--detach starts this command again in the background: it needs to read its command line (/proc/self/cmdline, Linux) and the run permission",
    );
  }
  const rest = argv.slice(1).filter((arg) => !/^--detach(=.*)?$/.test(arg));
  // As the foreground relaunch does (see _no_prompt.ts): serving needs --unstable-net.
  const args = !hasUnstableNet() && rest[0] === "run"
    ? ["run", "--unstable-net", ...rest.slice(1)]
    : rest;
  Deno.mkdirSync(detached.logDir, { recursive: true });
  const child = new Deno.Command(Deno.execPath(), {
    args,
    env: {
      [DETACHED]: JSON.stringify(detached),
      DENO_NO_PROMPT: "1",
      KRAKEN_NO_PROMPT_RELAUNCH: "1",
      NO_COLOR: "1",
    },
    detached: true,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let exited: Deno.CommandStatus | null = null;
  const status = child.status.then((s) => (exited = s));
  const began = performance.now();
  while (performance.now() - began < READY_WITHIN_MS) {
    const ready = readRunState(detached.runDir);
    if (ready && ready.state.pid === child.pid) {
      child.unref();
      const { state } = ready;
      if (io.json) io.printJson({ type: "detached", ...state });
      else {
        io.print(
          `${io.out.green("running")} ${io.out.bold(state.name)} detached: pid ${state.pid}`,
        );
        io.print(
          state.url ? `management API: ${io.out.cyan(state.url)}` : io.out.dim("no management API"),
        );
        io.print(`logs: ${state.logDir} (kraken logs, kraken status, kraken shutdown find it)`);
      }
      return EXIT.ok;
    }
    if (exited) break;
    await Promise.race([status, new Promise((r) => setTimeout(r, 50))]);
  }
  if (!exited) {
    child.kill("SIGTERM");
    await status;
    throw new CliError(
      EXIT.failed,
      `the detached runtime of "${topology.name}" was not ready within ${
        READY_WITHIN_MS / 1000
      } s (stopped it); see ${detached.logDir}/runtime.log`,
    );
  }
  const code = (exited as Deno.CommandStatus).code;
  throw new CliError(
    code === EXIT.usage ? EXIT.usage : EXIT.failed,
    `the detached runtime of "${topology.name}" exited with code ${code} before it was ready; the end of ${detached.logDir}/runtime.log:\n${
      tail(`${detached.logDir}/runtime.log`, 10)
    }`,
  );
}

function tail(path: string, lines: number): string {
  try {
    return Deno.readTextFileSync(path).trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}
