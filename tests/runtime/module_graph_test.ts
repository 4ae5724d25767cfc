// What a container's module graph may load, checked before it starts: Deno loads a process's main
// graph and a worker's static imports without checking them against that isolate's own grant, so
// a json/text/bytes import is refused unless the file lies within the importing container's `read`
// grant (the container, the workers declared below it, whatever its mode). Each container module
// is written to a fresh folder, beside the files it reads.
import assert from "node:assert/strict";
import { PermissionEscalationError, Runtime, type TopologyInput } from "../../mod.ts";
import { classifyGraph, moduleGraph } from "../../runtime/_graph.ts";
import { admitIsolate } from "../../runtime/_sources.ts";
import { validateTopology } from "../../config/topology.ts";
import { FIXTURES } from "../_helpers.ts";

const MOD = new URL("../../mod.ts", import.meta.url).href;

/** `text` as a regular expression source that matches it literally. */
const literally = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** A fresh folder holding `secret.json` and `secret.txt`, removed after `fn`. */
async function withFolder(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "kraken_graph_" }));
  try {
    await Deno.writeTextFile(`${dir}/secret.json`, JSON.stringify({ key: "sesame" }));
    await Deno.writeTextFile(`${dir}/secret.txt`, "sesame\n");
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Writes a container module whose `read` method returns what `load` (a module body) imported. */
async function writeModule(path: string, load: string): Promise<string> {
  await Deno.writeTextFile(
    path,
    `import { container } from ${JSON.stringify(MOD)};\n${load}\n` +
      `export default container(() => ({ read: () => data }));\n`,
  );
  return new URL(`file://${path}`).href;
}

const jsonImport = (file: string) =>
  `import data from ${JSON.stringify(file)} with { type: "json" };`;
const textImport = (file: string) =>
  `import data from ${JSON.stringify(file)} with { type: "text" };`;

/** Starts `topology` and asks `container` to `read`; the start's refusal, or the reply. */
async function startAndRead(topology: TopologyInput, container: string): Promise<unknown> {
  const rt = await Runtime.start(topology, { logLevel: "silent" }).catch((e: Error) => e);
  if (rt instanceof Error) return rt;
  try {
    return await rt.ref(container).request("read");
  } finally {
    await rt.shutdown();
  }
}

function assertRefused(
  outcome: unknown,
  container: string,
  file: string,
  message: RegExp,
): void {
  assert.ok(
    outcome instanceof PermissionEscalationError,
    `not refused: ${JSON.stringify(outcome)}`,
  );
  assert.equal(outcome.container, container);
  assert.equal(outcome.permission, "read");
  assert.equal(outcome.value, file);
  assert.match(outcome.message, message);
}

for (const mode of ["worker", "process"] as const) {
  for (
    const [type, file, load, expected] of [
      ["json", "secret.json", jsonImport, { key: "sesame" }],
      ["text", "secret.txt", textImport, "sesame\n"],
    ] as const
  ) {
    Deno.test(`[${mode}] a ${type} import outside the container's read grant is refused before it starts; inside it, it is read`, async () => {
      await withFolder(async (dir) => {
        const module = await writeModule(`${dir}/reader.ts`, load(`${dir}/${file}`));
        const refused = await startAndRead(
          { containers: { reader: { module, mode, permissions: { read: [`${dir}/other`] } } } },
          "reader",
        );
        assertRefused(
          refused,
          "reader",
          `${dir}/${file}`,
          new RegExp(
            `^container "reader" asks for read "${literally(`${dir}/${file}`)}", which cannot be ` +
              `granted: ${literally(module)} imports it as ${type} data, .*within its own ` +
              `permissions\\.read`,
          ),
        );
        const granted = await startAndRead(
          { containers: { reader: { module, mode, permissions: { read: [dir] } } } },
          "reader",
        );
        assert.deepEqual(granted, expected);
      });
    });
  }
}

Deno.test("[process] a JSON file loaded by a literal dynamic import or by CommonJS require is data too", async () => {
  await withFolder(async (dir) => {
    const file = `${dir}/secret.json`;
    const dynamic = await writeModule(
      `${dir}/dynamic.ts`,
      `const data = (await import(${JSON.stringify(file)}, { with: { type: "json" } })).default;`,
    );
    await Deno.writeTextFile(
      `${dir}/load.cjs`,
      `module.exports = require(${JSON.stringify(file)});`,
    );
    const required = await writeModule(`${dir}/required.ts`, `import data from "./load.cjs";`);
    for (const module of [dynamic, required]) {
      const outcome = await startAndRead(
        { containers: { reader: { module, mode: "process" } } },
        "reader",
      );
      assertRefused(outcome, "reader", file, /imports it as json data/);
    }
  });
});

for (const mode of ["worker", "process"] as const) {
  Deno.test(`[${mode}] a worker declared below the container imports data only within its own grant, not its parent's`, async () => {
    await withFolder(async (dir) => {
      const parent = await writeModule(`${dir}/parent.ts`, `const data = "parent";`);
      const child = await writeModule(`${dir}/child.ts`, textImport(`${dir}/secret.txt`));
      const topology = (parentRead: string[], childRead: string[]): TopologyInput => ({
        containers: {
          parent: {
            module: parent,
            mode,
            permissions: { read: parentRead },
            children: {
              child: { module: child, mode: "worker", permissions: { read: childRead } },
            },
          },
        },
      });
      // Granted nothing, the parent was given read access to its nested worker's data file.
      assertRefused(
        await startAndRead(topology([], []), "child"),
        "child",
        `${dir}/secret.txt`,
        /imports it as text data/,
      );
      // Deno checks a nested worker's imports against its parent's grant, which holds the file.
      assertRefused(
        await startAndRead(topology([dir], []), "child"),
        "child",
        `${dir}/secret.txt`,
        /imports it as text data/,
      );
      assert.equal(await startAndRead(topology([dir], [dir]), "child"), "sesame\n");
    });
  });
}

Deno.test("a container's isolate is given the code modules of its nested workers, never their data", async () => {
  await withFolder(async (dir) => {
    const parent = await writeModule(`${dir}/parent.ts`, `const data = "parent";`);
    await Deno.writeTextFile(`${dir}/helper.ts`, `export const helper = 1;`);
    const child = await writeModule(
      `${dir}/child.ts`,
      `import "./helper.ts";\n${jsonImport(`${dir}/secret.json`)}`,
    );
    const checked = validateTopology({
      containers: {
        parent: {
          module: parent,
          mode: "process",
          permissions: { read: [`${dir}/secret.json`] },
          children: {
            child: { module: child, mode: "worker", permissions: { read: [`${dir}/secret.json`] } },
          },
        },
      },
    }, { baseUrl: `file://${dir}/` });
    const reads = await admitIsolate(checked.containers[0]);
    assert.ok(reads.includes(`${dir}/child.ts`), reads.join("\n"));
    assert.ok(reads.includes(`${dir}/helper.ts`), reads.join("\n"));
    assert.ok(!reads.includes(`${dir}/secret.json`), reads.join("\n"));
    assert.ok(!reads.includes(`${dir}/parent.ts`), "its own module needs no grant");
  });
});

/** Runs tests/fixtures/graph_host.ts with `flags` (permissions included) on `cases`; its results. */
async function graphHost(flags: string[], cases: unknown[]): Promise<Record<string, unknown>[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      ...flags,
      new URL("./graph_host.ts", FIXTURES).pathname,
      JSON.stringify(cases),
    ],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const stdout = new TextDecoder().decode(out.stdout).trim();
  assert.equal(out.code, 0, `${new TextDecoder().decode(out.stderr)}\n${stdout}`);
  return JSON.parse(stdout.split("\n").pop()!);
}

