/**
 * `kraken new DIR`: scaffold a project that starts and passes its own test straight away.
 *
 * @module
 */
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { VERSION } from "../version.ts";
import type { Command } from "../command.ts";
import { CliError, EXIT, usageError } from "../exit.ts";
import { appName, type KrakenSource, scaffold } from "./_scaffold.ts";

/**
 * `kraken new DIR [--kraken-path PATH | --jsr]`.
 *
 * @example
 * ```sh
 * kraken new shop && cd shop && deno task test && deno task start
 * ```
 */
export const create: Command = {
  name: "new",
  args: "DIR",
  summary: "scaffold a project: topology (a worker and a process container), a test, tasks",
  description: "DIR must not exist or be empty. Run from a local checkout of Kraken (this CLI's " +
    "own module is a file), the project imports that checkout, so it works offline; run from " +
    `JSR, it imports jsr:@kraken/kraken@${compatible()}. It says which it chose. --kraken-path ` +
    "(or KRAKEN_PATH) points it at another checkout, --jsr at JSR whatever runs it. A fresh " +
    "management token goes to DIR/.env, which the tasks load.",
  flags: {
    "kraken-path": {
      type: "string",
      value: "PATH",
      description: "use the Kraken checkout at PATH (default: KRAKEN_PATH, else the checkout " +
        "this CLI runs from, if it runs from one)",
    },
    jsr: {
      type: "boolean",
      description: `import jsr:@kraken/kraken@${compatible()} even when run from a checkout`,
    },
    name: { type: "string", value: "NAME", description: "application name (default: DIR's name)" },
  },
  examples: ["kraken new shop", "kraken new shop --kraken-path ../kraken", "kraken new shop --jsr"],
  async run({ positionals, flags }, io) {
    const [dir] = positionals;
    if (!dir) throw usageError("new", "missing DIR");
    if (positionals.length > 1) throw usageError("new", `unexpected argument "${positionals[1]}"`);
    const target = resolve(dir);
    if (await nonEmpty(target)) {
      throw new CliError(EXIT.usage, `new: ${dir} exists and is not empty; choose a new folder`);
    }
    const name = typeof flags.name === "string" ? flags.name : appName(basename(target));
    if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(name)) {
      throw usageError("new", `--name must be letters, digits, _ or -, starting with a letter`);
    }
    const chosen = chooseSource({
      path: typeof flags["kraken-path"] === "string" ? flags["kraken-path"] : undefined,
      jsr: flags.jsr === true,
      env: envPath(),
      self: import.meta.url,
    });
    const kraken = chosen.path !== undefined ? await localSource(target, chosen.path) : jsrSource();
    const files = scaffold({ name, kraken, token: newToken() });
    for (const [path, content] of Object.entries(files)) {
      const file = join(target, path);
      await Deno.mkdir(dirname(file), { recursive: true });
      await Deno.writeTextFile(file, content, path === ".env" ? { mode: 0o600 } : {});
    }
    const from = kraken.kind === "jsr"
      ? `${kraken.specifier} (${chosen.why})`
      : `the checkout at ${kraken.path} (${chosen.why})`;
    if (io.json) {
      io.printJson({
        ok: true,
        dir: target,
        name,
        files: Object.keys(files),
        kraken: { ...kraken, why: chosen.why },
      });
      return 0;
    }
    // The folder once; the application's name only when it is not the folder's.
    const folder = dir.endsWith("/") ? dir : `${dir}/`;
    const named = name === basename(target) ? "" : ` (application ${io.out.bold(name)})`;
    const count = Object.keys(files).length;
    io.print(`${io.out.green("created")} ${io.out.bold(folder)}${named} with ${count} files:`);
    for (const path of Object.keys(files)) io.print(io.out.dim(`  ${path}`));
    io.print(`  Kraken from ${from}`);
    io.print(
      [
        "",
        `next: ${io.out.bold(`cd ${shellWord(dir)} && deno task start`)}   # Ctrl-C stops it`,
        "  deno task test             # starts the topology and asks both containers",
        "  deno task kraken status    # from another terminal, while it runs",
      ].join("\n"),
    );
    return 0;
  },
};

