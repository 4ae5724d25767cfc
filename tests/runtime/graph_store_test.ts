// The module graphs read for the data-import check (`_graph.ts`) are stored in Deno's cache folder,
// so a fresh application starts a container without running `deno info` again: a stored graph is
// used while every file it was read from is unchanged, and read again as soon as one changed, so
// the check still holds for what the container loads now.
import assert from "node:assert/strict";

const MOD = new URL("../../mod.ts", import.meta.url).href;

/** Starts worker container `module` in a fresh process with `DENO_DIR=denoDir`; its outcome. */
async function startFresh(denoDir: string, module: string): Promise<string> {
  const script = `import { Runtime } from ${JSON.stringify(MOD)};
try {
  const rt = await Runtime.start({ containers: { c: { module: ${
    JSON.stringify(module)
  }, mode: "worker" } } },
    { logLevel: "silent" });
  console.log(await rt.ref("c").request("hi"));
  await rt.shutdown();
} catch (error) {
  console.log(error.name + ": " + error.message);
}`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-prompt", "--no-lock", "--unstable-worker-options", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
    env: { DENO_DIR: denoDir },
    signal: AbortSignal.timeout(60_000),
  }).spawn();
  const writer = out.stdin.getWriter();
  await writer.write(new TextEncoder().encode(script));
  await writer.close();
  const { stdout } = await out.output();
  return new TextDecoder().decode(stdout).trim();
}

const container = (body: string) =>
  `import { container } from ${JSON.stringify(MOD)};\n${body}\n` +
  `export default container(() => ({ hi: () => "hi" }));\n`;

Deno.test("a fresh process uses the stored graph of an unchanged module, and reads a changed one again", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const denoDir = `${dir}/deno`;
    const module = `${dir}/c.ts`;
    await Deno.writeTextFile(`${dir}/secret.json`, `{ "key": 1 }`);
    await Deno.writeTextFile(module, container(""));
    // A second ago at least, as the store keeps only files not changed while Deno read them.
    const past = new Date(Date.now() - 5000);
    await Deno.utime(module, past, past);
    assert.equal(await startFresh(denoDir, module), "hi");
    const stored = [...Deno.readDirSync(`${denoDir}/kraken_graphs`)].map((e) => e.name);
    assert.equal(stored.filter((name) => name.endsWith(".json")).length, 1, stored.join(", "));

    // The next fresh process reads the store, not `deno info`: an entry naming a data file is
    // believed as long as the module's stamps still match (so this refusal comes from the store).
    const path = `${denoDir}/kraken_graphs/${stored[0]}`;
    const entry = JSON.parse(await Deno.readTextFile(path));
    entry.graph.data.push({ path: `${dir}/secret.json`, importer: module, type: "json" });
    await Deno.writeTextFile(path, JSON.stringify(entry));
    assert.match(await startFresh(denoDir, module), /^PermissionEscalationError: .*secret\.json/);

    // The module changes (it now imports the data file): its stored graph is not used, the check
    // holds on what it loads now.
    await Deno.writeTextFile(
      module,
      container(`import s from "./secret.json" with { type: "json" };\nvoid s;`),
    );
    await Deno.writeTextFile(
      path,
      JSON.stringify({ ...entry, graph: { code: [], data: [], unloadable: [] } }),
    );
    assert.match(await startFresh(denoDir, module), /^PermissionEscalationError: .*secret\.json/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a kept module graph is read again when the import map its bare specifiers go through changes", async () => {
  const { moduleGraph } = await import("../../runtime/_graph.ts");
  const dir = await Deno.realPath(await Deno.makeTempDir());
  try {
    const path = `${dir}/mapped.ts`;
    const map = `${dir}/import_map.json`;
    const past = new Date(Date.now() - 60_000);
    await Deno.writeTextFile(`${dir}/a.json`, "1");
    await Deno.writeTextFile(`${dir}/b.json`, "2");
    await Deno.writeTextFile(path, `import v from "config-file" with { type: "json" };\nvoid v;\n`);
    await Deno.writeTextFile(map, JSON.stringify({ imports: { "config-file": "./a.json" } }));
    for (const file of [path, map, `${dir}/a.json`, `${dir}/b.json`]) {
      await Deno.utime(file, past, past);
    }
    const flags = ["--no-config", `--import-map=${map}`];
    const first = await moduleGraph(new URL(`file://${path}`).href, flags);
    assert.deepEqual(first?.data.map((f) => f.path), [`${dir}/a.json`]);
    // Only the map changes: the module itself is the same file.
    await Deno.writeTextFile(map, JSON.stringify({ imports: { "config-file": "./b.json" } }));
    const second = await moduleGraph(new URL(`file://${path}`).href, flags);
    assert.deepEqual(second?.data.map((f) => f.path), [`${dir}/b.json`]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
