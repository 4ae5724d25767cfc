// The shape of the code, checked: no module reaches itself again through its imports (static,
// type-only and dynamic imports all count), and no folder imports a folder above or beside it in
// the layering. The import graph is Deno's own (`deno info --json`), over every .ts file outside
// tests/.
import assert from "node:assert/strict";

/**
 * The layering, lowest first: a folder may import its own files and those of folders in lower
 * layers, nothing else. Folders of one layer do not import each other. `distribution/` may not
 * exist yet; a folder that exists but is in no layer (nor in {@linkcode OUTSIDE}) fails the test.
 */
const LAYERS: readonly (readonly string[])[] = [
  ["protocol"],
  ["transports", "supervisor"],
  ["config"],
  ["distribution"],
  ["runtime"],
  ["mod.ts", "container.ts"],
  ["management"],
  ["cli"],
];

/** Folders outside the library: they may import anything, and nothing in a layer imports them. */
const OUTSIDE = ["bench", "examples", "tests"];

const ROOT = new URL("../", import.meta.url);

/** Module → the modules it imports, as paths relative to the repository's root. */
type Graph = Map<string, Set<string>>;

/** Every circle in `graph`, each as one path that starts and ends on the same module. */
function circles(graph: Graph): string[][] {
  // Tarjan's strongly connected components; each component of more than one module (or one that
  // imports itself) holds a circle, and one is spelled out by walking it.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component = new Set<string>();
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.add(w);
    } while (w !== v);
    if (component.size > 1 || graph.get(v)?.has(v)) found.push(walk(graph, component));
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return found;
}

/** One circle through the first module (by name) of a strongly connected component. */
function walk(graph: Graph, component: Set<string>): string[] {
  const start = [...component].sort()[0];
  const path = [start];
  const seen = new Set([start]);
  const step = (v: string): boolean => {
    for (const w of [...(graph.get(v) ?? [])].sort()) {
      if (w === start) {
        path.push(w);
        return true;
      }
      if (!component.has(w) || seen.has(w)) continue;
      seen.add(w);
      path.push(w);
      if (step(w)) return true;
      path.pop();
    }
    return false;
  };
  step(start);
  return path;
}

/** The folder (or top-level file) a module belongs to. */
function folderOf(path: string): string {
  const slash = path.indexOf("/");
  return slash < 0 ? path : path.slice(0, slash);
}

/** Every import that breaks the layering, described; and folders the layering does not know. */
function layeringProblems(
  graph: Graph,
  layers: readonly (readonly string[])[],
  outside: readonly string[],
): string[] {
  const layerOf = new Map<string, number>();
  layers.forEach((folders, i) => folders.forEach((f) => layerOf.set(f, i)));
  const problems: string[] = [];
  const unknown = new Set<string>();
  for (const [from, tos] of graph) {
    const a = folderOf(from);
    if (outside.includes(a)) continue;
    const la = layerOf.get(a);
    if (la === undefined) {
      unknown.add(a);
      continue;
    }
    for (const to of tos) {
      const b = folderOf(to);
      if (a === b) continue;
      const lb = layerOf.get(b);
      if (lb !== undefined && lb < la) continue;
      const below = layers.slice(0, la).flat().join(", ") || "nothing";
      problems.push(
        `${from} imports ${to}: ${a} may import only ${below} (${
          lb === undefined
            ? `${b} is outside the library`
            : lb === la
            ? `${b} is beside it`
            : `${b} is above it`
        })`,
      );
    }
  }
  for (const folder of unknown) {
    problems.push(
      `${folder} is in no layer: add it to LAYERS (or OUTSIDE) in tests/architecture_test.ts`,
    );
  }
  return problems;
}

/** Every .ts file of the repository outside tests/ and hidden folders, relative to the root. */
async function sources(dir = ROOT, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
    if (prefix === "" && entry.name === "tests") continue;
    if (entry.isDirectory) {
      out.push(...await sources(new URL(`${entry.name}/`, dir), `${prefix}${entry.name}/`));
    } else if (entry.isFile && entry.name.endsWith(".ts")) out.push(`${prefix}${entry.name}`);
  }
  return out;
}

