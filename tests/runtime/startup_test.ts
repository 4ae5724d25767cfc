// Start-up: a container's isolate evaluates only what a container needs. Every worker and process
// container imports the library (`mod.ts`) and its entry (`_worker_entry.ts`, `_process_entry.ts`);
// none of them starts a runtime, so none evaluates supervisors, distribution, the topology loader,
// the source check or the modes (a runtime loads those when it starts: `_runtime_parts.ts`).
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
