/**
 * The source files a process must be able to read when workers run nested inside it: a worker's
 * modules are loaded under its process's permissions, and a sandboxed process has no `read` grant.
 * Found with `deno info --json` (the module graph), local files only, once per module.
 *
 * @module
 */
import type { ContainerSpec } from "../config/topology.ts";

const WORKER_ENTRY = new URL("./_worker_entry.ts", import.meta.url).href;

/**
 * Local files of the modules of every worker nested (at any depth) in process container `spec`,
 * plus the worker boot code; `[]` when none of its descendants is a worker.
 */
export function nestedWorkerSources(spec: ContainerSpec, cache: Map<string, string[]>): string[] {
  const modules = new Set<string>();
  const walk = (children: readonly ContainerSpec[], inWorker: boolean) => {
    for (const child of children) {
      const worker = inWorker || child.mode === "worker";
      if (worker) modules.add(child.module);
      walk(child.children, worker);
    }
  };
  walk(spec.children, false);
  if (modules.size === 0) return [];
  const files = new Set<string>();
  for (const module of [WORKER_ENTRY, ...modules]) {
    for (const file of moduleFiles(module, cache)) files.add(file);
  }
  return [...files];
}

function moduleFiles(module: string, cache: Map<string, string[]>): string[] {
  const known = cache.get(module);
  if (known) return known;
  if (!module.startsWith("file:")) return [];
  const out = new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--no-lock", module],
    stdout: "piped",
    stderr: "null",
    env: { NO_COLOR: "1" },
  }).outputSync();
  const files: string[] = [];
  if (out.success) {
    const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as {
      modules?: { local?: string; specifier?: string }[];
    };
    for (const m of graph.modules ?? []) {
      if (m.local && m.specifier?.startsWith("file:")) files.push(m.local);
    }
  }
  if (files.length === 0) files.push(decodeURIComponent(new URL(module).pathname));
  cache.set(module, files);
  return files;
}