Deno.test("[process] bytes imports: --unstable-raw-imports only when its unstable: lists it, and only within its read grant", async () => {
  await withFolder(async (dir) => {
    const module = await writeModule(
      `${dir}/bytes.ts`,
      `import raw from "./secret.txt" with { type: "bytes" };\nconst data = raw.length;`,
    );
    const reader = (unstable: string[], read: string[]) => ({
      topology: {
        containers: { reader: { module, mode: "process", unstable, permissions: { read } } },
      },
      call: ["reader", "read"],
    });
    const [notListed, listed, outside] = await graphHost(["-A", "--unstable-raw-imports"], [
      reader([], [dir]),
      reader(["raw-imports"], [dir]),
      reader(["raw-imports"], [`${dir}/other`]),
    ]);
    assert.equal(notListed.started, false, JSON.stringify(notListed));
    assert.equal(notListed.name, "TopologyError");
    assert.match(String(notListed.message), /"bytes" is unsupported/);
    assert.deepEqual(listed, { started: true, reply: 7, notes: [] });
    assert.equal(outside.started, false, JSON.stringify(outside));
    assert.equal(outside.name, "PermissionEscalationError");
    assert.match(
      String(outside.message),
      new RegExp(`asks for read "${literally(`${dir}/secret.txt`)}", .* imports it as bytes data`),
    );
  });
});

