/**
 * `kraken shutdown`: stop the running topology (graceful, then forced) and wait until it is gone.
 *
 * @module
 */
import type { Command } from "../command.ts";
import { connect } from "../connection.ts";
import { CliError, EXIT, usageError } from "../exit.ts";
import { processAlive, readRunState, runDirOf } from "../_run_state.ts";

/**
 * `kraken shutdown [--no-wait] [--timeout SECONDS]`.
 *
 * @example
 * ```sh
 * kraken shutdown --timeout 30
 * ```
 */
export const shutdown: Command = {
  name: "shutdown",
  args: "",
  summary: "stop the running topology and wait until its management API is gone",
  description: "Every container stops in reverse start order, gracefully within its shutdown: " +
    'timeout, then killed. "kraken start" then exits 0.',
  api: true,
  flags: {
    wait: { type: "boolean", description: "wait until it has stopped (default; --no-wait)" },
    timeout: {
      type: "string",
      value: "SECONDS",
      description: "how long to wait (default 60); exit 1 after that",
    },
  },
  examples: ["kraken shutdown", "kraken shutdown --no-wait"],
  async run({ positionals, flags }, io) {
    if (positionals.length > 0) {
      throw usageError("shutdown", `unexpected argument "${positionals[0]}"`);
    }
    const seconds = flags.timeout === undefined ? 60 : Number(flags.timeout);
    if (!Number.isFinite(seconds) || seconds <= 0) {
      throw usageError(
        "shutdown",
        `--timeout must be a number of seconds > 0, got "${flags.timeout}"`,
      );
    }
    const client = await connect("shutdown", flags);
    // A runtime detached from here: once its API is gone, wait for its process to end too.
    const found = flags.url ? null : readRunState(runDirOf("./kraken.yaml"));
    const pid = found?.alive && found.state.url === client.url.href ? found.state.pid : null;
    await client.request("POST", "/v1/shutdown");
    if (!io.json) io.error(`shutting down the runtime at ${client.url.origin}…`);
    if (flags.wait === false) {
      if (io.json) io.printJson({ ok: true, stopped: false });
      return 0;
    }
    const started = performance.now();
    while (performance.now() - started < seconds * 1000) {
      try {
        await client.request("GET", "/v1/tree");
      } catch (error) {
        // Unreachable: the server is gone with its runtime.
        if (error instanceof CliError && error.code === EXIT.unreachable) {
          while (pid !== null && processAlive(pid)) {
            if (performance.now() - started > seconds * 1000) {
              throw new CliError(
                EXIT.failed,
                `the runtime's process ${pid} still runs after ${seconds} s`,
              );
            }
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
          if (io.json) io.printJson({ ok: true, stopped: true });
          else io.print(io.out.green("stopped"));
          return 0;
        }
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new CliError(
      EXIT.failed,
      `the runtime at ${client.url.origin} still answers after ${seconds} s`,
    );
  },
};
