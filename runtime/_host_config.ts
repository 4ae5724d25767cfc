/**
 * How this host process resolves modules, told to its process containers so that a container
 * resolves the same in every mode. A Worker inherits its process's resolver (import map, npm and
 * lock settings); a subprocess would discover a config file of its own, so it is given the host's:
 * the same `--config` (or `--no-config` when the host has none) and the host's own resolution
 * flags (`--import-map`, lock, `node_modules`, `--unstable-*`, …).
 *
 * Which config Deno 2.9.6 uses for the host, measured: an explicit `--config`/`-c` or
 * `--no-config`; else the nearest `deno.json`/`deno.jsonc` up from the main module's folder for
 * `deno run`/`deno serve` (and `deno main.ts`) of a local module (none for a remote one), from the
 * working directory for everything else (`deno test`, `deno bench`, `deno eval`, stdin). The
 * command line comes from `/proc/self/cmdline`, which Deno lets only an `--allow-all` process read:
 * a host with fewer permissions asks a `deno eval` helper (it may run Deno, or it could not start
 * process containers at all), once.
 *
 * @module
 */

/** Flags whose value is the next argument (unless written `--flag=value`). */
const VALUE_FLAGS = new Set([
  "-c",
  "--config",
  "--import-map",
  "--ext",
  "--node-modules-linker",
  "--cert",
  "--min-dep-age",
  "--inspect-publish-uid",
  "--location",
  "--seed",
  "--preload",
  "--require",
  "--conditions",
  "-L",
  "--log-level",
  "--filter",
]);

/** Flags that change how modules resolve or load, passed on as the host had them. */
const RESOLUTION_FLAGS = new Set([
  "--import-map",
  "--lock",
  "--no-lock",
  "--frozen",
  "--frozen-lockfile",
  "--node-modules-dir",
  "--vendor",
  "--node-modules-linker",
  "--no-remote",
  "--no-npm",
  "--cached-only",
  "--conditions",
  "--cert",
  "--min-dep-age",
  "--unsafely-ignore-certificate-errors",
]);

/** Subcommands whose config is discovered from the main module's folder. */
const FROM_MAIN_MODULE = new Set(["run", "serve"]);

const SUBCOMMANDS = new Set([
  "run",
  "serve",
  "test",
  "bench",
  "eval",
  "repl",
  "jupyter",
  "task",
  "compile",
]);

/** What the host knows about itself, for {@linkcode resolutionFlags}. */
export interface HostFacts {
  /** Its command line (`deno`, subcommand, flags, script, …), or `null` when unknown. */
  argv: readonly string[] | null;
  /** Its working directory. */
  cwd: string;
  /** `Deno.mainModule`. */
  mainModule: string;
  /** Whether a file exists at this absolute path. */
  exists: (path: string) => boolean;
}

/**
 * The `deno run` flags that make a subprocess resolve modules as the host described by `facts`
 * does: `--config <file>` or `--no-config`, then the host's own resolution flags (paths made
 * absolute). Pure.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolutionFlags } from "./_host_config.ts";
 * const flags = resolutionFlags({
 *   argv: ["deno", "run", "-A", "--no-lock", "main.ts"],
 *   cwd: "/srv/app",
 *   mainModule: "file:///srv/app/main.ts",
 *   exists: (path) => path === "/srv/app/deno.json",
 * });
 * assert.equal(flags.join(" "), "--config /srv/app/deno.json --no-lock");
 * ```
 */
export function resolutionFlags(facts: HostFacts): string[] {
  const { subcommand, flags } = parseCommandLine(facts.argv ?? []);
  const absolute = (path: string) =>
    /^[a-z][a-z0-9+.-]*:/i.test(path) || path.startsWith("/") ? path : join(facts.cwd, path);
  let config: string[] | null = null;
  const passed: string[] = [];
  for (const [name, value] of flags) {
    if (name === "--no-config") config = ["--no-config"];
    else if ((name === "-c" || name === "--config") && value !== undefined) {
      config = ["--config", absolute(value)];
    } else if (RESOLUTION_FLAGS.has(name) || name.startsWith("--unstable-")) {
      const pathValued = name === "--import-map" || name === "--lock" || name === "--cert";
      const v = value === undefined ? undefined : pathValued ? absolute(value) : value;
      passed.push(v === undefined ? name : `${name}=${v}`);
    }
  }
  if (!config) {
    // `deno run` of a remote module discovers no config at all.
    const start = !FROM_MAIN_MODULE.has(subcommand ?? "run")
      ? facts.cwd
      : facts.mainModule.startsWith("file:")
      ? decodeURIComponent(new URL(".", facts.mainModule).pathname)
      : null;
    const found = start === null ? null : nearestConfig(start, facts.exists);
    config = found ? ["--config", found] : ["--no-config"];
  }
  return [...config, ...new Set(passed)];
}

