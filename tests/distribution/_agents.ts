// Host agents for tests: `kraken node` as a real OS process (optionally inside a network
// namespace), and what runs under it.

export const SECRET = "distribution-secret";
export const FIXTURES_DIR = new URL("../fixtures/", import.meta.url).pathname;
const CLI = new URL("../../cli/main.ts", import.meta.url).pathname;

/** A `kraken node` subprocess. */
export interface AgentProcess {
  name: string;
  url: string;
  pid: number;
  child: Deno.ChildProcess;
  /** Lines it printed on stderr (its log). */
  log: string[];
  /** Stops it (SIGKILL if it lingers) and waits. */
  stop(): Promise<void>;
}

/**
 * Starts `kraken node --name NAME` listening on `listen` (default a free loopback port), with
 * `prefix` before the command (e.g. `ip netns exec ns1`).
 */
export async function startAgent(
  name: string,
  options: {
    listen?: string;
    keepalive?: number;
    maxPermissions?: Record<string, unknown>;
    prefix?: string[];
    /** Its --root (default the fixtures folder). */
    root?: string;
  } = {},
): Promise<AgentProcess> {
  const args = [
    "run",
    "-A",
    "--no-lock",
    CLI,
    "node",
    "--listen",
    options.listen ?? "tcp://127.0.0.1:0",
    "--secret",
    SECRET,
    "--name",
    name,
    "--root",
    options.root ?? FIXTURES_DIR,
    "--keepalive",
    String(options.keepalive ?? 1000),
    "--max-permissions",
    JSON.stringify(options.maxPermissions ?? {}),
  ];
  const [cmd, ...pre] = options.prefix ?? [];
  const child = new Deno.Command(cmd ?? Deno.execPath(), {
    args: cmd ? [...pre, Deno.execPath(), ...args] : args,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const log: string[] = [];
  (async () => {
    let rest = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop() ?? "";
      log.push(...lines);
    }
  })().catch(() => {});
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const deadline = setTimeout(() => child.kill("SIGKILL"), 20_000);
  while (!/listening on \S+/.test(text)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  clearTimeout(deadline);
  reader.releaseLock();
  const url = text.match(/listening on (\S+)/)?.[1];
  if (!url) {
    await child.status;
    throw new Error(`kraken node ${name} did not start:\n${log.join("\n")}`);
  }
  child.stdout.cancel().catch(() => {});
  let stopped: Promise<void> | null = null;
  return {
    name,
    url,
    pid: child.pid,
    child,
    log,
    stop() {
      stopped ??= (async () => {
        try {
          child.kill("SIGTERM");
        } catch {
          // gone already
        }
        const timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch {
            // gone
          }
        }, 5_000);
        await child.status;
        clearTimeout(timer);
      })();
      return stopped;
    },
  };
}

/** Whether process `pid` is alive (and not a zombie). */
export function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

/** Child pids of `pid` (from /proc). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(entry.name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

export const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until true or `ms` pass. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  ms: number,
  what: string,
) {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    if (await check()) return;
    await pause(20);
  }
  throw new Error(`not within ${ms} ms: ${what}`);
}
