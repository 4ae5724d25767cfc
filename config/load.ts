/**
 * Reading a topology from a YAML file, or taking an object: both end in
 * {@linkcode validateTopology}. The YAML library only parses; positions of keys are looked up in
 * its document so errors point at the line and column.
 *
 * @module
 */
import { pathToFileUrl } from "./_file_url.ts";
import type * as Yaml from "yaml";
import { TopologyError } from "../protocol/errors.ts";
import { DENO_FS } from "./_deno_fs.ts";
import { MAX_TOPOLOGY_BYTES } from "./_limits.ts";
import { suggest } from "./_suggest.ts";
import { Validator } from "./_validate.ts";
import { cronNextRun } from "./cron.ts";
import {
  type ContainerSpec,
  formatKeyPath,
  type KeyPath,
  type Topology,
  type TopologyInput,
  type ValidateOptions,
  validateTopology,
} from "./topology.ts";

/**
 * Loads and validates a topology, and checks that every local module file exists.
 *
 * @param source A path or URL of a YAML file, or a topology object (its relative module paths
 *   resolve against `baseUrl`, default the working directory).
 * @param options `baseUrl` for object topologies.
 * @returns The validated topology.
 * @throws {TopologyError} On a missing file, malformed YAML, a key given twice, an invalid
 *   topology or a module file that does not exist; the message names file, line, column and key.
 *
 * @example A file, and a mistake in it named by line
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadTopology } from "./load.ts";
 * import { TopologyError } from "../protocol/errors.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/api.ts`, "export default {};\n");
 * await Deno.writeTextFile(`${dir}/kraken.yaml`, "containers:\n  api: { module: ./api.ts }\n");
 * const topology = await loadTopology(`${dir}/kraken.yaml`);
 * assert.equal(topology.containers[0].module, `file://${dir}/api.ts`);
 *
 * await Deno.writeTextFile(`${dir}/kraken.yaml`, "containers:\n  api: { module: ./ap.ts }\n");
 * const error = await loadTopology(`${dir}/kraken.yaml`).catch((e) => e);
 * assert.ok(error instanceof TopologyError);
 * assert.equal(error.line, 2);
 * assert.match(error.message, /did you mean "\.\/api\.ts"/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadTopology(
  source: string | URL | TopologyInput,
  options: { baseUrl?: string } = {},
): Promise<Topology> {
  const env = (name: string) => Deno.env.get(name);
  if (typeof source === "object" && !(source instanceof URL)) {
    const baseUrl = options.baseUrl ?? cwdUrl();
    const topology = validateTopology(source, { baseUrl, env, fs: DENO_FS });
    return await checkCron(await checkModules(topology, undefined), undefined);
  }
  const url = source instanceof URL ? source : new URL(source, cwdUrl());
  const file = url.protocol === "file:" ? decodeURIComponent(url.pathname) : url.href;
  const text = await readTopologyText(url);
  const { input, locate } = await parseYaml(text, file);
  const baseUrl = new URL(".", url).href;
  const topology = validateTopology(input, { file, baseUrl, locate, env, fs: DENO_FS });
  return await checkCron(await checkModules(topology, locate), locate);
}

/** Every `cron:` of `schedule:` read by the cron parser, so a bad value fails with its line. */
async function checkCron(
  topology: Topology,
  locate: ValidateOptions["locate"],
): Promise<Topology> {
  for (const s of topology.schedules ?? []) {
    if (s.cron === undefined) continue;
    const path = ["schedule", s.name, "cron"];
    const at = locate?.(path, "value");
    await cronNextRun(s.cron, {
      timezone: s.timezone,
      key: formatKeyPath(path),
      file: topology.file,
      line: at?.line,
      column: at?.column,
    });
  }
  return topology;
}

/**
 * Where a topology file never lives: kernel pseudo-filesystems, whose files stat as regular (often
 * of size 0) and hold the process's secrets (`/proc/self/environ`) or devices. Checked on the
 * real path (symbolic links followed), before anything is opened.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PSEUDO_FILESYSTEMS } from "./load.ts";
 * assert.ok(PSEUDO_FILESYSTEMS.includes("/proc"));
 * ```
 */
export const PSEUDO_FILESYSTEMS: readonly string[] = ["/proc", "/sys", "/dev"];

