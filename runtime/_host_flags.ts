/**
 * What this process's Deno was started with, as far as it matters to containers that share it:
 * whether Deno may show its interactive permission prompt, and which unstable features are on.
 *
 * A worker's permissions inherit the process's prompt setting: where Deno may prompt, a worker
 * touching something it was not granted stops the whole process at "Allow? [y/n/A]", and "y"
 * widens that worker's sandbox. There is no way to turn prompting off once a process runs, so a
 * worker container is refused there, with what to do instead (see {@linkcode assertNoPrompt}).
 *
 * @module
 */
import type { ContainerSpec } from "../config/topology.ts";
import { TopologyError } from "../protocol/errors.ts";
import { hostCommandLineKnown, hostResolutionFlags } from "./_host_config.ts";

let prompting: { may: boolean; flagsSeen: boolean } | undefined;

/**
 * Whether Deno may prompt in this process: as Deno decides, stdin and stderr are terminals and
 * prompting was not turned off — `DENO_NO_PROMPT=1` in the environment, or `--no-prompt` among
 * deno's flags (readable on Linux, from `/proc/self/cmdline`). Permissions are queried before
 * anything is read, so finding out never prompts itself. Unknown counts as yes.
 *
 * @example
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { mayPrompt } from "./_host_flags.ts";
 * // deno run -A --no-prompt main.ts, or stdin not a terminal (CI, tests):
 * assert.ok(!mayPrompt());
 * ```
 */
export function mayPrompt(): boolean {
  return promptState().may;
}

function promptState(): { may: boolean; flagsSeen: boolean } {
  if (prompting) return prompting;
  const flags = denoFlags();
  const off = readEnv("DENO_NO_PROMPT") === "1" || (flags?.includes("--no-prompt") ?? false);
  prompting = {
    may: Deno.stdin.isTerminal() && Deno.stderr.isTerminal() && !off,
    flagsSeen: flags !== null,
  };
  return prompting;
}

/**
 * Refuses a worker container where Deno may prompt.
 *
 * @throws {TopologyError} Naming the container's `mode` and the ways out.
 *
 * @example
 * ```ts ignore
 * import { assertNoPrompt } from "./_host_flags.ts";
 * assertNoPrompt(spec); // in `deno run -A main.ts` from a terminal: TopologyError at containers.api.mode
 * ```
 */
export function assertNoPrompt(spec: ContainerSpec): void {
  if (spec.mode !== "worker" || !mayPrompt()) return;
  const why = promptState().flagsSeen
    ? "deno runs without --no-prompt"
    : "Kraken cannot read deno's flags here (that takes Linux and read access to /proc/self/cmdline), so it cannot see a --no-prompt";
  throw new TopologyError(
    `worker container "${spec.name}" cannot start in a process where Deno may show its permission prompt (stdin and stderr are a terminal and ${why}): anything the worker was not granted would stop the whole process at "Allow?", and "y" would widen its sandbox; expected deno run --no-prompt (e.g. deno run -A --no-prompt main.ts) or DENO_NO_PROMPT=1 in the environment, or mode: process`,
    { key: `containers.${spec.name}.mode` },
  );
}

/**
 * How to tell whether this process has an unstable feature on, for the features whose APIs show
 * it (the others leave no trace a program can see).
 */
const VISIBLE: Record<string, () => boolean> = {
  net: () => typeof Deno.listenDatagram === "function",
  kv: () => typeof (Deno as { openKv?: unknown }).openKv === "function",
  cron: () => typeof (Deno as { cron?: unknown }).cron === "function",
  webgpu: () => "webgpu" in Deno,
  bundle: () => "bundle" in Deno,
  "unsafe-proto": () => "__proto__" in Object.prototype,
};
/** Whether this process has unstable `feature` on, as far as its APIs show (`false` when they do not). */
export function unstableVisible(feature: string): boolean {
  return VISIBLE[feature]?.() ?? false;
}

/** Features whose calls end the process when off, and whose presence a program cannot see. */
const UNSEEN_EXITING = ["vsock"];

