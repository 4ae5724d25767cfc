/**
 * The built-in entity stores: `memory` (a map in the owning isolate) and `file` (one msgpack file
 * per entity under a folder, written atomically: a temporary file, then a rename).
 *
 * @module
 */
import { TopologyError } from "../protocol/errors.ts";
import { decodeMsgpack, MsgpackEncoder } from "../protocol/msgpack.ts";
import type { EntityOptions, EntityStore } from "./entities.ts";

/** Default folder of the file store. */
export const DEFAULT_STORE_DIR = "./state";

/** Keeps state in this isolate: survives passivation, not a restart nor a move. */
export class MemoryStore implements EntityStore {
  readonly #states = new Map<string, unknown>();

  /**
   * A copy of the state saved for `id`, if any: the activation changes its copy, never the saved
   * one, so an entity deactivated without saving goes back to what was saved.
   */
  load(container: string, id: string): Promise<unknown> {
    const saved = this.#states.get(`${container}\0${id}`);
    return Promise.resolve(saved === undefined ? undefined : structuredClone(saved));
  }

  /** Keeps `state` for `id`. */
  save(container: string, id: string, state: unknown): Promise<void> {
    this.#states.set(`${container}\0${id}`, state);
    return Promise.resolve();
  }

  /** Forgets `id`. */
  delete(container: string, id: string): Promise<void> {
    this.#states.delete(`${container}\0${id}`);
    return Promise.resolve();
  }
}

/** Longest file name the store writes as the id itself (longer ids are hashed). */
const MAX_PLAIN_NAME = 180;

/**
 * One msgpack file per entity under `dir/<container>/`. State must be a wire value (what a message
 * body may be: plain objects, arrays, strings, numbers, booleans, null, Uint8Array, Date).
 */
export class FileStore implements EntityStore {
  readonly #dir: string;
  readonly #encoder = new MsgpackEncoder();
  readonly #made = new Set<string>();

  /** @param dir The folder (relative to the working directory, or absolute). */
  constructor(dir: string) {
    this.#dir = dir.replace(/\/+$/, "") || "/";
  }

  /** The saved state of `id`, or `undefined` when none was saved. */
  async load(container: string, id: string): Promise<unknown> {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(await this.#path(container, id));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
    return decodeMsgpack(bytes);
  }

  /** Writes the state of `id` (atomically: a reader sees the old file or the new one). */
  async save(container: string, id: string, state: unknown): Promise<void> {
    const path = await this.#path(container, id);
    const folder = path.slice(0, path.lastIndexOf("/"));
    if (!this.#made.has(folder)) {
      await Deno.mkdir(folder, { recursive: true });
      this.#made.add(folder);
    }
    const temporary = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
    await Deno.writeFile(temporary, this.#encoder.encode(state));
    await Deno.rename(temporary, path);
  }

  /** Removes the file of `id`. */
  async delete(container: string, id: string): Promise<void> {
    try {
      await Deno.remove(await this.#path(container, id));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }

  async #path(container: string, id: string): Promise<string> {
    return `${this.#dir}/${await fileName(container)}/${await fileName(id)}.msgpack`;
  }
}

/** A file name for `name`: itself, escaped; a hash for a long one (a name has at most 255 bytes). */
async function fileName(name: string): Promise<string> {
  // "." escaped: no name is "." or ".."; "~" escaped: only a hashed name starts with one.
  const plain = encodeURIComponent(name).replaceAll(".", "%2E").replaceAll("~", "%7E");
  if (plain.length <= MAX_PLAIN_NAME) return plain;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(name));
  return `~${[...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/**
 * Checks that this isolate may read and write `dir` (a worker or process has only its grant), so
 * a missing grant is a clear error when the container starts, not a failure at the first save.
 * @throws {TopologyError} Naming the container's `permissions.read`/`write` and the folder.
 */
export function checkFileStoreGrant(container: string, dir: string): void {
  for (const name of ["read", "write"] as const) {
    const state = Deno.permissions.querySync({ name, path: dir }).state;
    if (state !== "granted") {
      throw new TopologyError(
        `container "${container}" keeps entity state in files under "${dir}" (entities store: file), but its permissions.${name} does not include that folder (expected ${name}: ["${dir}"])`,
        { key: `containers.${container}.permissions.${name}` },
      );
    }
  }
}

/**
 * The store of a container's entities: the topology's choice (`overrides`) over the module's
 * (`options`); `null` for `none`.
 * @throws {TypeError} Neither a built-in store's name nor an object with `load` and `save` ·
 * `TopologyError` the file store's folder is not granted.
 */
export function storeFor(
  container: string,
  overrides: { store?: "none" | "memory" | "file"; dir?: string },
  options: EntityOptions<unknown>,
): EntityStore | null {
  const store = overrides.store ?? options.store ?? "none";
  if (typeof store === "object" && store !== null) {
    if (typeof store.load !== "function" || typeof store.save !== "function") {
      throw new TypeError(
        `entities() option store must be "none", "memory", "file" or an object with load() and save()`,
      );
    }
    return store;
  }
  switch (store) {
    case "none":
      return null;
    case "memory":
      return new MemoryStore();
    case "file": {
      const dir = overrides.dir ?? options.dir ?? DEFAULT_STORE_DIR;
      checkFileStoreGrant(container, dir);
      return new FileStore(dir);
    }
    default:
      throw new TypeError(
        `entities() option store must be "none", "memory", "file" or a store object, got ${
          JSON.stringify(store)
        }`,
      );
  }
}