/** The import graph of `files` as Deno resolves it (static, type-only and dynamic imports). */
async function importGraph(files: string[]): Promise<Graph> {
  const root = files.map((f) => `import ${JSON.stringify(new URL(f, ROOT).href)};`).join("\n");
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "info",
      "--json",
      `data:application/typescript;base64,${btoa(root)}`,
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  assert.equal(code, 0, `deno info failed: ${text.decode(stderr)}`);
  const info = JSON.parse(text.decode(stdout)) as {
    modules: {
      specifier: string;
      error?: string;
      dependencies?: { code?: { specifier?: string }; type?: { specifier?: string } }[];
    }[];
  };
  const local = (specifier?: string) =>
    specifier?.startsWith(ROOT.href) ? specifier.slice(ROOT.href.length) : undefined;
  const graph: Graph = new Map();
  for (const module of info.modules) {
    const from = local(module.specifier);
    if (from === undefined) continue;
    assert.equal(module.error, undefined, `${from}: ${module.error}`);
    const tos = new Set<string>();
    for (const dep of module.dependencies ?? []) {
      for (const to of [local(dep.code?.specifier), local(dep.type?.specifier)]) {
        if (to !== undefined) tos.add(to);
      }
    }
    graph.set(from, tos);
  }
  return graph;
}

const graph = await importGraph(await sources());

Deno.test("no module reaches itself again through its imports (static, type-only or dynamic)", () => {
  assert.ok(graph.size > 50, `only ${graph.size} modules in the graph`);
  assert.deepEqual(circles(graph).map((c) => c.join(" → ")), []);
});

Deno.test("no folder imports a folder above or beside it in the layering", () => {
  assert.deepEqual(layeringProblems(graph, LAYERS, OUTSIDE), []);
});

Deno.test("the circle check names the modules of a circle, type-only and dynamic edges included", () => {
  const g: Graph = new Map([
    ["a/x.ts", new Set(["a/y.ts", "p/z.ts"])],
    ["a/y.ts", new Set(["a/w.ts"])],
    ["a/w.ts", new Set(["a/x.ts"])],
    ["p/z.ts", new Set<string>()],
    ["q/self.ts", new Set(["q/self.ts"])],
  ]);
  assert.deepEqual(circles(g), [
    ["a/w.ts", "a/x.ts", "a/y.ts", "a/w.ts"],
    ["q/self.ts", "q/self.ts"],
  ]);
  assert.deepEqual(
    circles(new Map([["a.ts", new Set(["b.ts"])], ["b.ts", new Set<string>()]])),
    [],
  );
});

Deno.test("the layering check names an upward import, a sideways one, and an unknown folder", () => {
  const g: Graph = new Map([
    ["protocol/envelope.ts", new Set<string>()],
    ["transports/link.ts", new Set(["protocol/envelope.ts"])],
    ["supervisor/machine.ts", new Set(["transports/link.ts"])],
    ["config/load.ts", new Set(["runtime/runtime.ts", "config/topology.ts"])],
    ["runtime/runtime.ts", new Set(["config/load.ts", "bench/main.ts"])],
    ["storage/disk.ts", new Set(["protocol/envelope.ts"])],
    ["bench/main.ts", new Set(["runtime/runtime.ts", "tests/_helpers.ts"])],
  ]);
  assert.deepEqual(layeringProblems(g, LAYERS, OUTSIDE), [
    "supervisor/machine.ts imports transports/link.ts: supervisor may import only protocol (transports is beside it)",
    "config/load.ts imports runtime/runtime.ts: config may import only protocol, transports, supervisor (runtime is above it)",
    "runtime/runtime.ts imports bench/main.ts: runtime may import only protocol, transports, supervisor, config, distribution (bench is outside the library)",
    "storage is in no layer: add it to LAYERS (or OUTSIDE) in tests/architecture_test.ts",
  ]);
});
