/**
 * `kraken start` and `kraken node` run containers, and no container may ever cause Deno's
 * permission prompt. Deno prompts when stdin and stderr are terminals unless it was started with
 * `--no-prompt` (or `DENO_NO_PROMPT=1`), and nothing turns prompting off inside a running process;
 * the runtime therefore refuses worker containers where Deno could prompt. So that `kraken` installed
 * without `--no-prompt` still works in a terminal, these commands start themselves again, the same
 * command line with `DENO_NO_PROMPT=1`, and wait for that copy: it shares the terminal (Ctrl-C
 * reaches it directly), and its exit code is theirs.
 *
 * The same copy fixes a missing `--unstable-net`: every replica of a serving container (`serve:`)
 * listens with `reusePort`, which without that flag ends the whole process (exit code 70), and an
 * inline or worker container shares this process's flags. So where this process lacks it (and
 * the command line is `deno run …`), the copy gets `--unstable-net` too.
 *
 * @module
 */
import { mayPrompt } from "../runtime/_host_flags.ts";
import { hasUnstableNet } from "../runtime/_serve_check.ts";

/** Set in the copy, so it never starts another. */
const RELAUNCHED = "KRAKEN_NO_PROMPT_RELAUNCH";

/**
 * Runs this process's own command line again with prompting off and `--unstable-net` on, when
 * Deno could prompt here or the flag is missing, and the command line can be read (Linux); returns
 * the copy's exit code, or `null` to go on here.
 */
export async function relaunchWithoutPrompt(): Promise<number | null> {
  if (Deno.env.get(RELAUNCHED) === "1") return null;
  const prompts = mayPrompt();
  const argv = commandLine();
  // `deno run <flags> <module>`: the flag goes right after `run`.
  const addNet = !hasUnstableNet() && argv?.[1] === "run";
  if (!argv || (!prompts && !addNet)) return null;
  const args = addNet ? ["run", "--unstable-net", ...argv.slice(2)] : argv.slice(1);
  const child = new Deno.Command(Deno.execPath(), {
    args,
    env: { ...(prompts ? { DENO_NO_PROMPT: "1" } : {}), [RELAUNCHED]: "1" },
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  // Ctrl-C goes to the whole foreground group, the copy included: this process waits for it to
  // shut down gracefully instead of dying first. Other signals are passed on.
  const ignore = () => {};
  const forward = (signal: Deno.Signal) => () => {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  };
  // Without a terminal (a service manager, a test), SIGINT reaches this process alone: pass it on.
  const handlers: [Deno.Signal, () => void][] = [
    ["SIGINT", Deno.stdin.isTerminal() ? ignore : forward("SIGINT")],
    ["SIGTERM", forward("SIGTERM")],
    ["SIGHUP", forward("SIGHUP")],
  ];
  for (const [signal, handler] of handlers) Deno.addSignalListener(signal, handler);
  const status = await child.status;
  for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
  return status.signal ? 128 + signalNumber(status.signal) : status.code;
}

/** This process's command line (deno, its flags, the module, the arguments), on Linux. */
export function commandLine(): string[] | null {
  const file = "/proc/self/cmdline";
  if (Deno.build.os !== "linux") return null;
  if (Deno.permissions.querySync({ name: "read", path: file }).state !== "granted") return null;
  if (Deno.permissions.querySync({ name: "run" }).state !== "granted") return null;
  try {
    const argv = Deno.readTextFileSync(file).split("\0");
    if (argv.at(-1) === "") argv.pop();
    return argv.length > 1 ? argv : null;
  } catch {
    return null;
  }
}

function signalNumber(signal: Deno.Signal): number {
  return ({ SIGINT: 2, SIGKILL: 9, SIGTERM: 15, SIGHUP: 1 } as Record<string, number>)[signal] ?? 1;
}
