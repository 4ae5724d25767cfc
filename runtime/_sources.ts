/**
 * What a worker or process container's isolate may load, checked before it starts, and the source
 * files it must be able to read so workers can run nested inside it.
 *
 * The rule (see docs/security.md): a container's module graph — its module and those of its
 * inline descendants, static imports and literal dynamic ones (`deno info`, see `_graph.ts`) — may
 * load **code** from wherever Deno loads it (that is how an application is built: a worker's code
 * from wherever this process may read, Deno checks that), but **data** (a json, text or bytes
 * import, a JSON file `require`d by CommonJS code) only from within the container's own `read`
 * grant. Deno does not check a process's main graph, nor a worker's static imports, against that
 * isolate's own grant, so this is checked here, with `PermissionEscalationError` naming the
 * container, the file and the missing `read` grant. The workers declared below the container (at
 * any depth) are checked by the same rule against their own grants, before the container starts.
 *
 * A nested worker loads its modules under its parent isolate's permissions, and a sandboxed
 * container has no `read` grant: the parent gets read access to Kraken's own source folders and
 * to the **code** modules of the workers declared below it — never to a data file, never to
 * anything this host may not read.
 *
 * @module
 */
import type { ContainerSpec } from "../config/topology.ts";
import { grantOutside } from "../config/permissions.ts";
import { DENO_FS } from "../config/_deno_fs.ts";
import { PermissionEscalationError, TopologyError } from "../protocol/errors.ts";
import { type ModuleGraph, moduleGraph } from "./_graph.ts";
import { hostConfigFlags, hostResolutionFlags } from "./_host_config.ts";
import { processFlags } from "./_modes.ts";

const PACKAGE = new URL("../", import.meta.url);
/** Kraken's folders a container's isolate loads the library from (read so it can nest workers). */
export const KRAKEN_FOLDERS: readonly string[] = [
  "runtime",
  "distribution",
  "protocol",
  "transports",
  "supervisor",
  "config",
];

/** Schemes of modules that are not this host's files: they cannot import a local file. */
const REMOTE = /^(https?|jsr|npm|node):/;

/** One container whose module is part of an isolate: its own, or an inline descendant's. */
interface Unit {
  spec: ContainerSpec;
  /** Whether it runs in a worker nested in the isolate (its code must be readable there). */
  nested: boolean;
}

let toldUnchecked = false;

/**
 * Checks the module graphs of worker or process container `spec` and of everything declared below
 * it (see the module doc), then gives the files and folders its isolate may read so workers can be
 * nested in it: Kraken's folders (when Kraken is a local install) and the code modules of the
 * workers declared below it.
 *
 * @param spec A worker or process container about to start.
 * @param warn Told once per process when graphs cannot be read (no `run` access to Deno).
 * @returns The extra `read` grant of its isolate.
 * @throws {PermissionEscalationError} A data import outside the importing container's `read`
 *   grant.
 * @throws {TopologyError} Deno could not read a graph at all.
 *
 * @example
 * ```ts ignore
 * import { admitIsolate } from "./_sources.ts";
 * // billing.ts: import key from "/etc/app/key.json" with { type: "json" };
 * await admitIsolate(billing); // PermissionEscalationError: container "billing" asks for read "/etc/app/key.json", …
 * const reads = await admitIsolate({ ...billing, permissions: { read: ["/etc/app"] } });
 * ```
 */
export async function admitIsolate(
  spec: ContainerSpec,
  warn: (message: string) => void = () => {},
): Promise<string[]> {
  const units: Unit[] = [];
  const walk = (container: ContainerSpec, nested: boolean) => {
    units.push({ spec: container, nested });
    for (const child of container.children) {
      // A process child runs beside its (inline) parent, started by the host: checked there.
      if (child.mode === "inline" || child.mode === "worker") {
        walk(child, nested || child.mode === "worker");
      }
    }
  };
  walk(spec, false);
  // Nested workers share their isolate's flags: the process's, or (a worker) the host's.
  const flags = [...hostConfigFlags(), ...unstableFlags(spec)];
  const graphs = await Promise.all(units.map(async ({ spec: { name, module } }) => {
    if (REMOTE.test(module)) return emptyGraph();
    try {
      return await moduleGraph(module, flags);
    } catch (error) {
      throw new TopologyError(
        `the module graph of ${module} could not be read, so what it loads cannot be checked: ${
          (error as Error).message
        }`,
        { key: `containers.${name}.module` },
      );
    }
  }));
  // A process container cannot start without running Deno either: its spawn says so.
  if (graphs.includes(null) && spec.mode === "worker" && !toldUnchecked) {
    toldUnchecked = true;
    warn(
      `the module graphs of worker containers are not checked: this process may not run ${Deno.execPath()} ` +
        `(deno info), so a worker's static json/text imports are checked against this process's read ` +
        `permission only, not its own grant; --allow-run=${Deno.execPath()} turns the check on`,
    );
  }
  units.forEach((unit, i) => {
    const graph = graphs[i];
    if (graph) assertDataWithin(unit.spec, graph);
  });
  return isolateReads(units, graphs);
}

function emptyGraph(): ModuleGraph {
  return { code: [], data: [], unloadable: [] };
}

/** The unstable flags of `spec`'s isolate: its own list for a process, the host's for a worker. */
function unstableFlags(spec: ContainerSpec): string[] {
  const all = spec.mode === "process" ? processFlags(spec.unstable) : hostResolutionFlags();
  return all.filter((flag) => flag.startsWith("--unstable-"));
}

/** Throws unless every data file of `graph` lies within `spec`'s read grant. */
function assertDataWithin(spec: ContainerSpec, graph: ModuleGraph): void {
  for (const file of graph.data) {
    const outside = grantOutside({ read: [file.path] }, { read: spec.permissions.read ?? [] }, {
      fs: DENO_FS,
    });
    if (!outside) continue;
    throw new PermissionEscalationError(
      spec.name,
      "read",
      file.path,
      `${file.importer ?? "its module"} imports it as ${file.type} data, which Deno would load ` +
        `without checking the container's grant; a container imports data only from within its ` +
        `own permissions.read: add the file (or a folder above it) there`,
    );
  }
}

/** Kraken's folders and the code of the nested units, as far as this host may read them. */
function isolateReads(units: Unit[], graphs: (ModuleGraph | null)[]): string[] {
  if (PACKAGE.protocol !== "file:") return [];
  const folders = KRAKEN_FOLDERS.map((folder) =>
    decodeURIComponent(new URL(`${folder}/`, PACKAGE).pathname)
  );
  const out = new Set(folders.map((folder) => folder.replace(/\/$/, "")));
  out.add(decodeURIComponent(new URL("mod.ts", PACKAGE).pathname)); // what containers import
  units.forEach((unit, i) => {
    if (!unit.nested) return;
    const graph = graphs[i];
    const code = graph
      ? graph.code.map((file) => file.path)
      : unit.spec.module.startsWith("file:")
      ? [decodeURIComponent(new URL(unit.spec.module).pathname)] // unchecked: the module alone
      : [];
    for (const path of code) {
      if (!folders.some((folder) => path.startsWith(folder))) out.add(path);
    }
  });
  return [...out].filter(hostCanRead);
}

function hostCanRead(path: string): boolean {
  try {
    return Deno.permissions.querySync({ name: "read", path }).state === "granted";
  } catch {
    return false;
  }
}
