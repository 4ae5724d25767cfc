// config/_file_url.ts stands in for node:url (whose import starts Deno's Node layer): the same URLs
// and paths, for the normalized absolute paths Kraken gives it.
import assert from "node:assert/strict";
import { fileURLToPath, pathToFileURL } from "node:url";
import { fileUrlToPath, pathToFileUrl } from "../../config/_file_url.ts";

const PATHS = [
  "/srv/app/",
  "/srv/my app/#1/50%.ts",
  "/a?b/c#d/e%2Ff",
  "/x/[y]/^z|w~v\\u/",
  "/tab\there/new\nline/cr\rx",
  "/ünï/中文/😀.ts",
  "/q\"uo`te/{b}<a>'s!$&()*+,;=:@",
];

Deno.test("pathToFileUrl gives node:url's pathToFileURL for every character class", () => {
  for (const path of PATHS) assert.equal(pathToFileUrl(path).href, pathToFileURL(path).href, path);
  for (let code = 1; code < 128; code++) {
    const path = `/a${String.fromCharCode(code)}b`.replace("//", "/_");
    if (path.includes("/.")) continue;
    assert.equal(pathToFileUrl(path).href, pathToFileURL(path).href, JSON.stringify(path));
  }
});

Deno.test("fileUrlToPath gives node:url's fileURLToPath, and refuses what it refuses", () => {
  for (const path of PATHS) {
    const url = pathToFileURL(path).href;
    assert.equal(fileUrlToPath(url), fileURLToPath(url), url);
  }
  assert.equal(fileUrlToPath("file://localhost/a%20b"), "/a b");
  for (const url of ["file://elsewhere/a", "file:///a%2fb", "file:///a%2Fb", "https://x/a"]) {
    assert.throws(() => fileURLToPath(url), url);
    assert.throws(() => fileUrlToPath(url), TypeError, url);
  }
});
