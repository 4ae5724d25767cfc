// The NATS client (nats.js v3, `@nats-io/*`) is loaded on demand: only a runtime whose topology
// has `transports.nats` imports it, when its bridge starts. No static import reaches it, so a
// container isolate (worker or process, which loads the runtime's modules) and an application
// that does not use NATS load nothing of it. Read from Deno's own module graph (`deno info`).
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);

interface Dependency {
  code?: { specifier: string };
  isDynamic?: boolean;
}

/** The module graph of `entry` as Deno reads it: each module's dependencies by specifier. */
async function graph(entry: string): Promise<Map<string, Dependency[]>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL(entry, ROOT).pathname],
    cwd: ROOT.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string; dependencies?: Dependency[] }[];
  };
  return new Map(info.modules.map((m) => [m.specifier, m.dependencies ?? []]));
}

/** Every module `entry` loads before any of its code runs: static imports, followed through. */
function staticallyLoaded(modules: Map<string, Dependency[]>, entry: string): Set<string> {
  const seen = new Set<string>();
  const queue = [new URL(entry, ROOT).href];
  while (queue.length > 0) {
    const specifier = queue.pop()!;
    if (seen.has(specifier)) continue;
    seen.add(specifier);
    for (const dep of modules.get(specifier) ?? []) {
      if (dep.code && !dep.isDynamic) queue.push(dep.code.specifier);
    }
  }
  return seen;
}

const natsClient = (specifier: string) => /^npm:(@nats-io\/|nats@)/.test(specifier);

Deno.test("the NATS client is loaded by a dynamic import only: mod.ts, a worker's and a process's entry load nothing of it up front", async () => {
  for (const entry of ["mod.ts", "runtime/_worker_entry.ts", "runtime/_process_entry.ts"]) {
    const modules = await graph(entry);
    const loaded = [...staticallyLoaded(modules, entry)];
    assert.ok(loaded.length > 20, `${entry}: ${loaded.length} modules (is the graph read?)`);
    assert.deepEqual(loaded.filter(natsClient), [], `${entry} imports the NATS client statically`);
  }
  // Not vacuous: the bridge does import it, dynamically, and only from _nats_wire.ts.
  const modules = await graph("mod.ts");
  const importers = [...modules].filter(([, deps]) =>
    deps.some((d) => d.code && natsClient(d.code.specifier))
  );
  assert.deepEqual(importers.map(([m]) => m.slice(ROOT.href.length)).sort(), [
    "distribution/_leader.ts",
    "distribution/_leadership_kv.ts",
    "distribution/_nats_wire.ts",
  ]);
  const wire = importers.find(([m]) => m.endsWith("distribution/_nats_wire.ts"))!;
  assert.ok(wire[1].every((d) => !d.code || !natsClient(d.code.specifier) || d.isDynamic));
  assert.ok(
    wire[1].some((d) => d.code?.specifier === "npm:@nats-io/transport-node@3.4.0"),
    "the v3 Node transport",
  );
  // The leadership lease's modules import the client statically, but are themselves reached
  // only through one dynamic import, made when a topology has a leadership: block.
  const leaderImporters = [...modules].filter(([, deps]) =>
    deps.some((d) => d.code?.specifier.endsWith("/distribution/_leader.ts"))
  );
  assert.deepEqual(leaderImporters.map(([m]) => m.slice(ROOT.href.length)), [
    "distribution/distribution.ts",
  ]);
  assert.ok(
    leaderImporters[0][1].filter((d) => d.code?.specifier.endsWith("/distribution/_leader.ts"))
      .every((d) => d.isDynamic),
    "distribution.ts loads _leader.ts by a dynamic import only",
  );
});
