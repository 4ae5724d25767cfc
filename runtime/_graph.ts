/**
 * The module graph of a container, as Deno will load it: which local files its isolate loads as
 * code and which as data. Deno checks neither a process's main module graph nor a worker's static
 * imports against that isolate's own `read` grant (a worker's are checked against the isolate that
 * creates it), so a container could read any file the runtime can through
 * `import x from "/secret.json" with { type: "json" }`. The runtime reads the graph first (see
 * `_sources.ts` for the rule it enforces).
 *
 * The graph is Deno's own (`deno info --json`, which works offline and resolves as `deno run`
 * does, given the same config and unstable flags), read once per module and flags for the life of
 * this process, and read again when a file of it (or the config) has changed since. It is also
 * stored in Deno's cache folder (`kraken_graphs/`), so a fresh application does not run `deno info`
 * again for a module none of whose files changed: a stored graph is used only when every file it
 * was read from is still the same file (path, inode, size, modification time) and this process can
 * see each. The store is trusted as Deno's own cache beside it is: whoever can write Deno's cache
 * folder can also change the code Deno runs from it.
 *
 * What counts as what, by how Deno loads the file rather than its name:
 * - **code**: a JavaScript, TypeScript, JSX/TSX or WebAssembly module imported as such (an
 *   `esm` or `wasm` module of Deno's graph, reached by no import with a `type` attribute);
 * - **data**: everything else Deno loads and hands over as a value: a `with { type: "json" }`,
 *   `"text"` or `"bytes"` import, a JSON file `require`d by CommonJS code, whatever the file is
 *   named (a `.ts` file imported as text is data);
 * - **unloadable**: a module Deno reports an error for (not found, not parsable, a type it does
 *   not import): `deno run` fails on it too, with the same flags, so nothing of it is read.
 * Remote modules (`https:`, `jsr:`, `npm:`, `node:`) are not the host's files: they are not
 * listed (a remote module cannot import a local one).
 *
 * @module
 */
import { fileUrlToPath } from "../config/_file_url.ts";
/** One local file of a module graph, with the first module seen importing it. */
export interface GraphFile {
  /** Its absolute path. */
  path: string;
  /** The specifier of a module that imports it; `null` for the graph's root. */
  importer: string | null;
  /** For data, how it is imported: `json`, `text`, `bytes`, or Deno's kind for the module. */
  type?: string;
}

/** The local files of a module graph, by how Deno loads them. */
export interface ModuleGraph {
  /** Modules loaded as code. */
  code: GraphFile[];
  /** Files loaded as data. */
  data: GraphFile[];
  /** Files Deno reports an error for (it loads none of them). */
  unloadable: string[];
}

/** Deno's media types of code modules (`deno info --json`, Deno 2.9.6). */
const CODE_MEDIA = new Set([
  "JavaScript",
  "Jsx",
  "Mjs",
  "Cjs",
  "TypeScript",
  "Mts",
  "Cts",
  "Dts",
  "Dmts",
  "Dcts",
  "Tsx",
]);

interface InfoDependency {
  code?: { specifier?: unknown };
  assertionType?: unknown;
}

interface InfoModule {
  kind?: unknown;
  specifier?: unknown;
  local?: unknown;
  mediaType?: unknown;
  error?: unknown;
  dependencies?: unknown;
}

/**
 * Sorts the local files of a `deno info --json` graph into code, data and unloadable. Pure.
 *
 * @param info The parsed output of `deno info --json <root>`.
 * @returns The files, each once (a file imported both as code and as data is data).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { classifyGraph } from "./_graph.ts";
 * const graph = classifyGraph({
 *   roots: ["file:///app/main.ts"],
 *   modules: [
 *     {
 *       kind: "esm", specifier: "file:///app/main.ts", mediaType: "TypeScript",
 *       dependencies: [{ code: { specifier: "file:///etc/key.json" }, assertionType: "json" }],
 *     },
 *     { kind: "asserted", specifier: "file:///etc/key.json", mediaType: "Json" },
 *   ],
 * });
 * assert.equal(graph.code[0].path, "/app/main.ts");
 * assert.equal(graph.data[0].path, "/etc/key.json");
 * assert.equal(graph.data[0].type, "json");
 * ```
 */
