/**
 * The guards of a container that shares its process: a worker (the process is its host's, or its
 * parent container's). See `_guard.ts` for when they are installed and why they cannot be undone;
 * this module is imported only by a worker's entry, so a process container does not load
 * `node:process` and `node:worker_threads` for them.
 *
 * @module
 */
import process from "node:process";
import { lock } from "./_guard.ts";
import { guardNodeWorkers } from "./_guard_node.ts";

type Refuse = (call: string, why: string) => never;

// Taken when this module is evaluated, before any container code.
const { apply, getPrototypeOf } = Reflect;
const { isInteger } = Number;
const Text = String;
const Num = Number;
const DenoNs = Deno;

/**
 * Installs the guards of a shared process: signals, its signals, process-wide state, and
 * `node:worker_threads`. Called once per isolate by `installGuard`.
 *
 * @param refuse Throws the refusal of a call, naming the container.
 *
 * @example
 * ```ts ignore
 * import { installGuard } from "./_guard.ts";
 * import { guardSharedProcess } from "./_guard_shared.ts";
 * installGuard({ container: "api", mode: "worker", unstable: [] }, guardSharedProcess);
 * ```
 */
export function guardSharedProcess(refuse: Refuse): void {
  guardSignals(refuse);
  guardProcessState(refuse);
  guardNodeWorkers(refuse);
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
  const stdin = getPrototypeOf(Deno.stdin) as object | null;
  if (stdin && typeof (stdin as Record<string, unknown>).setRaw === "function") {
    lock(stdin, "setRaw", function setRaw() {
      refuse(
        "Deno.stdin.setRaw()",
        "the terminal is the host's: in raw mode Ctrl-C no longer sends SIGINT to it",
      );
    });
  }
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
  for (
    const key of ["chdir", "setuid", "setgid", "seteuid", "setegid", "setgroups", "initgroups"]
  ) {
    if (typeof node[key] !== "function") continue;
    lock(node, key, function () {
      refuse(`process.${key}()`, shared);
    });
  }
}
