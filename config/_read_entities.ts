/**
 * A container's `entities:` block: what overrides the `entities()` options of its module (idle
 * time, store, the file store's folder), and the check that a `file` store's folder is within
 * the container's read and write grant. Pure: no `Deno.*` here.
 *
 * @module
 */
import { grantOutside, type Permissions } from "./permissions.ts";
import { normalizePath } from "./_canonical.ts";
import { describe, isMap } from "./_describe.ts";
import { TOPOLOGY_VALUES } from "./_shape.ts";
import type { Path, Reader } from "./_reader.ts";
import type { EntitiesSpec, Mode } from "./model.ts";

/** Where the `file` store writes when neither the topology nor the module says. */
export const ENTITIES_DIR = "./state";

/**
 * Reads `entities: { idle?, store?, dir?, max?, on_error? }`. For a local container, `dir` is resolved against
 * the topology's folder (`base`) and, with `store: file`, must lie within the container's `read`
 * and `write` grant.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Reader } from "./_reader.ts";
 * import { readEntities } from "./_read_entities.ts";
 * const read = new Reader({ baseUrl: "file:///app/" });
 * const grant = { read: ["/app/state"], write: ["/app/state"] };
 * assert.deepEqual(
 *   readEntities(read, { idle: "30s", store: "file" }, ["entities"], { mode: "worker", grant, base: "/app" }),
 *   { idle: 30000, store: "file", dir: "/app/state" },
 * );
 * assert.throws(
 *   () => readEntities(read, { store: "file" }, ["entities"], { mode: "worker", grant: {}, base: "/app" }),
 *   /permissions.read/,
 * );
 * ```
 */
export function readEntities(
  r: Reader,
  input: unknown,
  path: Path,
  at: { mode: Mode; grant: Permissions; base: string | null },
): EntitiesSpec | undefined {
  if (input === undefined) return undefined;
  if (!isMap(input)) {
    return r.fail(
      path,
      `expected a map { idle, store, dir, max, on_error }, got ${describe(input)}`,
    );
  }
  const e = r.block(input, path, "entities");
  const spec: EntitiesSpec = {};
  if (e.idle !== undefined) {
    spec.idle = r.duration(e.idle, [...path, "idle"], 0);
    if (spec.idle <= 0) r.fail([...path, "idle"], `expected a duration above 0, got ${e.idle}`);
  }
  if (e.store !== undefined) {
    spec.store = r.oneOf(e.store, [...path, "store"], TOPOLOGY_VALUES.store, "none");
  }
  if (e.dir !== undefined) {
    const dir = r.string(e.dir, [...path, "dir"], "a folder");
    spec.dir = at.base === null ? dir : normalizePath(dir, at.base);
  }
  if (e.max !== undefined) spec.max = r.integer(e.max, [...path, "max"], 1, 1);
  if (e.on_error !== undefined) {
    spec.onError = r.oneOf(
      e.on_error,
      [...path, "on_error"],
      TOPOLOGY_VALUES.entity_on_error,
      "keep",
    );
  }
  if (spec.store === "file" && at.base !== null) {
    const dir = spec.dir ?? normalizePath(ENTITIES_DIR, at.base);
    spec.dir = dir;
    for (const kind of ["read", "write"] as const) {
      if (grantOutside({ [kind]: [dir] }, at.grant) !== null) {
        r.fail(
          [...path, "store"],
          `store: file keeps entity state under ${dir}, which permissions.${kind} does not cover: expected ${kind}: ["${dir}"] (or a folder above it) in the container's permissions`,
        );
      }
    }
  }
  return spec;
}
