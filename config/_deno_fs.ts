/**
 * The {@linkcode FileSystemView} of this process (`Deno.lstatSync`, `Deno.readLinkSync`, `PATH`):
 * the adapter that lets the pure comparison of `config/_canonical.ts` follow symbolic links.
 *
 * @module
 */
import type { FileSystemView } from "./file_system_view.ts";

/**
 * This process's file system. An entry it may not look at (no `read` permission, e.g. inside a
 * sandboxed container) counts as an ordinary entry: comparisons there fall back to the path as
 * written, and Deno's own check of a nested sandbox still applies.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DENO_FS } from "./_deno_fs.ts";
 * assert.equal(DENO_FS.readLink("/"), null);
 * ```
 */
export const DENO_FS: FileSystemView = {
  readLink(path) {
    try {
      return Deno.lstatSync(path).isSymlink ? Deno.readLinkSync(path) : null;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
        return undefined;
      }
      return null;
    }
  },
  which(name) {
    let path: string | undefined;
    try {
      path = Deno.env.get("PATH");
    } catch {
      return undefined; // no env permission: the name is compared as written
    }
    for (const dir of (path ?? "").split(":")) {
      if (!dir.startsWith("/")) continue; // relative PATH entries depend on the working directory
      try {
        const info = Deno.statSync(`${dir}/${name}`);
        if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) return `${dir}/${name}`;
      } catch {
        // not here
      }
    }
    return undefined;
  },
};
