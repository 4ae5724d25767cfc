// The public surface: the entry points export what users write against, each symbol declared in a
// public (non-`_`) file; doc examples check their results with assertions that can fail, and the
// `ci` task runs them.
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
const ENTRIES = ["mod.ts", "container.ts", "cli/main.ts", "management/server.ts"];

/**
 * Names that are still declared in a private file, each with why and who moves it. Once a name has
 * moved, the test fails until its line here is removed.
 */
const PRIVATE_FOR_NOW: Record<string, string> = {};

/** Files whose doc examples still use `console.assert`, each with why. Same rule as above. */
const CONSOLE_ASSERT_FOR_NOW: Record<string, string> = {};

/** Supervisor decisions, validation tables and runtime checks: internal, never re-exported. */
const INTERNAL = [
  "decide",
  "ChildView",
  "ChildEnded",
  "Decision",
  "verdictFor",
  "errorClasses",
  "ErrorVerdict",
  "BUILTIN_ERROR_RULES",
  "ERROR_ACTIONS",
  "isContainerDefinition",
  "isEntitiesDefinition",
  "UNSTABLE_FEATURES",
];

/** What CONTRACT.md, README.md and docs/ show users importing from `mod.ts`. */
const PROMISED = [
  "container",
  "ContainerRef",
  "Runtime",
  "TopologyError",
  "TimeoutError",
  "UnavailableError",
  "RemoteError",
  "PermissionEscalationError",
  "AuthenticationError",
  "FrameError",
  "SupervisorGaveUpError",
  "loadTopology",
  "validateTopology",
  "Topology",
  "ContainerSpec",
  "Defaults",
  "Permissions",
  "ContainerSnapshot",
  "TreeSnapshot",
  "ContainerMetrics",
  "LogEntry",
  "httpErrorResponse",
  "ServeInfo",
  "FetchApp",
  "ServeSpec",
  "entities",
  "EntityContext",
  "EntityRef",
  "EntityStore",
];

interface Declared {
  entry: string;
  name: string;
  file: string;
}

/** Every symbol the entry points export, with the file it is declared in (`deno doc --json`). */
async function exported(): Promise<Declared[]> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", ...ENTRIES],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const doc = JSON.parse(new TextDecoder().decode(stdout)) as {
    nodes: Record<
      string,
      {
        symbols?: {
          name: string;
          declarations: {
            location: { filename: string };
            // A re-export deno doc resolves to a reference: its target is where it is declared.
            def?: { target?: { filename: string } };
          }[];
        }[];
      }
    >;
  };
  return Object.entries(doc.nodes).flatMap(([entry, node]) =>
    (node.symbols ?? []).flatMap((symbol) =>
      symbol.declarations.map((d) => ({
        entry: entry.slice(ROOT.href.length),
        name: symbol.name,
        file: (d.def?.target?.filename ?? d.location.filename).slice(ROOT.href.length),
      }))
    )
  );
}

const isPrivate = (file: string) => file.split("/").some((part) => part.startsWith("_"));

Deno.test("mod.ts exports none of the supervisor's, validator's or runtime's internals", async () => {
  const names = new Set((await exported()).filter((d) => d.entry === "mod.ts").map((d) => d.name));
  const leaked = INTERNAL.filter((name) => names.has(name));
  assert.deepEqual(leaked, [], `internal names exported from mod.ts: ${leaked.join(", ")}`);
});

Deno.test("mod.ts keeps every name the contract and the docs show users", async () => {
  const names = new Set((await exported()).filter((d) => d.entry === "mod.ts").map((d) => d.name));
  const missing = PROMISED.filter((name) => !names.has(name));
  assert.deepEqual(missing, [], `promised names missing from mod.ts: ${missing.join(", ")}`);
});

/** What docs/containers.md, the scaffold and the examples show container modules importing. */
const CONTAINER_PROMISED = [
  "container",
  "Context",
  "ContainerRef",
  "MessageMeta",
  "entities",
  "EntityContext",
  "EntityRef",
  "EntityStore",
  "httpErrorResponse",
  "ServeInfo",
  "FetchApp",
  "TimeoutError",
  "UnavailableError",
  "RemoteError",
];