/**
 * Refuses a worker or inline container whose `unstable:` lists a feature this process does not
 * have on: those share its flags. A feature Deno gates by ending the process (vsock) that cannot
 * be seen from here is refused for a worker too: its guard could not tell it is safe to call.
 *
 * @throws {TopologyError} Naming the container's `unstable` key and the missing flag.
 *
 * @example
 * ```ts ignore
 * import { assertUnstableHere } from "./_host_flags.ts";
 * assertUnstableHere({ ...spec, mode: "worker", unstable: ["kv"] }); // without --unstable-kv: throws
 * ```
 */
export function assertUnstableHere(spec: ContainerSpec): void {
  if (spec.mode !== "worker" && spec.mode !== "inline") return;
  for (const feature of spec.unstable) {
    const seen = VISIBLE[feature];
    if (seen && !seen()) {
      throw new TopologyError(
        `${spec.mode} container "${spec.name}" needs Deno's unstable "${feature}" feature, which this process does not have; a ${spec.mode} container shares the runtime process's flags: expected the runtime started with --unstable-${feature} (or "unstable": ["${feature}"] in its deno.json), or mode: process, which gets its own flags`,
        { key: `containers.${spec.name}.unstable` },
      );
    }
    if (!seen && spec.mode === "worker" && UNSEEN_EXITING.includes(feature)) {
      throw new TopologyError(
        `worker container "${spec.name}" lists unstable "${feature}", which a running process cannot tell it has, and whose calls end the whole process when it does not: expected mode: process, which is started with --unstable-${feature}`,
        { key: `containers.${spec.name}.unstable` },
      );
    }
  }
}

/**
 * Refuses a worker container where the runtime process visibly lacks Deno's unstable
 * `worker-options` feature: a Worker's own permissions need it, and without it Deno ends the whole
 * process (exit code 70) at the first worker instead of throwing. Seen from deno's command line
 * (`--unstable-worker-options`, `--unstable`) and the config it runs with (`"unstable"`); where
 * neither can be read, the worker is let through (Deno decides).
 *
 * @throws {TopologyError} Naming the container's `mode` and the ways out.
 */
export function assertWorkerOptions(spec: ContainerSpec): void {
  if (spec.mode !== "worker" || workerOptions() !== false) return;
  throw new TopologyError(
    `worker container "${spec.name}" needs Deno's unstable "worker-options" feature (a worker's own permissions), which this process was not started with, and without it Deno would end the whole process: expected "unstable": ["worker-options"] in the runtime's deno.json (kraken new writes it), or --unstable-worker-options on deno's command line, or mode: process`,
    { key: `containers.${spec.name}.mode` },
  );
}

let workerOptionsSeen: boolean | null | undefined;

/** Whether this process has `worker-options`: `null` when that cannot be told. */
function workerOptions(): boolean | null {
  if (workerOptionsSeen !== undefined) return workerOptionsSeen;
  const flags = hostResolutionFlags();
  if (flags.includes("--unstable-worker-options") || flags.includes("--unstable")) {
    return workerOptionsSeen = true;
  }
  if (!hostCommandLineKnown()) return workerOptionsSeen = null;
  const at = flags.indexOf("--config");
  if (at < 0) return workerOptionsSeen = false;
  try {
    const text = Deno.readTextFileSync(flags[at + 1]);
    // deno.jsonc may hold comments: the "unstable" list is looked for, not parsed whole.
    const list = /"unstable"\s*:\s*\[([^\]]*)\]/.exec(text)?.[1] ?? "";
    return workerOptionsSeen = /"worker-options"/.test(list);
  } catch {
    return workerOptionsSeen = null;
  }
}

/** An environment variable, read only where the permission to read it is already held. */
function readEnv(name: string): string | undefined {
  if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") {
    return undefined;
  }
  return Deno.env.get(name);
}

/**
 * deno's own flags (what comes before the main module on its command line), where readable:
 * Linux's `/proc/self/cmdline` with read permission for it; `null` elsewhere.
 */
function denoFlags(): string[] | null {
  const file = "/proc/self/cmdline";
  if (Deno.build.os !== "linux") return null;
  if (Deno.permissions.querySync({ name: "read", path: file }).state !== "granted") return null;
  try {
    const argv = Deno.readTextFileSync(file).split("\0");
    if (argv.at(-1) === "") argv.pop();
    // argv is deno, its flags, the module (or test files), then the program's own arguments.
    return argv.slice(1, Math.max(1, argv.length - Deno.args.length - 1));
  } catch {
    return null;
  }
}
