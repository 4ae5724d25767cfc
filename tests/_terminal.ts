// Running a command on a pseudo-terminal (util-linux `script`): how a person at a terminal sees it.
//
// `script` runs the command through `$SHELL -c`. A shell that stays in between (dash, /bin/sh on
// Debian, does for a quoted command) dies of the Ctrl-C its command handles, and `script` then
// reports 130 whatever the command did; `exec` takes the shell out, and SHELL is pinned so a run
// here behaves as one in CI.

/** util-linux `script`, when this machine has it (Linux). */
export const SCRIPT: string | null = (() => {
  if (Deno.build.os !== "linux") return null;
  try {
    return Deno.statSync("/usr/bin/script").isFile ? "/usr/bin/script" : null;
  } catch {
    return null;
  }
})();

/** Whether tests can run a command on a pseudo-terminal here. */
export const hasPty: boolean = SCRIPT !== null;

/** One word for `sh -c`, whatever it holds. */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * `argv` run on a pseudo-terminal by `script` (`-q`: no banner, `-f`: output flushed at once, `-e`:
 * the command's exit code is script's); `after` is shell text run once it exits (then without
 * `exec`, so the shell stays to run it).
 */
export function terminalCommand(
  argv: readonly string[],
  options: Omit<Deno.CommandOptions, "args"> & { after?: string } = {},
): Deno.Command {
  const { after, env, ...rest } = options;
  const line = argv.map(shellQuote).join(" ");
  return new Deno.Command(SCRIPT ?? "/usr/bin/script", {
    ...rest,
    args: ["-qfec", after ? `${line}; ${after}` : `exec ${line}`, "/dev/null"],
    env: { SHELL: "/bin/sh", ...env },
  });
}
