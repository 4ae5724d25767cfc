/**
 * What a host agent's runtime does with a container a root places on it: runs it under its root
 * supervisor like one of its own.
 *
 * @module
 */
import type { ContainerSpec } from "../config/topology.ts";
import type { Supervisor } from "./_supervisor.ts";

/**
 * As a host agent: runs a placed container under the root supervisor — started if new, scaled if
 * only its replica count changed (running replicas keep running), else replaced (a changed spec,
 * or the same one placed again: a restart).
 */
export async function runPlaced(root: Supervisor, spec: ContainerSpec): Promise<void> {
  const current = root.specs().find((s) => s.name === spec.name);
  if (!current) await root.spawn(spec);
  else if (current.replicas !== spec.replicas && sameButReplicas(current, spec)) {
    await root.scale(spec.name, spec.replicas);
  } else await root.replace(spec);
}

/** Whether two specs differ at most in their replica count (a scale, not a replacement). */
function sameButReplicas(a: ContainerSpec, b: ContainerSpec): boolean {
  return JSON.stringify({ ...a, replicas: 0 }) === JSON.stringify({ ...b, replicas: 0 });
}