Deno.test("container.ts exports what container modules are shown importing, each also from mod.ts, and no internals", async () => {
  const declared = await exported();
  const light = declared.filter((d) => d.entry === "container.ts");
  const names = new Set(light.map((d) => d.name));
  const missing = CONTAINER_PROMISED.filter((name) => !names.has(name));
  assert.deepEqual(missing, [], `missing from container.ts: ${missing.join(", ")}`);
  const leaked = INTERNAL.filter((name) => names.has(name));
  assert.deepEqual(leaked, [], `internal names exported from container.ts: ${leaked.join(", ")}`);
  // One symbol, two entries: an app may import a name from either and get the same class.
  const full = new Set(
    declared.filter((d) => d.entry === "mod.ts").map((d) => `${d.name} ${d.file}`),
  );
  const notInMod = light.filter((d) => !full.has(`${d.name} ${d.file}`)).map((d) => d.name);
  assert.deepEqual(notInMod, [], `exported by container.ts, not by mod.ts: ${notInMod.join(", ")}`);
  assert.ok(!names.has("Runtime"), "container.ts exports Runtime");
});

Deno.test("every path deno.json exports is an entry point checked here", async () => {
  const { exports } = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))) as {
    exports: Record<string, string>;
  };
  assert.deepEqual(
    Object.values(exports).map((path) => path.replace(/^\.\//, "")).sort(),
    [...ENTRIES].sort(),
  );
});

Deno.test("every symbol the entry points export is declared in a public file", async () => {
  const declared = await exported();
  const hidden = declared
    .filter((d) => isPrivate(d.file) && !(d.name in PRIVATE_FOR_NOW))
    .map((d) => `${d.name} (${d.entry} → ${d.file})`);
  assert.deepEqual(hidden, [], `declared in private files: ${hidden.join(", ")}`);
  const moved = Object.keys(PRIVATE_FOR_NOW).filter((name) =>
    !declared.some((d) => d.name === name && isPrivate(d.file))
  );
  assert.deepEqual(moved, [], `public now: remove from PRIVATE_FOR_NOW: ${moved.join(", ")}`);
});

/** The `.ts` files of the package (tests, benchmarks and examples left out). */
async function* sources(dir = ROOT): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    const path = url.href.slice(ROOT.href.length);
    if (entry.isDirectory) {
      if (!/^(tests|bench|examples|node_modules|\.[^/]*)\/$/.test(path)) yield* sources(url);
    } else if (entry.name.endsWith(".ts")) yield path;
  }
}

Deno.test("doc examples check results with assertions that fail, not console.assert", async () => {
  const offenders: string[] = [];
  for await (const path of sources()) {
    const text = await Deno.readTextFile(new URL(path, ROOT));
    text.split("\n").forEach((line, i) => {
      if (/^\s*\*.*\bconsole\.assert\(/.test(line)) offenders.push(`${path}:${i + 1}`);
    });
  }
  const unexpected = offenders.filter((at) => !(at.split(":")[0] in CONSOLE_ASSERT_FOR_NOW));
  assert.deepEqual(unexpected, [], `console.assert only logs: ${unexpected.join(", ")}`);
  const done = Object.keys(CONSOLE_ASSERT_FOR_NOW).filter((file) =>
    !offenders.some((at) => at.startsWith(`${file}:`))
  );
  assert.deepEqual(done, [], `converted: remove from CONSOLE_ASSERT_FOR_NOW: ${done.join(", ")}`);
});

Deno.test("the ci task runs the doc examples", async () => {
  const { tasks } = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))) as {
    tasks: Record<string, string>;
  };
  assert.match(tasks["test:doc"] ?? "", /^deno test .*--doc\b/);
  assert.ok(
    tasks.ci.split("&&").some((step) => step.trim() === "deno task test:doc"),
    `ci does not run the doc examples: ${tasks.ci}`,
  );
});
