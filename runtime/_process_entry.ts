/**
 * Entry of a process container (`deno run` of a short module importing the container guard,
 * `_guard.ts`, then this file and the container module). The link to the host is a unix socket
 * named in the arguments (see `_process_link.ts`), or stdin/stdout without them. Either way the
 * link's end is the host's death: the process then stops and exits by itself (no orphans).
 *
 * @module
 */
import { bootNode } from "./_boot.ts";
import { connectToHost } from "./_process_link.ts";
import { processCpu, usageReader } from "./_usage.ts";

/** Taken before any container code runs (see `_usage.ts`): this process's heap and CPU. */
const usage = usageReader(processCpu());

/** Longest cleanup an orphaned process gets once its host is gone, ms. */
const ORPHAN_GRACE = 1500;

/** Boots the container exported by `moduleName` in this process. */
export async function bootProcess(
  definition: unknown,
  moduleName: string,
  definitions: Record<string, unknown> = {},
): Promise<void> {
  // stdout may carry frames: anything a container prints goes to stderr, which the host forwards.
  const toStderr = (...args: unknown[]) => console.error(...args);
  console.log = toStderr;
  console.info = toStderr;
  console.debug = toStderr;
  // The host passes a socket path and token as arguments; without them the link is stdio.
  const link = await connectToHost(Deno.args);
  bootNode(link, definition, moduleName, {
    onStopped() {
      link.drain().finally(() => Deno.exit(0));
    },
    onHostLost(instance) {
      setTimeout(() => Deno.exit(0), ORPHAN_GRACE);
      if (!instance) Deno.exit(0);
      instance.end({ kind: "stopped", message: "the host is gone" }).finally(() => Deno.exit(0));
    },
    usage,
  }, definitions);
}
