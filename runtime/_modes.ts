/**
 * The host side of each mode: how an instance is started, watched, stopped and killed inline, in
 * a Web Worker, or in a Deno subprocess. One small interface, {@linkcode InstanceHandle}
 * (`_handle.ts`), three implementations (`_inline_handle.ts`, `_worker_handle.ts`,
 * `_process_handle.ts`); everything else in the runtime is mode-blind.
 *
 * @module
 */
import type { InitSettings } from "../protocol/envelope.ts";
import { TopologyError } from "../protocol/errors.ts";
import { metricsBook } from "./_metrics.ts";
import type { InstanceHandle, Launch } from "./_handle.ts";
import { InlineHandle } from "./_inline_handle.ts";
import { WorkerHandle } from "./_worker_handle.ts";
import { ProcessHandle } from "./_process_handle.ts";

export type { InstanceHandle, Launch } from "./_handle.ts";
export { InlineHandle } from "./_inline_handle.ts";
export { WorkerHandle } from "./_worker_handle.ts";
export { processFlags } from "./_process_handle.ts";

/**
 * Makes the handle for a launch, by mode. Its figures count in the book of the launching node
 * until it is gone, then join that container's totals there.
 */
export function createHandle(launch: Launch, routes: () => InitSettings["routes"]): InstanceHandle {
  let handle: InstanceHandle;
  switch (launch.spec.mode) {
    case "inline":
      handle = new InlineHandle(launch);
      break;
    case "worker":
      handle = new WorkerHandle(launch, routes);
      break;
    case "process":
      handle = new ProcessHandle(launch, routes);
      break;
    default:
      throw new TopologyError(`mode "${launch.spec.mode}" cannot run here`, {
        key: `containers.${launch.spec.name}.mode`,
      });
  }
  const book = metricsBook(launch.hub);
  book.track(handle);
  handle.gone.then(() => book.retire(handle));
  return handle;
}
