// Shared test helpers: quiet runtimes that are always shut down, and waiting for events.
import {
  type ContainerSnapshot,
  Runtime,
  type RuntimeEvents,
  type RuntimeOptions,
  type TopologyInput,
} from "../mod.ts";

export { readToEnd, readUntil, untilClosed, waitUntil, within } from "./_wait.ts";

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

/**
 * Process `pid` as one identity, `pid:start time` (from `/proc/<pid>/stat`), or `null` when it is
 * gone or a zombie: a pid reused by another process later has another identity.
 */
export function processIdentity(pid: number): string | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[0] is the state (field 3 of stat), so the start time (field 22) is fields[19].
    return fields[0] === "Z" ? null : `${pid}:${fields[19]}`;
  } catch {
    return null;
  }
}

/**
 * Records the processes a runtime starts (every incarnation, from the pids `rt.tree()` shows
 * when each instance starts) and tells which of them still run: a no-orphan check that looks at
 * its own runtime's processes only, not at every child of the test process (under `--parallel`
 * those include other test files' subprocesses).
 */
export function processWatch(rt: Runtime): { seen: Set<string>; left: () => string[] } {
  const seen = new Set<string>();
  const note = () => {
    const walk = (containers: ContainerSnapshot[]) => {
      for (const c of containers) {
        for (const i of c.instances) {
          const id = i.pid === undefined ? null : processIdentity(i.pid);
          if (id) seen.add(id);
        }
        walk(c.children ?? []);
      }
    };
    walk(rt.tree().containers);
  };
  note();
  rt.on("start", note);
  return {
    seen,
    left: () => [...seen].filter((id) => processIdentity(Number(id.split(":")[0])) === id),
  };
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

/**
 * A free TCP port on 127.0.0.1 for a program told to listen there soon after. Chosen below Linux's
 * ephemeral range (32768–60999): a port the kernel handed out for `port: 0` may be handed out again
 * at once as the source port of any outgoing connection, and the listen then fails with AddrInUse
 * (seen in CI).
 */
export function freePort(): number {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch {
      // taken: another
    }
  }
  throw new Error("no free port found in 20000–31999");
}
