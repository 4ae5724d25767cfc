// docs/containers.md cannot rot: every ```ts block in it is a complete module, named by its
// `module=` mark. They are written to a folder with the guide's kraken.yaml (`file=kraken.yaml`),
// type-checked together (the typed-ref misuses it shows must stay compile errors), and the guide's
// own test (guide_test.ts) runs against them on a real runtime: workers, a process, an inline parent
// with worker children.
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);
const GUIDE = await Deno.readTextFile(new URL("docs/containers.md", ROOT));
const LIBRARY = new URL("mod.ts", ROOT).href;
const LIGHT = new URL("container.ts", ROOT).href;
const CONFIG = new URL("deno.json", ROOT).pathname;

interface Block {
  lang: string;
  name: string | undefined;
  code: string;
}

/** Every fenced block of the guide in a language we check, with its `module=`/`file=` name. */
function blocks(): Block[] {
  const out: Block[] = [];
  for (const match of GUIDE.matchAll(/^```(ts|yaml)([^\n]*)\n([\s\S]*?)^```$/gm)) {
    const name = /\b(?:module|file)=(\S+)/.exec(match[2])?.[1];
    out.push({ lang: match[1], name, code: match[3] });
  }
  return out;
}

/** The guide's files in a fresh folder, importing this checkout instead of JSR. */
async function writeGuide(): Promise<{ dir: string; modules: string[] }> {
  const dir = await Deno.makeTempDir({ prefix: "kraken-guide-" });
  const modules: string[] = [];
  for (const block of blocks()) {
    if (!block.name) continue;
    assert.match(block.name, /^[a-z_]+\.(ts|yaml)$/, `a plain file name: ${block.name}`);
    await Deno.writeTextFile(
      `${dir}/${block.name}`,
      block.code
        .replaceAll('"jsr:@kraken/kraken/container"', JSON.stringify(LIGHT))
        .replaceAll('"jsr:@kraken/kraken"', JSON.stringify(LIBRARY)),
    );
    if (block.lang === "ts") modules.push(block.name);
  }
  return { dir, modules };
}

async function deno(args: string[], cwd: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: { NO_COLOR: "1", KRAKEN_TOKEN: "guide-token" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(180_000), // kills it: a hung run fails the test, never blocks it
  }).output();
  const decoder = new TextDecoder();
  return {
    code: out.code,
    output: `${decoder.decode(out.stdout)}\n${decoder.decode(out.stderr)}`,
  };
}

Deno.test("every ts block of docs/containers.md is a complete module named by module=", () => {
  const ts = blocks().filter((b) => b.lang === "ts");
  assert.ok(ts.length >= 8, `the guide's modules: ${ts.length}`);
  for (const block of ts) {
    assert.ok(block.name, `a ts block without module=:\n${block.code.slice(0, 200)}`);
  }
  const names = ts.map((b) => b.name);
  assert.equal(new Set(names).size, names.length, `module names are unique: ${names}`);
  assert.ok(blocks().some((b) => b.name === "kraken.yaml"), "the guide's kraken.yaml is marked");
});

Deno.test("docs/containers.md's container modules import the light entry; only its test imports the whole library", () => {
  for (const block of blocks().filter((b) => b.lang === "ts")) {
    const from = [...block.code.matchAll(/from "(jsr:@kraken\/kraken[^"]*)"/g)].map((m) => m[1]);
    const expected = block.name === "guide_test.ts"
      ? "jsr:@kraken/kraken"
      : "jsr:@kraken/kraken/container";
    assert.ok(from.length > 0, `${block.name} imports Kraken`);
    for (const specifier of from) assert.equal(specifier, expected, `${block.name}`);
  }
});

Deno.test("docs/containers.md's modules type-check and its test passes on a real runtime", async () => {
  const { dir, modules } = await writeGuide();
  try {
    const checked = await deno(["check", "--config", CONFIG, ...modules], dir);
    assert.equal(checked.code, 0, `deno check of the guide's modules:\n${checked.output}`);
    const tested = await deno(
      ["test", "-A", "--no-prompt", "--no-check", "--config", CONFIG, "guide_test.ts"],
      dir,
    );
    assert.equal(tested.code, 0, `the guide's test:\n${tested.output}`);
    assert.match(tested.output, /ok \| 1 passed/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
