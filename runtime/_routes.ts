/**
 * Merging routing tables from several sources (supervisors, peers, placements): one rule for all.
 *
 * @module
 */
import type { RouteInstance, RouteTable } from "../protocol/envelope.ts";

/**
 * Adds `extra` to `table`; an entry with no live instance never hides one that has some, and an
 * instance id already in `table` keeps its node (what is merged first stands).
 */
export function mergeRoutes(table: RouteTable, extra: RouteTable): void {
  for (const [name, entry] of Object.entries(extra)) {
    const current = table[name];
    if (!current) {
      table[name] = entry;
      continue;
    }
    // Two entries for one name: a replacement in progress (new instances live, old ones draining)
    // or a restarting parent's placeholders. Live and draining instances of both are kept.
    const live = current.instances.length > 0 ? current : entry;
    const instances = union(current.instances, entry.instances);
    // An instance id names one instance: listed live, it is not draining somewhere else too.
    const ids = new Set(instances.map((i) => i.i));
    const x = union(current.x ?? [], entry.x ?? []).filter((i) => !ids.has(i.i));
    table[name] = {
      balance: live.balance,
      instances,
      ...(live.q !== undefined ? { q: live.q } : {}),
      ...(x.length > 0 ? { x } : {}),
      ...(instances.length === 0 && (current.w || entry.w) ? { w: 1 as const } : {}),
    };
  }
}

function union(a: readonly RouteInstance[], b: readonly RouteInstance[]): RouteInstance[] {
  if (b.length === 0) return [...a];
  const seen = new Set(a.map((i) => i.i));
  return [...a, ...b.filter((i) => !seen.has(i.i))];
}
