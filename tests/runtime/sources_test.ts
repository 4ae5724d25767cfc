// A container that nests workers is given read access to Kraken's own folders (a nested worker
// loads the library under its parent's permissions): every folder the library's entry loads
// from must be among them, or nesting a worker fails with a read error.
import assert from "node:assert/strict";
import { KRAKEN_FOLDERS } from "../../runtime/_sources.ts";

const PACKAGE = decodeURIComponent(new URL("../../", import.meta.url).pathname);

Deno.test("a container that nests workers may read every folder the library's entry loads from", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--no-lock", `${PACKAGE}mod.ts`],
    stdout: "piped",
    stderr: "null",
  }).output();
  assert.ok(out.success, "deno info mod.ts");
  const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { local?: string }[];
  };
  const folders = new Set<string>();
  for (const { local } of graph.modules) {
    if (!local?.startsWith(PACKAGE)) continue;
    const rest = local.slice(PACKAGE.length);
    if (rest.includes("/")) folders.add(PACKAGE + rest.split("/")[0]);
  }
  assert.ok(folders.size >= 5, [...folders].join(", "));
  const readable = KRAKEN_FOLDERS.map((name) => PACKAGE + name);
  for (const folder of folders) assert.ok(readable.includes(folder), `${folder} is not readable`);
});