/**
 * The text of a topology file (or `http(s):` URL), read with a bound: a regular file only (a
 * folder, FIFO, socket or device such as `/dev/zero` is refused before it is opened, and so is
 * anything whose real path lies under {@linkcode PSEUDO_FILESYSTEMS}), at most
 * {@linkcode MAX_TOPOLOGY_BYTES} bytes — a larger one is refused after reading one byte past the
 * bound, never read whole — and YAML text: UTF-8 without control characters (a NUL, an escape…),
 * refused by position, never quoted. What a file holds is never echoed in an error, so a topology
 * read of a file that is not one (`/etc/shadow`, a key) says what is wrong without showing it.
 *
 * @param source A path (relative to the working directory) or URL.
 * @returns The text.
 * @throws {TopologyError} Naming the file: missing, not a regular file, under `/proc`, `/sys` or
 *   `/dev`, too large, unreadable, not YAML text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTopologyText } from "./load.ts";
 * import { TopologyError } from "../protocol/errors.ts";
 * const file = await Deno.makeTempFile({ suffix: ".yaml" });
 * await Deno.writeTextFile(file, "containers: {}\n");
 * assert.equal(await readTopologyText(file), "containers: {}\n");
 * await assert.rejects(readTopologyText("/dev/zero"), TopologyError); // not a regular file
 * await Deno.remove(file);
 * ```
 */
export async function readTopologyText(source: string | URL): Promise<string> {
  const url = source instanceof URL ? source : new URL(source, cwdUrl());
  const file = url.protocol === "file:" ? decodeURIComponent(url.pathname) : url.href;
  const fail = (message: string) => new TopologyError(message, { file, key: "" });
  const tooLarge = (size: string) =>
    fail(
      `the topology file is ${size}; expected at most ${MAX_TOPOLOGY_BYTES} bytes (1 MiB)`,
    );
  let bytes: Uint8Array | null;
  if (url.protocol === "file:") {
    let info: Deno.FileInfo;
    let real: string;
    try {
      real = await Deno.realPath(url);
      info = await Deno.stat(real);
    } catch (error) {
      throw fail(`cannot read the topology file: ${(error as Error).message}`);
    }
    const pseudo = PSEUDO_FILESYSTEMS.find((root) => real === root || real.startsWith(`${root}/`));
    if (pseudo) {
      throw fail(
        `the topology file is under ${pseudo}${
          real === file ? "" : ` (its real path is ${real})`
        }, where the kernel's files and devices are, never a topology; expected a topology file`,
      );
    }
    // Opening a FIFO would wait for a writer; reading a device may never end.
    if (!info.isFile) throw fail(`the topology file is ${notRegular(info)}; expected a file`);
    if (info.size > MAX_TOPOLOGY_BYTES) throw tooLarge(`${info.size} bytes`);
    try {
      const handle = await Deno.open(url, { read: true });
      try {
        const opened = await handle.stat(); // the file read, whatever the path names by now
        if (!opened.isFile) {
          throw fail(`the topology file is ${notRegular(opened)}; expected a file`);
        }
        // Not the file whose real path was checked (swapped meanwhile): read nothing of it.
        if (opened.dev !== info.dev || opened.ino !== info.ino) {
          throw fail("the topology file was replaced while it was being read; try again");
        }
        // One byte past the bound tells a file that grew since its stat from one that fits.
        const buffer = new Uint8Array(MAX_TOPOLOGY_BYTES + 1);
        let at = 0;
        while (at < buffer.length) {
          const n = await handle.read(buffer.subarray(at));
          if (n === null) break;
          at += n;
        }
        bytes = at > MAX_TOPOLOGY_BYTES ? null : buffer.subarray(0, at);
      } finally {
        handle.close();
      }
    } catch (error) {
      if (error instanceof TopologyError) throw error;
      throw fail(`cannot read the topology file: ${(error as Error).message}`);
    }
  } else {
    try {
      const response = await fetch(url);
      if (!response.ok) {
        await response.body?.cancel();
        throw new Error(`HTTP ${response.status} ${response.statusText}`);
      }
      const length = Number(response.headers.get("content-length") ?? NaN);
      if (length > MAX_TOPOLOGY_BYTES) {
        await response.body?.cancel();
        throw tooLarge(`${length} bytes`);
      }
      bytes = response.body
        ? await readAtMost(response.body, MAX_TOPOLOGY_BYTES)
        : new Uint8Array();
    } catch (error) {
      if (error instanceof TopologyError) throw error;
      throw fail(`cannot read the topology file: ${(error as Error).message}`);
    }
  }
  if (bytes === null) throw tooLarge(`over ${MAX_TOPOLOGY_BYTES} bytes`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw fail("the topology file is not UTF-8 text; expected a YAML file");
  }
  // deno-lint-ignore no-control-regex
  const control = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.exec(text);
  if (control) {
    const before = text.slice(0, control.index);
    const line = before.split("\n").length;
    const column = control.index - before.lastIndexOf("\n");
    throw new TopologyError(
      `the topology file holds the control character U+${
        control[0].charCodeAt(0).toString(16).padStart(4, "0").toUpperCase()
      }, which YAML text never does; expected a YAML file`,
      { file, line, column, key: "" },
    );
  }
  return text;
}

