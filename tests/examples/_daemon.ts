// The daemon example as a user runs it: `kraken start examples/daemon/kraken.yaml` in its own
// process, its queue in a temporary folder, its management API on a free port.
import type { ContainerSnapshot } from "../../mod.ts";
import {
  enqueue,
  FolderQueue,
  type JournalLine,
} from "../../examples/daemon/containers/folder_queue.ts";
import type { Job } from "../../examples/daemon/containers/jobs.ts";
import { freePort, processIdentity, waitUntil, within } from "../_helpers.ts";

const ROOT = new URL("../../", import.meta.url);
const TOKEN = "daemon-test-token";

export { enqueue, FolderQueue };
export type { Job, JournalLine };

/** A running `kraken start` of the example. */
export interface Daemon {
  process: Deno.ChildProcess;
  api: string;
  /** Everything it printed, stdout and stderr, so far. */
  output(): string;
  /** Its container snapshots, from the management API. */
  containers(): Promise<ContainerSnapshot[]>;
  /** Pids of the worker processes now running. */
  workerPids(): Promise<number[]>;
  /** Every worker process seen so far, as `pid:start time`. */
  seen: Set<string>;
  /** `POST /v1/shutdown` (what `kraken shutdown` sends), then its exit code (within `ms`). */
  shutdown(ms: number): Promise<number>;
  /** Ctrl-C at its terminal: SIGINT to its whole process group; then its exit code (within `ms`). */
  interrupt(ms: number): Promise<number>;
  /** Ends it for sure (SIGKILL) if it still runs; waits for it and its output. */
  close(): Promise<void>;
}

/**
 * Starts the example on `queue` (taking jobs from `nats` too when its subject is not empty) and
 * waits (within 30 s) until it says it started.
 */
export async function startDaemon(
  queue: string,
  nats: { address: string; subject: string } = { address: "127.0.0.1:4222", subject: "" },
): Promise<Daemon> {
  const api = `http://127.0.0.1:${freePort()}`;
  const process = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--no-prompt",
      "cli/main.ts",
      "start",
      "examples/daemon/kraken.yaml",
      "--json",
    ],
    cwd: ROOT.pathname,
    env: {
      DAEMON_QUEUE: queue,
      DAEMON_MANAGEMENT: api.slice("http://".length),
      KRAKEN_TOKEN: TOKEN,
      DAEMON_NATS_ADDRESS: nats.address,
      DAEMON_NATS_SUBJECT: nats.subject,
      NO_COLOR: "1",
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    // Its own process group, as a shell's foreground job: `interrupt` is Ctrl-C at its terminal.
    detached: true,
  }).spawn();
  let text = "";
  const read = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) text += chunk;
  };
  const reading = Promise.all([read(process.stdout), read(process.stderr)]);
  let exited = false;
  const status = process.status.then((s) => {
    exited = true;
    return s;
  });
  const seen = new Set<string>();
  const call = async (method: string, path: string) => {
    const response = await fetch(`${api}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}` },
      signal: AbortSignal.timeout(5_000),
    });
    if (!response.ok) {
      throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
    }
    return response.json();
  };
  const daemon: Daemon = {
    process,
    api,
    seen,
    output: () => text,
    async containers() {
      return (await call("GET", "/v1/tree")).containers;
    },
    async workerPids() {
      const workers = (await daemon.containers()).find((c) => c.name === "workers")!;
      const pids = workers.instances.flatMap((i) => i.pid === undefined ? [] : [i.pid]);
      for (const pid of pids) {
        const id = processIdentity(pid);
        if (id) seen.add(id);
      }
      return pids;
    },
    async shutdown(ms) {
      await call("POST", "/v1/shutdown");
      return (await within(status, ms, "kraken start to exit after /v1/shutdown")).code;
    },
    async interrupt(ms) {
      Deno.kill(-process.pid, "SIGINT");
      return (await within(status, ms, "kraken start to exit after Ctrl-C")).code;
    },
    async close() {
      if (!exited) {
        try {
          process.kill("SIGKILL");
        } catch {
          // gone meanwhile
        }
      }
      await status;
      await reading;
      // Its workers exit once their link to it closes: wait for that here too, on every path.
      await gone(seen, 10_000).catch(() => {});
    },
  };
  try {
    await waitUntil(() => /"type":"started"/.test(text) || exited, 30_000, "the daemon to start");
    if (exited) throw new Error(`kraken start exited before it started:\n${text}`);
    await daemon.workerPids();
  } catch (error) {
    await daemon.close();
    throw error;
  }
  return daemon;
}

/** Job ids in each state folder, and the journal's lines. */
export async function look(queue: FolderQueue) {
  const journal: JournalLine[] = [];
  try {
    const text = await Deno.readTextFile(new URL("journal.log", queue.root));
    for (const line of text.split("\n")) if (line) journal.push(JSON.parse(line));
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return {
    incoming: await queue.list("incoming"),
    processing: await queue.list("processing"),
    done: await queue.list("done"),
    failed: await queue.list("failed"),
    journal,
  };
}

/** Waits (within `ms`) until no process of `identities` runs: no orphan outlives its daemon. */
export async function gone(identities: Iterable<string>, ms: number): Promise<void> {
  const all = [...identities];
  const left = () => all.filter((id) => processIdentity(Number(id.split(":")[0])) === id);
  await waitUntil(() => left().length === 0, ms, `worker processes to exit (left: ${left()})`);
}

/** How many jobs `dir/state/` holds now (temporary dot files left out). */
export function count(dir: string, state: "done" | "failed"): number {
  let n = 0;
  for (const entry of Deno.readDirSync(`${dir}/${state}`)) {
    if (entry.name.endsWith(".json") && !entry.name.startsWith(".")) n++;
  }
  return n;
}
