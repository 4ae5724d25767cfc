/**
 * What this process's Deno was started with, as far as it matters to containers that share it:
 * which unstable features are on.
 *
 * @module
 */
import type { ContainerSpec } from "../config/topology.ts";
import { TopologyError } from "../protocol/errors.ts";

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
