/**
 * A process instance: a Deno subprocess with exactly its grant's `--allow-*` flags (the hard
 * sandbox), linked over a unix socket or stdin/stdout, with the host's resolution flags and only
 * the environment it needs.
 *
 * @module
 */
import { toProcessFlags } from "../config/permissions.ts";
import { toUnstableFlags, type UnstableFeature } from "../config/_unstable.ts";
import { StreamLink } from "../transports/stream_link.ts";
import { openProcessLink } from "./_process_link.ts";
import { processEnv } from "./_process_env.ts";
import { hostResolutionFlags } from "./_host_config.ts";
import { assertCanRunProcess, assertWithinHost } from "../config/_grant.ts";
import type { Link } from "../transports/link.ts";
import { settlesWithin } from "./_timing.ts";
import type { Node } from "./_node.ts";
import type { Usage } from "./_usage.ts";
import { IsolateHandle, withReads } from "./_isolate_handle.ts";
import { tracingOn } from "./_tracing.ts";

/** The longest a stopped process exporting spans gets to exit by itself, ms. */
const EXIT_FLUSH_MS = 2000;

/** Runtimes (by hub) already told that their process containers link over stdin/stdout. */
const toldStdio = new WeakSet<Node>();

/**
 * Unstable features that change how modules resolve or load: a process container gets the host's
 * (as a worker shares them), whatever its own `unstable:` list says. Not `raw-imports`: bytes
 * imports load data, which a container gets only when its own list asks for it.
 */
const LOADING_FEATURES = new Set([
  "bare-node-builtins",
  "byonm",
  "detect-cjs",
  "lazy-dynamic-imports",
  "lockfile-v5",
  "node-globals",
  "npm-lazy-caching",
  "sloppy-imports",
  "unsafe-proto",
]);

/**
 * A process container's resolution and unstable flags: the host's resolution flags (config,
 * import map, lock, …) and loading features, `worker-options`, and the features it lists; an API
 * feature of the host's (`net`, `kv`, `raw-imports`, …) only when it lists it too.
 */
export function processFlags(unstable: readonly UnstableFeature[]): string[] {
  const host = hostResolutionFlags().filter((flag) => {
    if (!flag.startsWith("--unstable-")) return true;
    return LOADING_FEATURES.has(flag.slice("--unstable-".length).split("=")[0]);
  });
  const own = toUnstableFlags([...new Set(["worker-options" as const, ...unstable])]);
  return [...new Set([...host, ...own])];
}

/** Longest line kept from a process's stdout or stderr; longer output is cut into such lines. */
const MAX_OUTPUT_LINE = 16 * 1024;

/** An instance in a Deno subprocess run with exactly its grant's `--allow-*` flags (a hard sandbox). */
export class ProcessHandle extends IsolateHandle {
  #child: Deno.ChildProcess | null = null;
  readonly #stderrTail: string[] = [];

