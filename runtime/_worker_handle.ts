/**
 * A worker instance: a Web Worker whose `deno.permissions` are exactly its grant (a soft sandbox:
 * see docs/security.md).
 *
 * @module
 */
import { toWorkerPermissions } from "../config/permissions.ts";
import { PortLink } from "../transports/port_link.ts";
import type { Link } from "../transports/link.ts";
import { assertNoPrompt, assertUnstableHere, assertWorkerOptions } from "./_host_flags.ts";
import { IsolateHandle, withReads } from "./_isolate_handle.ts";

/** An instance in a Web Worker with `deno.permissions` exactly its grant (a soft sandbox). */
export class WorkerHandle extends IsolateHandle {
  #worker: Worker | null = null;
  readonly outlivesKill = true;

  /** The worker's link, for direct channels to other workers. */
  get portLink(): PortLink | null {
    return this.link as PortLink | null;
  }

  protected spawn(entry: string): Link {
    // It shares this process: its prompt setting (decided where the runtime starts) and its flags.
    if (this.launch.hub.isHub) {
      assertNoPrompt(this.launch.spec);
      assertWorkerOptions(this.launch.spec);
    }
    assertUnstableHere(this.launch.spec);
    const worker = new Worker(entry, {
      type: "module",
      name: this.launch.instance,
      deno: {
        permissions: toWorkerPermissions(
          withReads(this.launch.spec.permissions, this.launch.reads),
        ),
      },
    });
    this.#worker = worker;
    worker.onerror = (event) => {
      // Without preventDefault an uncaught worker error would kill the host too.
      event.preventDefault();
      this.kill({ kind: "crashed", message: `uncaught error in worker: ${event.message}` });
    };
    return new PortLink(worker);
  }

  protected destroy(): void {
    this.#worker?.terminate();
    this.#worker = null;
    this.released();
  }
}
