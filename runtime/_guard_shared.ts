/**
 * The guards of a container that shares its process: a worker (the process is its host's, or its
 * parent container's). See `_guard.ts` for when they are installed and why they cannot be undone;
 * this module is imported only by a worker's entry, so a process container does not load
 * `node:process`, `node:module` and `node:worker_threads` for them.
 *
 * @module
 */
import process from "node:process";
import { lock } from "./_guard.ts";
import { guardNodeWorkers } from "./_guard_node.ts";
import { guardNodeModules } from "./_guard_modules.ts";

type Refuse = (call: string, why: string) => never;

// Taken when this module is evaluated, before any container code.
const { apply, getPrototypeOf } = Reflect;
const { isInteger } = Number;
const Text = String;
const Num = Number;
const DenoNs = Deno;

let imports: Promise<void> | null = null;

/**
 * Installs the guards of a shared process: signals, its signals, the terminal, process-wide
 * state, `node:worker_threads`, and what `node:process` and `node:module` are to the container's
 * imports. Called once per isolate by `installGuard`; the entry then awaits
 * {@linkcode sharedProcessGuarded} before it imports any container module.
 *
 * @param refuse Throws the refusal of a call, naming the container.
 *
 * @example
 * ```ts ignore
 * import { installGuard } from "./_guard.ts";
 * import { guardSharedProcess, sharedProcessGuarded } from "./_guard_shared.ts";
 * installGuard({ container: "api", mode: "worker", unstable: [] }, guardSharedProcess);
 * await sharedProcessGuarded();
 * ```
 */
export function guardSharedProcess(refuse: (call: string, why: string) => never): void {
  guardSignals(refuse);
  guardTerminal(refuse);
  guardProcessState(refuse);
  guardNodeWorkers(refuse);
  // Last: the guarded copy of node:process exports what the guards above locked on `process`.
  imports = guardNodeModules(refuse);
}

/**
 * Settles once {@linkcode guardSharedProcess} is complete: the guarded copies of `node:process`
 * and `node:module` are loaded, so container modules may be imported.
 *
 * @example
 * ```ts ignore
 * await sharedProcessGuarded();
 * ```
 */
export function sharedProcessGuarded(): Promise<void> {
  if (imports === null) throw new TypeError("the shared-process guard is not installed");
  return imports;
}

function guardSignals(refuse: Refuse): void {
  const self = Deno.pid;
  const pidOf = (call: string, pid: unknown): number => {
    const target = typeof pid === "number" ? pid : Num(pid);
    if (!isInteger(target) || target <= 0 || target > 0x7fffffff) {
      refuse(
        call,
        `pid ${
          Text(target)
        } is not a positive 32-bit whole number (0 and negative pids signal process groups, which hold the process this container shares)`,
      );
    }
    if (target === self) {
      refuse(
        call,
        `pid ${self} is the process this container shares with its host; a container ends through its supervisor, not by signalling its process`,
      );
    }
    return target;
  };
  const kill = Deno.kill;
  lock(Deno, "kill", function kill_(pid: unknown, signal?: unknown) {
    const target = pidOf(`Deno.kill(${Text(pid)})`, pid);
    return apply(kill, DenoNs, signal === undefined ? [target] : [target, signal]);
  });
  const node = process as unknown as Record<string, unknown>;
  for (const key of ["kill", "_kill"]) {
    const original = node[key];
    if (typeof original !== "function") continue;
    lock(node, key, function (this: unknown, pid: unknown, signal?: unknown) {
      const target = pidOf(`process.${key}(${Text(pid)})`, pid);
      return apply(original, node, signal === undefined ? [target] : [target, signal]);
    });
  }
  const listen = Deno.addSignalListener;
  lock(Deno, "addSignalListener", function addSignalListener(signal: unknown, handler: unknown) {
    if (signal !== "SIGWINCH") {
      refuse(
        `Deno.addSignalListener(${typeof signal === "string" ? signal : typeof signal})`,
        "signals reach the whole process, and a listener here takes the signal's default action away from the host (SIGINT would no longer stop it); a container stops through its supervisor (ctx.onStop, ctx.signal)",
      );
    }
    return apply(listen, DenoNs, [signal, handler]);
  });
}

/**
 * Raw mode, which turns Ctrl-C into a byte instead of SIGINT to the host, on every way to it: the
 * methods that call the op (`Deno.stdin.setRaw`, `Deno.FsFile.setRaw`, and `setRawMode` of the
 * native TTY handle behind `node:tty`'s `ReadStream`, so `process.stdin.setRawMode` too).
 */
function guardTerminal(refuse: Refuse): void {
  const why = "the terminal is the host's: in raw mode Ctrl-C no longer sends SIGINT to it";
  const stdin = getPrototypeOf(Deno.stdin) as object | null;
  if (stdin && typeof (stdin as Record<string, unknown>).setRaw === "function") {
    lock(stdin, "setRaw", function setRaw() {
      refuse("Deno.stdin.setRaw()", why);
    });
  }
  lock(Deno.FsFile.prototype, "setRaw", function setRaw() {
    refuse("Deno.FsFile.setRaw()", why);
  });
  // node:tty's ReadStream wraps a native TTY handle, whose class node:process hands out as its
  // "tty_wrap" binding; its prototype's setRawMode is the only way to that op from node code.
  const binding = (process as unknown as { binding?(name: string): { TTY?: unknown } }).binding;
  const TTY = typeof binding === "function" ? apply(binding, process, ["tty_wrap"])?.TTY : null;
  const handle = typeof TTY === "function" ? (TTY as { prototype: object }).prototype : null;
  if (!handle || typeof (handle as Record<string, unknown>).setRawMode !== "function") {
    throw new TypeError(
      `the container guard cannot stop raw mode through node:tty in Deno ${Deno.version.deno}`,
    );
  }
  lock(handle, "setRawMode", function setRawMode() {
    refuse("setRawMode() of node:tty", why);
  });
}

function guardProcessState(refuse: Refuse): void {
  const shared = "it changes the whole process, which this container shares with its host";
  const umask = Deno.umask;
  lock(Deno, "chdir", function chdir() {
    refuse("Deno.chdir()", `the working folder is the process's: ${shared}`);
  });
  lock(Deno, "umask", function umask_(mask?: unknown) {
    if (mask !== undefined) refuse("Deno.umask(mask)", shared);
    return apply(umask, DenoNs, []);
  });
  const node = process as unknown as Record<string, unknown>;
  const nodeUmask = node.umask;
  if (typeof nodeUmask === "function") {
    lock(node, "umask", function umask_(mask?: unknown) {
      if (mask !== undefined) refuse("process.umask(mask)", shared);
      return apply(nodeUmask, node, []);
    });
  }
  lock(node, "abort", function abort() {
    refuse(
      "process.abort()",
      "it ends at once the whole process, which this container shares with its host",
    );
  });
  for (
    const key of ["chdir", "setuid", "setgid", "seteuid", "setegid", "setgroups", "initgroups"]
  ) {
    if (typeof node[key] !== "function") continue;
    lock(node, key, function () {
      refuse(`process.${key}()`, shared);
    });
  }
}
