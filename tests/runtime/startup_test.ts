// Start-up: a container's isolate evaluates only what a container needs. Every worker and process
// container imports the library (the light entry `container.ts`, or all of it: `mod.ts`) and its
// entry (`_worker_entry.ts`, `_process_entry.ts`); none of them starts a runtime, so none evaluates
// supervisors, distribution, the topology loader, the source check or the modes (a runtime loads
// those when it starts: `_runtime_parts.ts`).
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);

/** Modules an isolate evaluates from `root`: static imports only (not type-only, not dynamic). */
async function evaluatedAll(root: string): Promise<Set<string>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--no-lock", new URL(root, ROOT).href],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(out.success, `deno info ${root}`);
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    roots: string[];
    modules: {
      specifier: string;
      dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
    }[];
  };
  const bySpecifier = new Map(info.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const stack = [info.roots[0]];
  while (stack.length > 0) {
    const specifier = stack.pop()!;
    if (seen.has(specifier)) continue;
    seen.add(specifier);
    for (const dep of bySpecifier.get(specifier)?.dependencies ?? []) {
      // `code` is absent for a type-only import: it is erased, so never evaluated.
      if (dep.code && !dep.isDynamic) stack.push(dep.code.specifier);
    }
  }
  return seen;
}

/** Local modules an isolate evaluates from `root`, relative to the package. */
async function evaluated(root: string): Promise<Set<string>> {
  const seen = await evaluatedAll(root);
  return new Set(
    [...seen].filter((s) => s.startsWith(ROOT.href)).map((s) => s.slice(ROOT.href.length)),
  );
}

/** What only a runtime that starts needs. */
const RUNTIME_ONLY = [
  /^runtime\/_supervisor\.ts$/,
  /^supervisor\/(runner|machine)\.ts$/,
  /^distribution\//,
  /^runtime\/_sources\.ts$/,
  /^runtime\/_graph\.ts$/,
  /^runtime\/_modes\.ts$/,
  /^runtime\/_process_handle\.ts$/,
  /^runtime\/_schedule_site\.ts$/,
  /^cli\//,
  /^management\//,
];

for (const entry of ["mod.ts", "runtime/_worker_entry.ts", "runtime/_process_entry.ts"]) {
  Deno.test(`a container's isolate evaluating ${entry} loads no supervisor, distribution, loader or modes code`, async () => {
    const modules = await evaluated(entry);
    const needless = [...modules].filter((m) => RUNTIME_ONLY.some((re) => re.test(m)));
    assert.deepEqual(needless, [], `${entry} evaluates ${needless.join(", ")}`);
    assert.ok(modules.size < 100, `${entry} evaluates ${modules.size} modules`);
  });
}

// The first `node:` module an isolate loads starts Deno's Node layer (~20 ms of CPU): a process
// container, or an application starting a runtime, that does not import one itself must not pay it
// for Kraken's own code. (A worker's guard imports `node:process`: it decides what the container's
// imports of it resolve to.)
for (const entry of ["mod.ts", "runtime/_process_entry.ts", "runtime/_runtime_parts.ts"]) {
  Deno.test(`an isolate evaluating ${entry} loads no node: module`, async () => {
    const node = [...await evaluatedAll(entry)].filter((s) => s.startsWith("node:"));
    assert.deepEqual(node, [], `${entry} evaluates ${node.join(", ")}`);
  });
}

/** What only a serving instance (`serve:`) or an `entities()` one needs: loaded when it starts. */
const FEATURE_ONLY = [
  /^runtime\/_serve(_http|_fast)?\.ts$/,
  /^runtime\/_entity_(host|store)\.ts$/,
];

for (const entry of ["mod.ts", "runtime/_worker_entry.ts", "runtime/_process_entry.ts"]) {
  Deno.test(`a container's isolate evaluating ${entry} loads no listener or entity host code`, async () => {
    const modules = await evaluated(entry);
    const needless = [...modules].filter((m) => FEATURE_ONLY.some((re) => re.test(m)));
    assert.deepEqual(needless, [], `${entry} evaluates ${needless.join(", ")}`);
  });
}

/**
 * What container code never needs: the topology validator and loader, the links between runtimes,
 * the supervisors, distribution, the management API, the CLI and the `Runtime` class (and `mod.ts`,
 * which brings them all).
 */
const APP_ONLY = [
  /^mod\.ts$/,
  /^config\//,
  /^transports\//,
  /^distribution\//,
  /^supervisor\//,
  /^management\//,
  /^cli\//,
  /^runtime\/runtime\.ts$/,
  /^runtime\/_runtime_parts\.ts$/,
];

Deno.test("importing the light entry (container.ts) loads no config, transports, distribution, supervisor, management or Runtime code", async () => {
  const modules = await evaluated("container.ts");
  const needless = [...modules].filter((m) => APP_ONLY.some((re) => re.test(m)));
  assert.deepEqual(needless, [], `container.ts evaluates ${needless.join(", ")}`);
  // container(), entities(), httpErrorResponse and the errors: a handful of small files.
  assert.ok(modules.size <= 6, `container.ts evaluates ${[...modules].join(", ")}`);
});

/**
 * What a container's isolate still loads from those folders, each for a reason of its own (any
 * other file from them fails the test below).
 */
const ISOLATE_NEEDS: Record<string, string> = {
  "transports/link.ts": "the base both links to the host share",
  "transports/port_link.ts": "a worker's link to its host (postMessage)",
  "transports/stream_link.ts": "a process's link to its host (frames over its socket)",
  "supervisor/error_rules.ts":
    "the instance applies its on_error rules where the handler failed, at once (a resume must not wait for the host)",
  "config/_limits.ts":
    "MAX_BUFFER: every node holds messages for a restarting container up to it, whatever a peer announced",
};

for (
  const [kind, entry, link] of [
    ["worker", "runtime/_worker_entry.ts", "transports/port_link.ts"],
    ["process", "runtime/_process_entry.ts", "transports/stream_link.ts"],
  ] as const
) {
  Deno.test(`a ${kind} container's isolate, its container importing only container.ts, loads from config/, transports/ and supervisor/ only its link, its on_error rules and its buffer bound`, async () => {
    // What the isolate's `data:` entry imports: the guard, the entry, the container module.
    const modules = new Set<string>();
    for (const root of ["runtime/_guard.ts", entry, "tests/fixtures/light_echo.ts"]) {
      for (const m of await evaluated(root)) modules.add(m);
    }
    const loaded = [...modules].filter((m) => APP_ONLY.some((re) => re.test(m))).sort();
    const expected = Object.keys(ISOLATE_NEEDS)
      .filter((m) => !m.endsWith("_link.ts") || m === link)
      .sort();
    assert.deepEqual(loaded, expected);
  });
}
