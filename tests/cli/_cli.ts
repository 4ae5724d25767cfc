// Helpers for the CLI tests: run the real `kraken` as a subprocess, start a topology with
// `kraken start` and read where its management API listens, look at the process table.
import { alive, childrenOf, waitUntil } from "../_helpers.ts";

export const CLI = new URL("../../cli/main.ts", import.meta.url).pathname;
export const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `kraken ARGS` to completion (stdin closed: not a terminal). A command still running after
 * `options.ms` (default 60 s) is killed and the call fails naming it; `options.signal` kills it
 * earlier, and then its result is returned as it is.
 */
export async function kraken(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; signal?: AbortSignal; ms?: number } = {},
): Promise<Result> {
  const ms = options.ms ?? 60_000;
  const late = AbortSignal.timeout(ms);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    env: { NO_COLOR: "1", ...options.env },
    cwd: options.cwd,
    signal: options.signal ? AbortSignal.any([options.signal, late]) : late, // kills it
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  const result = {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
  if (late.aborted && !options.signal?.aborted) {
    throw new Error(
      `timed out after ${ms} ms waiting for kraken ${
        args.join(" ")
      } to exit\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`,
    );
  }
  return result;
}

/** A long-running subprocess whose output is collected as it comes. */
export class Running {
  readonly child: Deno.ChildProcess;
  stdout = "";
  stderr = "";
  readonly #done: Promise<unknown>;

  constructor(command: Deno.Command) {
    this.child = command.spawn();
    const pump = async (stream: ReadableStream<Uint8Array>, key: "stdout" | "stderr") => {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) this[key] += text;
    };
    this.#done = Promise.all([
      pump(this.child.stdout, "stdout"),
      pump(this.child.stderr, "stderr"),
    ]);
  }

  get pid(): number {
    return this.child.pid;
  }

  /** Waits until stdout (or stderr) matches `pattern`; returns the match. */
  async waitFor(
    pattern: RegExp,
    ms = 30_000,
    stream: "stdout" | "stderr" = "stdout",
  ): Promise<RegExpMatchArray> {
    let match: RegExpMatchArray | null = null;
    await waitUntil(
      () => (match = this[stream].match(pattern)) !== null,
      ms,
      `${pattern} in ${stream}; so far:\n${this.stdout}\n--- stderr:\n${this.stderr}`,
    ).catch((error) => {
      throw new Error(`${error.message}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
    });
    return match!;
  }

  /**
   * Waits for the exit and returns its code. Still running after `ms` (default 60 s): it is
   * killed and the wait fails, showing its output.
   */
  async exit(ms = 60_000): Promise<number> {
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      for (const pid of [...descendants(this.pid), this.pid]) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // gone already
        }
      }
    }, ms);
    try {
      const status = await this.child.status;
      await this.#done;
      if (late) {
        throw new Error(
          `timed out after ${ms} ms waiting for process ${this.pid} to exit\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`,
        );
      }
      return status.code;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Kills it and everything below it (used in `finally`: a failed test leaves nothing behind). */
  async kill(): Promise<void> {
    for (const pid of descendants(this.pid)) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // gone already
      }
    }
    try {
      this.child.kill("SIGKILL");
    } catch {
      // exited already
    }
    await this.exit();
  }
}

/** Runs `kraken ARGS` in the background. */
export function krakenInBackground(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Running {
  return new Running(
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", CLI, ...args],
      env: { NO_COLOR: "1", ...options.env },
      cwd: options.cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }),
  );
}

/** Every process below `pid`, children first. */
export function descendants(pid: number): number[] {
  const out: number[] = [];
  for (const child of childrenOf(pid)) out.push(child, ...descendants(child));
  return out;
}

/** The `deno` processes `pid` started (process-mode containers of a `kraken start`). */
export function denoChildren(pid: number): number[] {
  return childrenOf(pid).filter((child) => {
    try {
      return Deno.readTextFileSync(`/proc/${child}/comm`).trim() === "deno";
    } catch {
      return false;
    }
  });
}

export { alive, waitUntil };