/** `word` as one shell word: as it is when that is safe, else single-quoted. */
function shellWord(word: string): string {
  return /^[\w./@%+=:,-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** What `kraken new` was told, and where it runs from. */
export interface SourceChoice {
  /** `--kraken-path`. */
  path?: string;
  /** `--jsr`. */
  jsr: boolean;
  /** `KRAKEN_PATH`. */
  env?: string;
  /** This module's URL: a `file:` URL when the CLI runs from a local checkout. */
  self: string;
}

/**
 * Where the new project gets Kraken from: the checkout `path` (undefined: JSR), and why.
 *
 * @param choice The flags, the environment and this module's URL.
 * @returns The checkout's path or none, and the reason, as printed.
 * @throws {CliError} `--kraken-path` with `--jsr` (a usage error).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chooseSource } from "./new.ts";
 * const here = "file:///src/kraken/cli/commands/new.ts";
 * assert.equal(chooseSource({ jsr: false, self: here }).path, "/src/kraken");
 * assert.equal(chooseSource({ jsr: true, self: here }).path, undefined);
 * assert.equal(chooseSource({ jsr: false, self: "https://jsr.io/@kraken/kraken/0.1.0/cli/commands/new.ts" }).path, undefined);
 * ```
 */
export function chooseSource(choice: SourceChoice): { path?: string; why: string } {
  if (choice.path !== undefined && choice.jsr) {
    throw usageError(
      "new",
      "--kraken-path and --jsr each choose where Kraken comes from: give one",
    );
  }
  if (choice.path !== undefined) return { path: choice.path, why: "--kraken-path" };
  if (choice.jsr) return { why: "--jsr" };
  if (choice.env) return { path: choice.env, why: "KRAKEN_PATH" };
  const self = new URL(choice.self);
  if (self.protocol === "file:") {
    return {
      path: fileURLToPath(new URL("../../", self)).replace(/\/$/, ""),
      why: "this kraken runs from that checkout; --jsr for JSR",
    };
  }
  return { why: "this kraken runs from JSR; --kraken-path for a local checkout" };
}

function envPath(): string | undefined {
  try {
    if (Deno.permissions.querySync({ name: "env", variable: "KRAKEN_PATH" }).state !== "granted") {
      return undefined;
    }
    return Deno.env.get("KRAKEN_PATH") || undefined;
  } catch {
    return undefined;
  }
}

/** `^major.minor` of this CLI's version. */
function compatible(): string {
  const [major, minor] = VERSION.split(".");
  return `^${major}.${minor}`;
}

function jsrSource(): KrakenSource {
  return { kind: "jsr", specifier: `jsr:@kraken/kraken@${compatible()}` };
}

/** A local checkout: its mod.ts must exist; its npm imports go into the project's import map. */
async function localSource(target: string, path: string): Promise<KrakenSource> {
  const root = resolve(path);
  try {
    await Deno.stat(join(root, "mod.ts"));
  } catch {
    throw new CliError(
      EXIT.usage,
      `new: --kraken-path ${path} has no mod.ts: not a Kraken checkout`,
    );
  }
  let imports: Record<string, string> = {};
  try {
    const config = JSON.parse(await Deno.readTextFile(join(root, "deno.json")));
    // Only package imports carry over: relative entries mean nothing from the project's folder.
    imports = Object.fromEntries(
      Object.entries(config.imports ?? {}).filter(([, v]) =>
        typeof v === "string" && /^(npm|jsr|https?):/.test(v)
      ),
    ) as Record<string, string>;
  } catch {
    // A checkout without deno.json imports nothing by bare name.
  }
  // Relative when the two share a folder below the root (they move together), else absolute.
  let rel = relative(target, root).replaceAll("\\", "/");
  const shared = rel.split("/").filter((part) => part === "..").length <
    target.split("/").filter(Boolean).length;
  if (!shared) rel = root;
  else if (!rel.startsWith(".")) rel = rel === "" ? "." : `./${rel}`;
  return { kind: "path", path: rel, imports };
}

async function nonEmpty(dir: string): Promise<boolean> {
  try {
    for await (const _ of Deno.readDir(dir)) return true;
    return false;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    if (error instanceof Deno.errors.NotADirectory) return true;
    throw error;
  }
}

function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