  /** Its OS process id while the process lives. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  protected spawn(entry: string): Link {
    const { spec, hub } = this.launch;
    // Refused before anything starts, on every path (start, spawn, scale, restart, placement):
    // Deno checks a Worker's grant against its host, but nothing checks a subprocess's flags.
    assertCanRunProcess(spec.name);
    assertWithinHost(spec.name, spec.permissions);
    // The host's link to the process: a unix socket it connects back to, else stdin/stdout.
    const { socket, fallback } = openProcessLink();
    if (fallback && !toldStdio.has(hub)) {
      toldStdio.add(hub);
      this.launch.log(
        "info",
        `process containers link over stdin/stdout, not the faster unix socket: ${fallback}; ` +
          `KRAKEN_PROCESS_LINK=stdio chooses stdio without this note`,
        "runtime",
      );
    }
    const grant = withReads(spec.permissions, this.launch.reads);
    const command = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        // Resolved as the host resolves, as a worker would be (see _host_config.ts); the unstable
        // features are the container's own (`unstable:`), plus those that change how the host
        // loads modules.
        ...processFlags(this.launch.spec.unstable),
        ...toProcessFlags(socket ? socket.grant(grant) : grant),
        entry,
        ...(socket?.args ?? []),
      ],
      stdin: socket ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
      // Not the host's environment (its secrets): Deno's settings and what the grant names.
      env: processEnv(grant.env),
      clearEnv: true,
      // Its own session and process group: Ctrl-C (and Ctrl-\, Ctrl-Z) at a terminal signal the
      // whole foreground group, and the host answers with a graceful shutdown that stops this
      // process in its turn, within `shutdown:`; in the group, the signal's default action would
      // end it first, its requests in flight lost. Its end still follows the host's: the link
      // closes (see _process_entry.ts).
      detached: true,
    });
    let child: Deno.ChildProcess;
    try {
      child = command.spawn();
    } catch (error) {
      socket?.abandon();
      throw error;
    }
    this.#child = child;
    // Over a socket, stdout is free: whatever the container prints there is logged too.
    const outputDone = Promise.all([
      this.#pumpLines(child.stderr),
      socket ? this.#pumpLines(child.stdout) : Promise.resolve(),
    ]);
    const link = socket ? socket.link : new StreamLink(child.stdout, child.stdin);
    socket?.connected.catch((error: Error) => {
      this.kill({ kind: "crashed", message: error.message });
    });
    child.status.then(async (status) => {
      socket?.abandon();
      // Let the last words on stderr arrive: they explain a failed start.
      await settlesWithin(outputDone, 200);
      this.#child = null;
      this.ended(
        status.signal
          ? { kind: "killed", message: `process killed by ${status.signal}` }
          : status.code === 0
          ? { kind: "normal", message: "process exited with code 0" }
          : { kind: "crashed", message: `process exited with code ${status.code}` },
      );
      await outputDone;
      link.close();
      await link.closed;
      this.released();
    });
    return link;
  }

  /**
   * While tracing is on, a stopped process exits by itself (`Deno.exit` flushes the spans Deno's
   * exporter still holds) rather than being killed at once, which would lose its last spans.
   */
  protected override exitGrace(): number {
    return tracingOn() ? EXIT_FLUSH_MS : 0;
  }

  protected destroy(): void {
    try {
      this.#child?.kill("SIGKILL");
    } catch {
      // already gone
    }
  }

  protected override startDetail(): string {
    return this.#stderrTail.join("\n");
  }

  /** Its CPU share from its pongs, and its resident memory read now (even before a pong). */
  override usage(): Usage {
    const pid = this.#child?.pid;
    return {
      ...super.usage(),
      memoryBytes: pid === undefined ? null : residentBytes(pid),
    };
  }

  async #pumpLines(stream: ReadableStream<Uint8Array>): Promise<void> {
    let rest = "";
    try {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        const lines = (rest + chunk).split("\n");
        rest = lines.pop() ?? "";
        for (const line of lines) this.#line(line);
        // Output that never ends a line must not grow the host without bound: it is cut into
        // lines of at most MAX_OUTPUT_LINE characters.
        while (rest.length > MAX_OUTPUT_LINE) {
          this.#line(rest.slice(0, MAX_OUTPUT_LINE));
          rest = rest.slice(MAX_OUTPUT_LINE);
        }
      }
    } catch {
      // the process is gone
    }
    if (rest) this.#line(rest);
  }

  #line(line: string): void {
    this.#stderrTail.push(line);
    if (this.#stderrTail.length > 20) this.#stderrTail.shift();
    this.launch.log("info", line, this.launch.instance);
  }
}

/**
 * VmRSS of process `pid` in bytes, from `/proc/<pid>/status` (Linux); `null` elsewhere, without
 * read access to `/proc`, or once the process is gone.
 */
function residentBytes(pid: number): number | null {
  if (Deno.build.os !== "linux") return null;
  const path = `/proc/${pid}/status`;
  // Asked first: reading without the permission would prompt on a terminal, every heartbeat.
  if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") return null;
  try {
    const status = Deno.readTextFileSync(path);
    const kb = /^VmRSS:\s*(\d+)\s*kB/m.exec(status);
    return kb ? Number(kb[1]) * 1024 : null;
  } catch {
    return null;
  }
}
