/**
 * Entry of a process container (`deno run` of a two-line module importing this file and the
 * container module). The link to the host is stdin/stdout: it needs no permission at all, so the
 * process's sandbox is exactly the container's grant, and stdin's end is the host's death — the
 * process then stops and exits by itself (no orphans).
 *
 * @module
 */
import { StreamLink } from "../transports/stream_link.ts";
import { bootNode } from "./_boot.ts";

/** Longest cleanup an orphaned process gets once its host is gone, ms. */
const ORPHAN_GRACE = 1500;

/** Boots the container exported by `moduleName` in this process. */
export function bootProcess(
  definition: unknown,
  moduleName: string,
  definitions: Record<string, unknown> = {},
): void {
  // stdout carries frames: anything a container prints goes to stderr, which the host forwards.
  const toStderr = (...args: unknown[]) => console.error(...args);
  console.log = toStderr;
  console.info = toStderr;
  console.debug = toStderr;
  const link = new StreamLink(Deno.stdin.readable, Deno.stdout.writable);
  bootNode(link, definition, moduleName, {
    onStopped() {
      link.drain().finally(() => Deno.exit(0));
    },
    onHostLost(instance) {
      setTimeout(() => Deno.exit(0), ORPHAN_GRACE);
      if (!instance) Deno.exit(0);
      instance.end({ kind: "stopped", message: "the host is gone" }).finally(() => Deno.exit(0));
    },
  }, definitions);
}
