/**
 * Refusing escalation: a container's grant must lie within what this host process holds.
 * Checked with `Deno.permissions.querySync` for every requested item before anything starts.
 * The adapter half of `permissions.ts` (which compares grants as data): it asks Deno what this
 * process holds. The runtime checks what it starts itself; a host agent (`distribution/`) checks
 * what a root places on it.
 *
 * @module
 */
import { PERMISSION_KINDS, type PermissionKind, type Permissions } from "./permissions.ts";
import { PermissionEscalationError } from "../protocol/errors.ts";

function descriptor(kind: PermissionKind, value: string | undefined): Deno.PermissionDescriptor {
  switch (kind) {
    case "net":
    case "import":
      return value === undefined ? { name: kind } : { name: kind, host: value };
    case "read":
    case "write":
    case "ffi":
      return value === undefined ? { name: kind } : { name: kind, path: value };
    case "env":
      return value === undefined ? { name: "env" } : { name: "env", variable: value };
    case "run":
      return value === undefined ? { name: "run" } : { name: "run", command: value };
    case "sys":
      return value === undefined
        ? { name: "sys" }
        : { name: "sys", kind: value as Deno.SysPermissionDescriptor["kind"] };
    default: {
      const never: never = kind;
      throw new TypeError(`unknown permission kind ${String(never)}`);
    }
  }
}

/**
 * Throws {@linkcode PermissionEscalationError} unless this process holds all of `grant`.
 *
 * @param container The container asking, for the error.
 * @param grant Its validated permissions.
 */
export function assertWithinHost(container: string, grant: Permissions): void {
  for (const kind of PERMISSION_KINDS) {
    const value = grant[kind];
    if (value === undefined) continue;
    const items = value === true ? [undefined] : value;
    for (const item of items) {
      let state: Deno.PermissionState;
      try {
        state = Deno.permissions.querySync(descriptor(kind, item)).state;
      } catch (error) {
        throw new PermissionEscalationError(
          container,
          kind,
          item ?? true,
          (error as Error).message,
        );
      }
      if (state !== "granted") throw new PermissionEscalationError(container, kind, item ?? true);
    }
  }
}

/**
 * Throws {@linkcode PermissionEscalationError} unless this process may start a Deno subprocess:
 * `mode: process` runs the Deno executable, which takes `run` access to it (there is no fallback
 * without it). The error names the container and the flag to add.
 *
 * @param container The process container about to start.
 */
export function assertCanRunProcess(container: string): void {
  const deno = Deno.execPath();
  let granted = false;
  try {
    granted = Deno.permissions.querySync({ name: "run", command: deno }).state === "granted";
  } catch {
    // an unusable descriptor is no grant
  }
  if (granted) return;
  throw new PermissionEscalationError(
    container,
    "run",
    deno,
    `mode: process starts a Deno subprocess, which this host may not: start the host with ` +
      `--allow-run (or --allow-run=${deno}), or give the container mode: worker`,
  );
}