/** What a path that is not a regular file is, for a message. */
function notRegular(info: Deno.FileInfo): string {
  if (info.isDirectory) return "a folder";
  if (info.isFifo) return "a FIFO (named pipe)";
  if (info.isCharDevice || info.isBlockDevice) return "a device";
  if (info.isSocket) return "a socket";
  return "not a regular file";
}

/** The bytes of `stream` if there are at most `max`; `null` (and the stream cancelled) if more. */
async function readAtMost(
  stream: ReadableStream<Uint8Array>,
  max: number,
): Promise<Uint8Array | null> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > max) {
        await reader.cancel();
        return null;
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** Parses YAML text into plain data plus a way to find where each key path sits. */
async function parseYaml(
  text: string,
  file: string,
): Promise<{ input: unknown; locate: NonNullable<ValidateOptions["locate"]> }> {
  // Loaded only here: the library's entry imports no npm package, so container isolates start fast.
  const { isMap, isScalar, isSeq, LineCounter, parseDocument }: typeof Yaml = await import("yaml");
  const lines = new LineCounter();
  // Duplicate keys are found below, where their path and both lines are known.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  const at = (offset: number) => {
    const pos = lines.linePos(offset);
    return { line: pos.line, column: pos.col };
  };
  if (doc.errors.length > 0) {
    const err = doc.errors[0];
    // The library appends "at line L, column C:" and an excerpt; the prefix says both already.
    const detail = err.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
    throw new TopologyError(`malformed YAML: ${detail}`, { file, ...at(err.pos[0]), key: "" });
  }
  const start = (node: unknown) => (node as { range?: [number, number, number] } | null)?.range;

  const duplicate = (node: unknown, path: (string | number)[]): void => {
    if (isMap(node)) {
      const seen = new Map<string, number>();
      for (const pair of node.items) {
        const name = isScalar(pair.key) ? String(pair.key.value) : undefined;
        const range = start(pair.key);
        if (name !== undefined && range) {
          const first = seen.get(name);
          if (first !== undefined) {
            throw new TopologyError(
              `key "${name}" is given twice in the same map (first at line ${
                at(first).line
              }); expected each key once, so remove or rename one`,
              { file, ...at(range[0]), key: formatKeyPath([...path, name]) },
            );
          }
          seen.set(name, range[0]);
        }
        duplicate(pair.value, [...path, name ?? "?"]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => duplicate(item, [...path, i]));
    }
  };
  duplicate(doc.contents, []);

  const locate = (path: KeyPath, target: "key" | "value" = "value") => {
    // Walk down as far as the path exists: a key that is missing points at its nearest ancestor.
    let node: unknown = doc.contents;
    let found = start(node) ? at(start(node)![0]) : undefined;
    for (const [i, step] of path.entries()) {
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((p) =>
          isScalar(p.key) && String(p.key.value) === String(step)
        );
        const range = start(pair?.key);
        if (!pair || !range) break;
        found = at(range[0]);
        node = pair.value;
        // A scalar or `{…}`/`[…]` value is pointed at itself; a block spanning lines, at its key.
        const inline = isScalar(node) || (node as { flow?: boolean } | null)?.flow === true;
        if (last && target === "value" && inline && start(node)) found = at(start(node)![0]);
      } else if (isSeq(node) && typeof step === "number" && node.items[step] !== undefined) {
        node = node.items[step];
        if (start(node)) found = at(start(node)![0]);
      } else break;
    }
    return found;
  };
  let input: unknown;
  try {
    input = doc.toJS({ maxAliasCount: 1000 });
  } catch (error) {
    throw new TopologyError(`malformed YAML: ${(error as Error).message}`, { file, key: "" });
  }
  return { input, locate };
}

/** The working directory as a folder URL, percent-encoded (spaces, `#`, `%` in paths). */
function cwdUrl(): string {
  return pathToFileUrl(`${Deno.cwd()}/`).href;
}

/** A module path that does not exist is a topology error, found before anything starts. */
async function checkModules(
  topology: Topology,
  locate: ValidateOptions["locate"],
): Promise<Topology> {
  const all = (specs: ContainerSpec[], path: string[]): [ContainerSpec, string[]][] =>
    specs.flatMap((s) => [
      [s, [...path, s.name]] as [ContainerSpec, string[]],
      ...all(s.children, [...path, s.name, "children"]),
    ]);
  for (const [spec, path] of all(topology.containers, ["containers"])) {
    const problem = await moduleProblem(spec.module, topology.baseUrl);
    if (problem === undefined) continue;
    const key = [...path, "module"];
    const at = locate?.(key);
    throw new TopologyError(
      problem,
      { file: topology.file, line: at?.line, column: at?.column, key: formatKeyPath(key) },
    );
  }
  return topology;
}

