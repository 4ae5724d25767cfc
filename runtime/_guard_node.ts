/**
 * Refuses `node:worker_threads` Workers in a container that shares its process (see `_guard.ts`).
 *
 * Deno's `NodeWorker` creates its isolate with an internal op (with the parent's permissions), so
 * the guard cannot be put first in it as it is for a Web Worker, and a `Deno.kill(Deno.pid)` there
 * would end the host. The first statement of its constructor is `super()`, and `super()` calls
 * whatever the class's prototype is when it runs: the guard makes that a function that refuses,
 * then makes the class non-extensible so its prototype can never be set back. Every way to
 * construct it (`new`, a subclass, `Reflect.construct` with any `new.target`) goes through
 * `super()` before the op, so none gets an isolate; nothing else pays for the check. Static
 * members still resolve: the refusing function's own prototype is `EventEmitter`.
 *
 * @module
 */
import { EventEmitter } from "node:events";
import { Worker as NodeWorker } from "node:worker_threads";

const { preventExtensions, setPrototypeOf } = Reflect;

/**
 * Installs the refusal. Call once per isolate, before any container code runs.
 *
 * @param refuse Throws the refusal of a call.
 * @throws {TypeError} When `node:worker_threads` cannot be guarded in this Deno (it fails closed).
 *
 * @example
 * ```ts ignore
 * import { guardNodeWorkers } from "./_guard_node.ts";
 * guardNodeWorkers((call, why) => { throw new Deno.errors.NotCapable(`${call}: ${why}`); });
 * ```
 */
export function guardNodeWorkers(refuse: (call: string, why: string) => never): void {
  const refused = function NodeWorkerRefused(): never {
    refuse(
      "new Worker() from node:worker_threads",
      'its isolate would share the process without this guard; use a Web Worker (new Worker(url, { type: "module" })), which starts guarded, or ctx.spawn',
    );
  };
  if (
    !setPrototypeOf(refused, EventEmitter) || !setPrototypeOf(NodeWorker, refused) ||
    !preventExtensions(NodeWorker)
  ) {
    throw new TypeError("the container guard could not watch node:worker_threads");
  }
  // Fail closed should a Deno construct its workers without calling super() first.
  let stopped = false;
  try {
    new NodeWorker("data:text/javascript,", {});
  } catch (error) {
    stopped = error instanceof Deno.errors.NotCapable;
  }
  if (!stopped) {
    throw new TypeError(
      `the container guard cannot stop node:worker_threads Workers in Deno ${Deno.version.deno}`,
    );
  }
}
