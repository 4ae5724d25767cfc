/**
 * Reading a topology from a YAML file, or taking an object: both end in
 * {@linkcode validateTopology}. The YAML library only parses; positions of keys are looked up in
 * its document so errors point at the line.
 *
 * @module
 */
import { pathToFileURL } from "node:url";
import type * as Yaml from "yaml";
import { TopologyError } from "../protocol/errors.ts";
import {
  type ContainerSpec,
  type Topology,
  type TopologyInput,
  validateTopology,
} from "./topology.ts";

/**
 * Loads and validates a topology.
 *
 * @param source A path or URL of a YAML file, or a topology object (its relative module paths
 *   resolve against `baseUrl`, default the working directory).
 * @param options `baseUrl` for object topologies.
 * @returns The validated topology.
 * @throws {TopologyError} On a missing file, malformed YAML or an invalid topology.
 */
export async function loadTopology(
  source: string | URL | TopologyInput,
  options: { baseUrl?: string } = {},
): Promise<Topology> {
  const env = (name: string) => Deno.env.get(name);
  if (typeof source === "object" && !(source instanceof URL)) {
    const baseUrl = options.baseUrl ?? cwdUrl();
    return await checkModules(validateTopology(source, { baseUrl, env }), undefined);
  }
  const url = source instanceof URL ? source : new URL(source, cwdUrl());
  const file = url.protocol === "file:" ? decodeURIComponent(url.pathname) : url.href;
  let text: string;
  try {
    text = url.protocol === "file:"
      ? await Deno.readTextFile(url)
      : await (await fetch(url)).text();
  } catch (error) {
    throw new TopologyError(`cannot read the topology file: ${(error as Error).message}`, {
      file,
      key: "",
    });
  }
  // Loaded only here: the library's entry imports no npm package, so container isolates start fast.
  const { isMap, isScalar, isSeq, LineCounter, parseDocument }: typeof Yaml = await import("yaml");
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const err = doc.errors[0];
    const pos = lines.linePos(err.pos[0]);
    throw new TopologyError(`malformed YAML: ${err.message.split("\n")[0]}`, {
      file,
      line: pos.line,
      column: pos.col,
      key: "",
    });
  }
  const locate = (path: readonly (string | number)[]) => {
    // Walk down as far as the path exists: an unknown key points at itself, a missing one at its parent.
    let node: unknown = doc.contents;
    let found: { line: number; column: number } | undefined;
    for (const step of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) =>
          isScalar(p.key) && String(p.key.value) === String(step)
        );
        if (!pair) break;
        const range = (pair.key as { range?: [number, number, number] }).range;
        if (range) {
          const pos = lines.linePos(range[0]);
          found = { line: pos.line, column: pos.col };
        }
        node = pair.value;
      } else if (isSeq(node) && typeof step === "number") {
        node = node.items[step];
        const range = (node as { range?: [number, number, number] } | undefined)?.range;
        if (range) {
          const pos = lines.linePos(range[0]);
          found = { line: pos.line, column: pos.col };
        }
      } else break;
    }
    return found;
  };
  const baseUrl = new URL(".", url).href;
  const topology = validateTopology(doc.toJS(), { file, baseUrl, locate, env });
  return await checkModules(topology, locate);
}

/** The working directory as a folder URL, percent-encoded (spaces, `#`, `%` in paths). */
function cwdUrl(): string {
  return pathToFileURL(`${Deno.cwd()}/`).href;
}

/** A module path that does not exist is a topology error, found before anything starts. */
async function checkModules(
  topology: Topology,
  locate:
    | ((path: readonly (string | number)[]) => { line: number; column: number } | undefined)
    | undefined,
): Promise<Topology> {
  const all = (specs: ContainerSpec[], path: string[]): [ContainerSpec, string[]][] =>
    specs.flatMap((s) => [
      [s, [...path, s.name]] as [ContainerSpec, string[]],
      ...all(s.children, [...path, s.name, "children"]),
    ]);
  for (const [spec, path] of all(topology.containers, ["containers"])) {
    if (!spec.module.startsWith("file:")) continue;
    try {
      const info = await Deno.stat(new URL(spec.module));
      if (!info.isFile) throw new Error("not a file");
    } catch {
      const key = [...path, "module"];
      const at = locate?.(key);
      throw new TopologyError(
        `module ${decodeURIComponent(new URL(spec.module).pathname)} does not exist`,
        {
          file: topology.file,
          line: at?.line,
          column: at?.column,
          key: key.join("."),
        },
      );
    }
  }
  return topology;
}
