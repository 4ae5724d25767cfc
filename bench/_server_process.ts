// A bench server subprocess: it prints the address it listens on as its first stdout line and
// stops when its stdin ends. Used by bench/transports.ts for bench/_transport_server.ts and
// bench/_transport_raw_server.ts.

const ignore = () => {};

/** A server subprocess that prints its address on its first stdout line and stops at stdin's end. */
export class ServerProcess {
  readonly #child: Deno.ChildProcess;
  readonly #report: (problem: string) => void;
  readonly address: string;

  private constructor(
    child: Deno.ChildProcess,
    address: string,
    report: (problem: string) => void,
  ) {
    this.#child = child;
    this.address = address;
    this.#report = report;
  }

  /**
   * Starts `script` (a path relative to bench/) with `args` and waits for its address (15 s at
   * most); `report` hears what goes wrong later without stopping the run (a failed exit);
   * `flags` go to `deno run` before the script (e.g. `--unstable-net`).
   */
  static async start(
    script: string,
    args: string[],
    options: { report: (problem: string) => void; flags?: string[] },
  ): Promise<ServerProcess> {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        "-A",
        "--no-lock",
        ...(options.flags ?? []),
        new URL(script, import.meta.url).pathname,
        ...args,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
      env: { NO_COLOR: "1" },
    }).spawn();
    const reader = child.stdout.getReader();
    let text = "";
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL"); // silent too long: its stdout ends and start() fails below
      } catch {
        // already gone
      }
    }, 15_000);
    try {
      while (!text.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
    } finally {
      clearTimeout(timer);
      await reader.cancel().catch(ignore);
    }
    const address = text.split("\n")[0].trim();
    if (!address) {
      await child.stdin.close().catch(ignore);
      await child.status;
      throw new Error(`${script} ${args.join(" ")} did not say where it listens`);
    }
    return new ServerProcess(child, address, options.report);
  }

  /** Its pid. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Closes its stdin (it then exits) and waits for it; SIGKILL if it lingers. */
  async close(): Promise<void> {
    await this.#child.stdin.close().catch(ignore);
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }, 5_000);
    const status = await this.#child.status;
    clearTimeout(timer);
    if (!status.success) {
      this.#report(`a server process (pid ${this.pid}) exited with code ${status.code}`);
    }
  }
}
