/**
 * The `kraken` command line: `start` runs a `Runtime` (and the management API); the other commands
 * are clients of a running one's management API. Thin shells over the public API.
 *
 * | file                          | what                                                            |
 * | ----------------------------- | --------------------------------------------------------------- |
 * | `main.ts`                     | the entry: commands, help, exit codes                           |
 * | `commands/*.ts`               | one file per command (`start`, `status`, `scale`, `reload`, …)  |
 * | `args.ts`, `command.ts`       | parsing flags; what a command is and its `--help`               |
 * | `client.ts`, `connection.ts`  | the management API client; finding the runtime and its token    |
 * | `output.ts`, `exit.ts`        | what is printed (colours, the tree, log lines); exit codes      |
 * | `_schedules_view.ts`          | the schedules table of `status` and `schedules`                  |
 * | `_no_prompt.ts`               | `start`/`node` never run where Deno could prompt                 |
 * | `_run_state.ts`, `_log_files.ts`, `commands/_detach.ts` | `start --detach`: the state file, rotated log files, the background copy |
 * | `_log_format.ts`              | `--log-format json`: one JSON log object per stderr line        |
 *
 * @module
 */
export { main, VERSION } from "./main.ts";