Deno.test("a module graph is read once, and again when one of its files changes", async () => {
  await withFolder(async (dir) => {
    const path = `${dir}/cached.ts`;
    const module = new URL(`file://${path}`).href;
    const past = (seconds: number) => new Date(Date.now() - seconds * 1000);
    await Deno.writeTextFile(path, `export const a = 1;\n`);
    await Deno.utime(path, past(60), past(60));
    const first = await moduleGraph(module, ["--no-config"]);
    assert.equal(
      await moduleGraph(module, ["--no-config"]),
      first,
      "the same graph, not read again",
    );
    await Deno.writeTextFile(path, `import s from "./secret.json" with { type: "json" };\n`);
    await Deno.utime(path, past(30), past(30));
    const changed = await moduleGraph(module, ["--no-config"]);
    assert.deepEqual(changed?.data, [{
      path: `${dir}/secret.json`,
      importer: module,
      type: "json",
    }]);
  });
});

Deno.test("without run access to Deno a worker container starts with Deno's own check only, and the runtime says so once", async () => {
  await withFolder(async (dir) => {
    const module = await writeModule(`${dir}/reader.ts`, jsonImport(`${dir}/secret.json`));
    const reader = {
      topology: { containers: { reader: { module, mode: "worker" } } },
      call: ["reader", "read"],
    };
    const [first, second] = await graphHost(
      ["--allow-read", "--allow-env", "--allow-net=127.0.0.1"],
      [reader, reader],
    );
    assert.equal(first.started, true, JSON.stringify(first));
    const notes = [...first.notes as string[], ...second.notes as string[]];
    assert.equal(notes.length, 1, notes.join("\n"));
    assert.match(notes[0], /module graphs of worker containers are not checked.*--allow-run=/);
  });
});

Deno.test("a module graph Deno cannot read at all is an error with Deno's words, not an empty graph", async () => {
  await withFolder(async (dir) => {
    await Deno.writeTextFile(`${dir}/broken.json`, "{ not json");
    const module = new URL(`file://${dir}/secret.json`).href;
    await assert.rejects(
      moduleGraph(module, ["--config", `${dir}/broken.json`]),
      /^Error: deno info --config .*broken\.json failed: /,
    );
  });
});

Deno.test("classifyGraph: code by how Deno loads it, data by attribute or kind, errors apart, remote left out", () => {
  const dep = (specifier: string, assertionType?: string) => ({
    code: { specifier },
    ...(assertionType ? { assertionType } : {}),
  });
  const graph = classifyGraph({
    modules: [
      {
        kind: "esm",
        specifier: "file:///app/main.ts",
        mediaType: "TypeScript",
        dependencies: [
          dep("file:///app/lib.ts"),
          dep("file:///app/lib.ts", "text"),
          dep("file:///app/add.wasm"),
          dep("file:///app/old.cjs"),
          dep("file:///etc/passwd"),
          dep("npm:/left-pad@1.0.0"),
        ],
      },
      { kind: "esm", specifier: "file:///app/lib.ts", mediaType: "TypeScript" },
      { kind: "wasm", specifier: "file:///app/add.wasm" },
      {
        kind: "esm",
        specifier: "file:///app/old.cjs",
        mediaType: "Cjs",
        dependencies: [dep("file:///etc/key.json")],
      },
      { kind: "asserted", specifier: "file:///etc/key.json", mediaType: "Json" },
      { specifier: "file:///etc/passwd", error: "Expected a JavaScript or TypeScript module" },
      { kind: "npm", specifier: "npm:/left-pad@1.0.0" },
    ],
  });
  assert.deepEqual(graph.code.map((f) => f.path), [
    "/app/main.ts",
    "/app/add.wasm",
    "/app/old.cjs",
  ]);
  assert.deepEqual(graph.data, [
    { path: "/app/lib.ts", importer: "file:///app/main.ts", type: "text" },
    { path: "/etc/key.json", importer: "file:///app/old.cjs", type: "json" },
  ]);
  assert.deepEqual(graph.unloadable, ["/etc/passwd"]);
});