/** The subcommand (`null` for `deno main.ts`) and the flags before the script, with values. */
function parseCommandLine(
  argv: readonly string[],
): { subcommand: string | null; flags: [string, string | undefined][] } {
  let subcommand: string | null = null;
  const flags: [string, string | undefined][] = [];
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") break;
    if (!arg.startsWith("-") || arg === "-") {
      if (subcommand === null && SUBCOMMANDS.has(arg)) {
        subcommand = arg;
        continue;
      }
      // The script (or code, or the first test file): what follows belongs to it, except for
      // test and bench, whose flags may follow their files.
      if (subcommand === "test" || subcommand === "bench") continue;
      break;
    }
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg : arg.slice(0, eq);
    let value = eq === -1 ? undefined : arg.slice(eq + 1);
    const next = argv[i + 1];
    if (
      value === undefined && next !== undefined &&
      (VALUE_FLAGS.has(name) || (name === "--lock" && !next.startsWith("-")))
    ) {
      value = next;
      i++;
    }
    flags.push([name, value]);
  }
  return { subcommand, flags };
}

/** The nearest `deno.json`/`deno.jsonc` in `dir` or a folder above it. */
function nearestConfig(dir: string, exists: (path: string) => boolean): string | null {
  let current = dir.replace(/\/+$/, "") || "/";
  while (true) {
    for (const name of ["deno.json", "deno.jsonc"]) {
      const candidate = join(current, name);
      if (exists(candidate)) return candidate;
    }
    if (current === "/") return null;
    current = current.slice(0, current.lastIndexOf("/")) || "/";
  }
}

/** Every folder from `dir` up to `/`, each with the config file names Deno looks for there. */
function configCandidates(dir: string): string[] {
  const out: string[] = [];
  nearestConfig(dir, (path) => (out.push(path), false));
  return out;
}

function join(dir: string, path: string): string {
  const parts: string[] = [];
  for (const part of `${dir}/${path}`.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return `/${parts.join("/")}`;
}

let cached: string[] | undefined;
let knownCommandLine = false;

/** Whether {@linkcode hostResolutionFlags} could read this process's command line. */
export function hostCommandLineKnown(): boolean {
  hostResolutionFlags();
  return knownCommandLine;
}

/**
 * The flags for this host's process containers (worked out once per process): see the module
 * doc. Never throws and never prompts: what cannot be learned is taken as `deno run` without
 * flags.
 */
export function hostResolutionFlags(): string[] {
  if (cached) return cached;
  const cwd = Deno.cwd();
  const candidates = [
    ...configCandidates(cwd),
    ...(Deno.mainModule.startsWith("file:")
      ? configCandidates(decodeURIComponent(new URL(".", Deno.mainModule).pathname))
      : []),
  ];
  const facts = holdsEverything() ? readOwnFacts(candidates) : askHelper(candidates);
  knownCommandLine = facts.argv !== null;
  cached = resolutionFlags({
    argv: facts.argv,
    cwd,
    mainModule: Deno.mainModule,
    exists: (path) => facts.existing.has(path),
  });
  return cached;
}

/**
 * Only the config flags (`--config`/`--no-config`, `--import-map`), for `deno info` and other
 * subcommands that take no run flags.
 */
export function hostConfigFlags(): string[] {
  const flags = hostResolutionFlags();
  const out = flags[0] === "--config" ? flags.slice(0, 2) : flags.slice(0, 1);
  return [...out, ...flags.filter((f) => f.startsWith("--import-map="))];
}

interface Facts {
  argv: string[] | null;
  existing: Set<string>;
}

/** Whether this process runs with every permission (what reading `/proc/self/cmdline` takes). */
function holdsEverything(): boolean {
  const kinds = ["read", "write", "net", "env", "run", "ffi", "sys", "import"] as const;
  return kinds.every((name) => Deno.permissions.querySync({ name }).state === "granted");
}

function readOwnFacts(candidates: string[]): Facts {
  let argv: string[] | null = null;
  try {
    argv = Deno.readTextFileSync("/proc/self/cmdline").split("\0").filter(Boolean);
  } catch {
    // not Linux
  }
  return { argv, existing: new Set(candidates.filter(isFile)) };
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * A host short of permissions cannot read its own command line (Deno wants `--allow-all` for it)
 * and may not stat its folders: a one-off `deno eval` does both for it. It needs `run` access to
 * Deno, which a host starting process containers has; without it nothing is learned.
 */
function askHelper(candidates: string[]): Facts {
  const none: Facts = { argv: null, existing: new Set() };
  const deno = Deno.execPath();
  if (Deno.permissions.querySync({ name: "run", command: deno }).state !== "granted") return none;
  const code = `const [pid, paths] = ${JSON.stringify([Deno.pid, candidates])};
    let argv = null;
    try { argv = Deno.readTextFileSync("/proc/" + pid + "/cmdline").split("\\0").filter(Boolean); } catch {}
    const existing = paths.filter((p) => { try { return Deno.statSync(p).isFile; } catch { return false; } });
    console.log(JSON.stringify({ argv, existing }));`;
  try {
    const out = new Deno.Command(deno, {
      args: ["eval", "--no-config", "--quiet", code],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
      env: { NO_COLOR: "1" },
    }).outputSync();
    if (!out.success) return none;
    const told = JSON.parse(new TextDecoder().decode(out.stdout)) as {
      argv: unknown;
      existing: unknown;
    };
    const strings = (v: unknown) =>
      Array.isArray(v) && v.every((s) => typeof s === "string") ? v as string[] : null;
    return { argv: strings(told.argv), existing: new Set(strings(told.existing) ?? []) };
  } catch {
    return none;
  }
}
