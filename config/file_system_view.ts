/**
 * What the validation of permissions needs to know of the file system, injected so that a
 * topology can be checked without I/O (tests pass a map; the runtime passes this process's view).
 *
 * @module
 */

/**
 * What canonical forms need to know of the file system. Validation without one compares paths as
 * written; the runtime passes this process's view, so a symbolic link cannot smuggle a path out.
 *
 * @example A link that leads out of the parent's grant
 * ```ts
 * import assert from "node:assert/strict";
 * import { type FileSystemView, TopologyError, validateTopology } from "jsr:@kraken/kraken";
 *
 * const links: Record<string, string> = { "/srv/app/public/escape": "/etc" };
 * const fs: FileSystemView = { readLink: (path) => links[path] ?? null };
 * const topology = {
 *   containers: {
 *     web: {
 *       module: "./web.ts",
 *       permissions: { read: ["./public"] },
 *       children: { page: { module: "./page.ts", permissions: { read: ["./public/escape"] } } },
 *     },
 *   },
 * };
 * assert.throws(
 *   () => validateTopology(topology, { baseUrl: "file:///srv/app/", fs }),
 *   (e) => e instanceof TopologyError && /\(which is \/etc\)/.test(e.message),
 * );
 * ```
 */
export interface FileSystemView {
  /**
   * What is at absolute path `path` (which has no `.` or `..`): the text of a symbolic link,
   * `null` for anything else that exists, `undefined` when nothing is there.
   */
  readLink(path: string): string | null | undefined;
  /** The absolute path of the program a bare command name runs (a `PATH` lookup), if any. */
  which?(name: string): string | undefined;
}
