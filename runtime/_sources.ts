/**
 * The source files a worker or process must be able to read so workers can run nested inside it.
 * A nested worker loads its modules under its parent isolate's permissions, and a sandboxed
 * container has no `read` grant: the parent gets read access to Kraken's own source folders and to
 * the module graphs of the workers declared below it (found with `deno info --json`, local files
 * only, once per module) — never to anything else. Only what this host can read is granted.
 *
 * @module
 */
import type { ContainerSpec } from "../config/topology.ts";
import { hostConfigFlags } from "./_host_config.ts";

const PACKAGE = new URL("../", import.meta.url);
const FOLDERS = ["runtime", "distribution", "protocol", "transports", "supervisor", "config"];

/**
 * Files and folders worker or process container `spec` may read so workers can be nested in it:
 * `[]` when it is not a local install; Kraken's folders, plus the module graphs of the workers
 * declared at any depth below it.
 */
export function nestedWorkerSources(spec: ContainerSpec, cache: Map<string, string[]>): string[] {
  if (PACKAGE.protocol !== "file:") return [];
  const out = new Set<string>();
  for (const folder of FOLDERS) {
    out.add(decodeURIComponent(new URL(`${folder}/`, PACKAGE).pathname).replace(/\/$/, ""));
  }
  out.add(decodeURIComponent(new URL("mod.ts", PACKAGE).pathname)); // what containers import
  const walk = (children: readonly ContainerSpec[], inWorker: boolean) => {
    for (const child of children) {
      const worker = inWorker || child.mode === "worker";
      if (worker) { for (const file of moduleFiles(child.module, cache)) out.add(file); }
      walk(child.children, worker);
    }
  };
  walk(spec.children, false);
  return [...out].filter(hostCanRead);
}

function hostCanRead(path: string): boolean {
  try {
    return Deno.permissions.querySync({ name: "read", path }).state === "granted";
  } catch {
    return false;
  }
}

function moduleFiles(module: string, cache: Map<string, string[]>): string[] {
  const known = cache.get(module);
  if (known) return known;
  if (!module.startsWith("file:")) return [];
  let files: string[] = [];
  try {
    // Asked first: running Deno without the permission would prompt on a terminal.
    const deno = Deno.execPath();
    if (Deno.permissions.querySync({ name: "run", command: deno }).state !== "granted") {
      throw new Error("no run permission");
    }
    // Resolved with the host's config, as the nested worker will resolve it.
    const out = new Deno.Command(deno, {
      args: ["info", "--json", ...hostConfigFlags(), "--no-lock", module],
      stdout: "piped",
      stderr: "null",
      env: { NO_COLOR: "1" },
    }).outputSync();
    if (out.success) {
      const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as {
        modules?: { local?: string; specifier?: string }[];
      };
      files = (graph.modules ?? [])
        .filter((m) => m.local && m.specifier?.startsWith("file:"))
        .map((m) => m.local!);
    }
  } catch {
    // No `run` permission for deno itself: fall back to the module file alone.
  }
  if (files.length === 0) files = [decodeURIComponent(new URL(module).pathname)];
  cache.set(module, files);
  return files;
}
