// Shared test helpers: quiet runtimes that are always shut down, and waiting for events.
import { Runtime, type RuntimeEvents, type RuntimeOptions, type TopologyInput } from "../mod.ts";

export const FIXTURES = new URL("./fixtures/", import.meta.url);
export const MODES = ["inline", "worker", "process"] as const;
export type LocalMode = typeof MODES[number];

/** Starts a quiet runtime, runs `fn`, and always shuts the runtime down. */
export async function withRuntime(
  topology: TopologyInput,
  fn: (rt: Runtime) => Promise<void>,
  options: RuntimeOptions = {},
): Promise<void> {
  const rt = await Runtime.start(topology, {
    logLevel: "silent",
    baseUrl: FIXTURES.href,
    ...options,
  });
  try {
    await fn(rt);
  } finally {
    await rt.shutdown();
  }
}

/** Resolves with the next `type` event matching `where`, or rejects after `ms`. */
export function nextEvent<K extends keyof RuntimeEvents>(
  rt: Runtime,
  type: K,
  where: (event: RuntimeEvents[K]) => boolean = () => true,
  ms = 5000,
): Promise<RuntimeEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no "${type}" event within ${ms} ms`));
    }, ms);
    const off = rt.on(type, (event) => {
      if (!where(event)) return;
      clearTimeout(timer);
      off();
      resolve(event);
    });
  });
}

/** Whether an OS process with this pid is alive (not a zombie). */
export function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
}

/** Pids of the processes whose parent is `ppid`. */
export function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) === ppid && fields[0] !== "Z") out.push(Number(entry.name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

export async function waitUntil(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = performance.now() + ms;
  while (!check()) {
    if (performance.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
