/**
 * What the host must check before it starts a container itself: the spec is valid, the name is
 * free, and this process holds the grant (and may run Deno, for a process container). A remote
 * container's grant is its agent's to check.
 *
 * @module
 */
import { assertCanRunProcess, assertWithinHost } from "../config/_grant.ts";
import { DENO_FS } from "../config/_deno_fs.ts";
import { assertServableHere } from "./_serve_check.ts";
import { type ContainerInput, type ContainerSpec, validateContainer } from "../config/topology.ts";

/**
 * Refuses a grant wider than this process's, and a process container this process may not start,
 * for every container the host itself starts (`hostSide`: these specs start from the host).
 */
export function assertGrantsWithinHost(specs: readonly ContainerSpec[], hostSide = true): void {
  for (const spec of specs) {
    // Children of an inline container start from the host; deeper ones are checked against
    // their parent's grant when the topology is validated.
    if (hostSide) assertStartableHere(spec);
    assertGrantsWithinHost(spec.children, hostSide && spec.mode === "inline");
  }
}

/** What this process must hold to start `spec` itself: its grant, and Deno for a process. */
export function assertStartableHere(spec: ContainerSpec): void {
  if (spec.mode === "remote") return;
  // First: a serving container's grant is named by its serve: key, not by permissions.
  assertServableHere(spec);
  assertWithinHost(spec.name, spec.permissions);
  if (spec.mode === "process") assertCanRunProcess(spec.name);
}

/** Where a spawned container is checked. */
export interface SpawnContext {
  /** Whether a container of that name runs (anywhere this runtime routes to). */
  exists(name: string): boolean;
  /** Folder URL relative module paths resolve against. */
  baseUrl: string;
  /** The topology's `hosts:` (a remote container names one). */
  hosts: Record<string, { address: string }>;
}

/**
 * Container `name` as `input` describes it, checked as a topology entry would be (with `${VAR}`
 * from this process's environment), under `parent` if any; refused when its name is taken (unless
 * `replacing`), and, when it starts from the host, when this process may not start it.
 *
 * @throws {Error} A container of that name exists and it is not replacing it.
 * @throws {TopologyError} A bad spec (named by key).
 * @throws {PermissionEscalationError} A grant wider than this process's, or `mode: process`
 *   without `--allow-run`.
 */
export function validateSpawn(
  name: string,
  input: ContainerInput,
  options: SpawnContext & { parent?: ContainerSpec | null; replacing?: boolean },
): ContainerSpec {
  if (options.exists(name) && !options.replacing) {
    throw new Error(
      `a container named "${name}" already exists; pass { replace: true } to replace it`,
    );
  }
  const parent = options.parent ?? undefined;
  const spec = validateContainer(name, input, {
    baseUrl: options.baseUrl,
    env: (key) => Deno.env.get(key),
    parent,
    hosts: options.hosts,
    fs: DENO_FS,
  });
  if (!parent || parent.mode === "inline") assertStartableHere(spec);
  return spec;
}

/** Whether any container of `specs`, nested ones included, is inline. */
export function hasInline(specs: readonly ContainerSpec[]): boolean {
  return specs.some((s) => s.mode === "inline" || hasInline(s.children));
}