export function classifyGraph(info: unknown): ModuleGraph {
  const modules = isObject(info) && Array.isArray(info.modules)
    ? (info.modules as unknown[]).filter(isObject) as InfoModule[]
    : [];
  // How each local file is reached: the first importer, and the attribute of a data import.
  const importer = new Map<string, string>();
  const asData = new Map<string, string>();
  for (const module of modules) {
    if (typeof module.specifier !== "string" || !Array.isArray(module.dependencies)) continue;
    for (const dep of module.dependencies as unknown[]) {
      if (!isObject(dep)) continue;
      const target = (dep as InfoDependency).code?.specifier;
      if (typeof target !== "string" || !target.startsWith("file:")) continue;
      if (!importer.has(target)) importer.set(target, module.specifier);
      const type = (dep as InfoDependency).assertionType;
      if (typeof type === "string" && !asData.has(target)) asData.set(target, type);
    }
  }
  const graph: ModuleGraph = { code: [], data: [], unloadable: [] };
  const seen = new Set<string>();
  for (const module of modules) {
    const specifier = module.specifier;
    if (typeof specifier !== "string" || !specifier.startsWith("file:") || seen.has(specifier)) {
      continue;
    }
    seen.add(specifier);
    const path = typeof module.local === "string" ? module.local : fileUrlToPath(specifier);
    if (module.error !== undefined) {
      graph.unloadable.push(path);
      continue;
    }
    const file = { path, importer: importer.get(specifier) ?? null };
    const code = (module.kind === "esm" && CODE_MEDIA.has(String(module.mediaType))) ||
      module.kind === "wasm";
    const attribute = asData.get(specifier);
    if (code && attribute === undefined) graph.code.push(file);
    else {
      const type = attribute ??
        (module.mediaType === "Json" ? "json" : String(module.mediaType ?? module.kind));
      graph.data.push({ ...file, type });
    }
  }
  return graph;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A file's identity as last seen: changed when it is replaced, written, created or removed. */
type Stamp = string;

interface Entry {
  graph: ModuleGraph | null;
  stamps: [string, Stamp][];
  /** Whether it may be used again (not when a file changed while the graph was read). */
  keep: boolean;
}

const graphs = new Map<string, Promise<Entry>>();

/**
 * The module graph of `module` as `deno info` reads it with `flags` (config, import map, unstable
 * features: the isolate's own), from this process's cache while none of its files has changed.
 *
 * @param module The root module's URL (a `file:` or `data:` URL).
 * @param flags The `deno info` flags that make it resolve as the isolate will.
 * @returns The graph, or `null` when this process may not run Deno (no `run` permission for it).
 * @throws {Error} When Deno cannot read the graph at all (a broken config, say), with its words.
 *
 * @example
 * ```ts ignore
 * import { moduleGraph } from "./_graph.ts";
 * const graph = await moduleGraph("file:///srv/app/billing.ts", ["--config", "/srv/app/deno.json"]);
 * console.log(graph?.data); // [{ path: "/etc/app/key.json", importer: "file:///srv/app/billing.ts", type: "json" }]
 * ```
 */
export async function moduleGraph(
  module: string,
  flags: readonly string[],
): Promise<ModuleGraph | null> {
  const key = `${module}\n${flags.join("\n")}`;
  const known = graphs.get(key);
  if (known) {
    const entry = await known.catch(() => null);
    if (entry && entry.keep && entry.stamps.every(([path, stamp]) => stampOf(path) === stamp)) {
      return entry.graph;
    }
    if (graphs.get(key) === known) graphs.delete(key);
  }
  const reading = readGraph(module, flags);
  graphs.set(key, reading);
  reading.then((entry) => {
    if (!entry.keep && graphs.get(key) === reading) graphs.delete(key);
  }, () => {
    if (graphs.get(key) === reading) graphs.delete(key);
  });
  return (await reading).graph;
}

async function readGraph(module: string, flags: readonly string[]): Promise<Entry> {
  const deno = Deno.execPath();
  // Asked first: running Deno without the permission would prompt on a terminal.
  if (Deno.permissions.querySync({ name: "run", command: deno }).state !== "granted") {
    return { graph: null, stamps: [], keep: true };
  }
  const stored = await readStored(module, flags);
  if (stored) return stored;
  const started = Date.now();
  const out = await new Deno.Command(deno, {
    args: ["info", "--json", ...flags, "--no-lock", module],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  if (!out.success) {
    const why = new TextDecoder().decode(out.stderr).trim().split("\n").slice(0, 5).join("\n");
    throw new Error(`deno info ${flags.join(" ")} failed: ${why}`);
  }
  const graph = classifyGraph(JSON.parse(new TextDecoder().decode(out.stdout)));
  const config = flags.indexOf("--config");
  const files = [
    ...graph.code.map((f) => f.path),
    ...graph.data.map((f) => f.path),
    ...graph.unloadable,
    ...(config === -1 ? [] : [flags[config + 1]]),
    // An import map decides what a bare specifier loads: a changed one is a changed graph.
    ...flags.filter((f) => f.startsWith("--import-map=")).map((f) => localPath(f.slice(13))),
  ];
  const stamps = files.map((path): [string, Stamp] => [path, stampOf(path)]);
  // A file written while Deno read it may have been read before the change: not kept.
  const keep = stamps.every(([, stamp]) => !stamp.startsWith("f") || changedBefore(stamp, started));
  if (keep) await store(module, flags, graph, stamps);
  return { graph, stamps, keep };
}

/**
 * Where graphs read by earlier processes are kept: `kraken_graphs/` in Deno's own cache folder
 * (`DENO_DIR`, else `$XDG_CACHE_HOME/deno`, else `~/.cache/deno`), when this process may read and
 * write it; `null` otherwise. A fresh application then starts without running `deno info` for a
 * module whose files have not changed since.
 */
function storeFolder(): string | null {
  const env = (name: string) =>
    Deno.permissions.querySync({ name: "env", variable: name }).state === "granted"
      ? Deno.env.get(name)
      : undefined;
  const base = env("DENO_DIR") ??
    (env("XDG_CACHE_HOME") ?? (env("HOME") ? `${env("HOME")}/.cache` : undefined))?.concat("/deno");
  if (!base) return null;
  const folder = `${base}/kraken_graphs`;
  for (const name of ["read", "write"] as const) {
    if (Deno.permissions.querySync({ name, path: folder }).state !== "granted") return null;
  }
  return folder;
}

/** Longest stored graph read back, bytes. */
const MAX_STORED = 4 * 1024 * 1024;

async function storedPath(module: string, flags: readonly string[]): Promise<string | null> {
  const folder = storeFolder();
  if (!folder) return null;
  const key = JSON.stringify([Deno.version.deno, module, flags]);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key));
  const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${folder}/${hex}.json`;
}

/**
 * The graph an earlier process stored for `module` and `flags`, when every file it was read from
 * (each module of it, the config) is still the same file, unchanged, and this process can see
 * each; otherwise `null` and the graph is read again.
 */
async function readStored(module: string, flags: readonly string[]): Promise<Entry | null> {
  try {
    const path = await storedPath(module, flags);
    if (!path || Deno.statSync(path).size > MAX_STORED) return null;
    const saved = JSON.parse(await Deno.readTextFile(path)) as {
      module?: unknown;
      flags?: unknown;
      graph?: ModuleGraph;
      stamps?: [string, Stamp][];
    };
    if (saved.module !== module || JSON.stringify(saved.flags) !== JSON.stringify(flags)) {
      return null;
    }
    const { graph, stamps } = saved;
    if (!graph || !Array.isArray(stamps) || stamps.length === 0) return null;
    if (!Array.isArray(graph.code) || !Array.isArray(graph.data)) return null;
    if (!Array.isArray(graph.unloadable)) return null;
    // Every file it was read from must be here now, unchanged, and visible to this process.
    for (const stamp of stamps) {
      if (!Array.isArray(stamp) || typeof stamp[0] !== "string") return null;
      const now = stampOf(stamp[0]);
      if (!now.startsWith("f") || now !== stamp[1]) return null;
    }
    return { graph, stamps, keep: true };
  } catch {
    return null;
  }
}

/** Stores a graph for later processes (best effort: a folder it cannot write is no error). */
async function store(
  module: string,
  flags: readonly string[],
  graph: ModuleGraph,
  stamps: [string, Stamp][],
): Promise<void> {
  // Only a graph whose every file this process could stamp: one it cannot check later is not kept.
  if (stamps.length === 0 || !stamps.every(([, stamp]) => stamp.startsWith("f"))) return;
  try {
    const path = await storedPath(module, flags);
    if (!path) return;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    const temp = `${path}.${crypto.randomUUID()}.tmp`;
    await Deno.writeTextFile(temp, JSON.stringify({ module, flags, graph, stamps }));
    await Deno.rename(temp, path);
  } catch {
    // not stored: the next process reads the graph again
  }
}

/** A flag's file as a path (it may be given as a `file:` URL). */
function localPath(file: string): string {
  return file.startsWith("file:") ? fileUrlToPath(file) : file;
}

/** `f:<mtime ms>:<size>:<inode>`, `none` when absent, `?` when this process may not look. */
function stampOf(path: string): Stamp {
  try {
    if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") return "?";
    const info = Deno.statSync(path);
    return `f:${info.mtime?.getTime() ?? 0}:${info.size}:${info.ino ?? 0}`;
  } catch {
    return "none";
  }
}

/** Whether a file stamp's mtime is at least a second before `time` (mtimes may be coarse). */
function changedBefore(stamp: Stamp, time: number): boolean {
  return Number(stamp.split(":")[1]) < time - 1000;
}
