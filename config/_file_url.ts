/**
 * `file:` URLs and paths as `node:url`'s `pathToFileURL` and `fileURLToPath` make them on POSIX,
 * without importing `node:url`: the first `node:` module an isolate loads starts Deno's Node layer
 * (~20 ms of CPU), which every container's isolate (they all evaluate the topology code through
 * `mod.ts`) and every application's start would pay for this alone.
 *
 * @module
 */

/**
 * What Deno 2.9.6's `pathToFileURL` encodes before the URL parser sees the path (the parser would
 * keep or drop them); the parser encodes the rest (space, `"`, `#`, `<`, `>`, `?`, `` ` ``, `{`,
 * `}`, non-ASCII).
 */
const PATH_CHARS: Record<string, string> = {
  "%": "%25",
  "\\": "%5C",
  "\n": "%0A",
  "\r": "%0D",
  "\t": "%09",
  "[": "%5B",
  "]": "%5D",
  "^": "%5E",
  "|": "%7C",
  "~": "%7E",
};

/**
 * The `file:` URL of absolute, normalized path `path` (no `.`, `..` or empty segments, as
 * `Deno.cwd()` and `Deno.realPathSync` give), percent-encoded as `pathToFileURL` does (spaces,
 * `#`, `?`, `%`, non-ASCII, …). Unlike `pathToFileURL`, it does not resolve the path first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pathToFileUrl } from "./_file_url.ts";
 * assert.equal(pathToFileUrl("/srv/my app/#1/50%.ts").href, "file:///srv/my%20app/%231/50%25.ts");
 * ```
 */
export function pathToFileUrl(path: string): URL {
  const url = new URL("file://");
  // A trailing slash is kept (a folder URL), as pathToFileURL keeps it.
  url.pathname = path.replace(/[%\\\n\r\t[\]^|~]/g, (c) => PATH_CHARS[c]);
  return url;
}

/**
 * The path of `file:` URL `url`, as `fileURLToPath` gives it on POSIX.
 *
 * @throws {TypeError} A URL that is not `file:`, names a host other than `localhost`, or holds an
 *   encoded `/`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileUrlToPath } from "./_file_url.ts";
 * assert.equal(fileUrlToPath("file:///srv/my%20app/x.ts"), "/srv/my app/x.ts");
 * ```
 */
export function fileUrlToPath(url: string | URL): string {
  const parsed = typeof url === "string" ? new URL(url) : url;
  if (parsed.protocol !== "file:") {
    throw new TypeError(`expected a file: URL, got ${parsed.href}`);
  }
  if (parsed.hostname !== "" && parsed.hostname !== "localhost") {
    throw new TypeError(`expected a local file: URL, got ${parsed.href} (host ${parsed.hostname})`);
  }
  if (/%2f/i.test(parsed.pathname)) {
    throw new TypeError(`expected a file path, got ${parsed.href}, which holds an encoded "/"`);
  }
  return decodeURIComponent(parsed.pathname);
}