/**
 * What is wrong with a container's module file, if anything: it does not exist (with the close
 * name that does, if any) or is a folder. Modules that are not `file:` URLs are not checked.
 *
 * @param module The module's absolute URL, as a validated `ContainerSpec.module` holds it.
 * @param baseUrl The topology's folder URL, against which the message shows the path.
 * @returns `module ./ap.ts does not exist (did you mean "./api.ts"?); expected a file at …`, or
 *   `undefined` when the file is there.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { moduleProblem } from "./load.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/api.ts`, "export default {};\n");
 * const base = `file://${dir}/`;
 * assert.equal(await moduleProblem(`${base}api.ts`, base), undefined);
 * assert.equal(
 *   await moduleProblem(`${base}ap.ts`, base),
 *   `module ./ap.ts does not exist (did you mean "./api.ts"?); expected a file at ${dir}/ap.ts`,
 * );
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function moduleProblem(module: string, baseUrl: string): Promise<string | undefined> {
  if (!module.startsWith("file:")) return undefined;
  const base = decodeURIComponent(new URL(".", baseUrl).pathname);
  const file = decodeURIComponent(new URL(module).pathname);
  // A host without read access cannot check (and asking would prompt on a terminal); Deno's loader,
  // which needs no read access, still reports a missing module when it starts.
  if (Deno.permissions.querySync({ name: "read", path: file }).state !== "granted") {
    return undefined;
  }
  let problem: string;
  try {
    if ((await Deno.stat(file)).isFile) return undefined;
    problem = `is a folder; expected a module file, not ${file}`;
  } catch {
    problem = `does not exist${await nearby(file, base)}; expected a file at ${file}`;
  }
  return `module ${relative(base, file)} ${problem}`;
}

/**
 * What is wrong with the module of a container spec given in code (`rt.spawn`, the management
 * API's `POST /v1/containers`), found before anything starts, as {@linkcode loadTopology} finds it
 * for a file's containers. Only `module` and `mode` are read, resolved as validation resolves them
 * (`${VAR}` from `env`, relative to `baseUrl`); the spec is not validated here: a malformed one is
 * left to the one validation the spawn itself runs, and so is a `mode: remote` module (its agent
 * resolves it against its own root).
 *
 * @param name The container's name (for the key of a problem).
 * @param input The spec, as in YAML.
 * @param options Where relative modules resolve, and the environment for `${VAR}`.
 * @returns As {@linkcode moduleProblem}, or `undefined`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { specModuleProblem } from "./load.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/api.ts`, "export default {};\n");
 * const options = { baseUrl: `file://${dir}/`, env: (key: string) => ({ APP: "api" })[key] };
 * assert.equal(await specModuleProblem("api", { module: "./${APP}.ts" }, options), undefined);
 * assert.match(await specModuleProblem("api", { module: "./ap.ts" }, options) ?? "", /did you mean/);
 * assert.equal(await specModuleProblem("api", { module: "./ap.ts", mode: "remote" }, options), undefined);
 * assert.equal(await specModuleProblem("api", { replicas: 2 }, options), undefined); // for the spawn
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function specModuleProblem(
  name: string,
  input: unknown,
  options: { baseUrl: string; env?: (key: string) => string | undefined },
): Promise<string | undefined> {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return undefined;
  const { module, mode } = input as { module?: unknown; mode?: unknown };
  const read = new Validator(options);
  let url: string;
  try {
    if (read.expandAll(mode, [name, "mode"]) === "remote") return undefined;
    url = read.module(read.expandAll(module, [name, "module"]), [name, "module"]);
  } catch (error) {
    if (error instanceof TopologyError) return undefined; // the spawn's validation says it
    throw error;
  }
  return await moduleProblem(url, options.baseUrl);
}

/** ` (did you mean "./greeter.ts"?)` when the folder holds a file with a close name. */
async function nearby(file: string, base: string): Promise<string> {
  const slash = file.lastIndexOf("/");
  const dir = file.slice(0, slash + 1);
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) if (entry.isFile) names.push(entry.name);
  } catch {
    return "";
  }
  const near = suggest(file.slice(slash + 1), names.sort());
  return near ? ` (did you mean "${relative(base, dir + near)}"?)` : "";
}

/** `path` as written relative to the folder `base` (`./a.ts`, `../../echo.ts`). */
function relative(base: string, path: string): string {
  const from = base.split("/").filter(Boolean);
  const to = path.split("/").filter(Boolean);
  // A file's own name is never part of the common folder; a folder's last name may be.
  const limit = path.endsWith("/") ? to.length : to.length - 1;
  let common = 0;
  while (common < from.length && common < limit && from[common] === to[common]) common++;
  const rest = to.slice(common).join("/");
  const tail = rest && path.endsWith("/") ? `${rest}/` : rest;
  return `${common === from.length ? "./" : "../".repeat(from.length - common)}${tail}`;
}
