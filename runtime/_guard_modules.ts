/**
 * The guard of what a worker container imports: `node:process` and `node:module` as the container
 * sees them, whatever way it imports them (see `_guard.ts`).
 *
 * A built-in module's named export is a binding of its own, not a property of the module's default
 * export: `import { abort } from "node:process"` is Deno's `abort` (which calls its op directly,
 * and ends the whole process) whatever the guard did to `process.abort`. No code can change what a
 * module binding holds. So instead the guard chooses which module a container's import reaches:
 * Deno 2.9 runs every ES module resolution of an isolate through its loader hooks
 * (`module.registerHooks`, Node's synchronous customization hooks), static imports and `import()`
 * alike, whatever the referrer. The guard registers one, before any container code, that sends
 * every import of `node:process` (or `node:module`) to a guarded copy: a `data:` module that
 * re-exports the original (`export *`, so its live bindings stay live) except that each name the
 * guard locked on the default export (`abort`, `chdir`, `umask`, `kill`, `setuid`, …, and
 * `registerHooks`) is exported as that guarded function.
 *
 * What keeps it whole:
 * - the container's modules are imported after the guard is in place (`import()` in the entry,
 *   see `_modes.ts`): static imports would be resolved before any guard code could run;
 * - a container cannot put a hook before the guard's (hooks run last-registered first):
 *   `registerHooks` is refused, as a named export and as `Module.registerHooks`. (`node:test`'s
 *   `mock.module` registers hooks of its own, which hand out only the values it is given and pass
 *   everything else down to the guard's);
 * - the guarded copies are loaded by the guard itself before any container code runs, and only
 *   while they load may their own import of the original pass: afterwards nothing reaches the
 *   originals, even code that names a copy's URL as its referrer (`core.evalContext`, `node:vm`);
 * - `require()` needs nothing: it returns the default export, whose properties are locked.
 *
 * @module
 */
import * as nodeProcess from "node:process";
import * as nodeModule from "node:module";
import { lock } from "./_guard.ts";

/** A module namespace, read as a record. */
type Namespace = Record<string, unknown>;

/** What a resolve hook's `nextResolve` gives back (Deno's own default resolution, in the end). */
interface Resolved {
  url?: unknown;
  shortCircuit?: boolean;
}

/** The context Deno hands a resolve hook. */
interface ResolveContext {
  parentURL?: unknown;
  conditions?: readonly unknown[];
}

/** A synchronous resolve hook, as `registerHooks` takes it. */
type ResolveHook = (
  specifier: string,
  context: ResolveContext,
  nextResolve: (specifier: string, context: ResolveContext) => Resolved,
) => Resolved;

/** The guarded copies of this isolate: the URL each original is imported as → its copy's URL. */
const copies = Object.create(null) as Record<string, string>;

// Taken when this module is evaluated, before any container code.
const { getOwnPropertyDescriptor } = Reflect;
const { keys } = Object;
const toJson = JSON.stringify;
const encode = encodeURIComponent;
const registerHooks = nodeModule.registerHooks as unknown as
  | ((hooks: { resolve: ResolveHook }) => unknown)
  | undefined;

/**
 * Sends every ES module import of `node:process` and `node:module` in this isolate to its guarded
 * copy, and refuses loader hooks of the container's own. Call once per isolate, after the guard
 * has locked what it locks on `process` (the copies export those), before any container code.
 *
 * @param refuse Throws the refusal of a call.
 * @returns Settles once both copies are loaded; no container code may run before.
 * @throws {TypeError} When this Deno has no loader hooks to guard with (it fails closed).
 *
 * @example
 * ```ts ignore
 * import { guardNodeModules } from "./_guard_modules.ts";
 * await guardNodeModules((call, why) => { throw new Deno.errors.NotCapable(`${call}: ${why}`); });
 * ```
 */
export function guardNodeModules(refuse: (call: string, why: string) => never): Promise<void> {
  if (typeof registerHooks !== "function") {
    throw new TypeError(
      `the container guard cannot watch imports of node:process in Deno ${Deno.version.deno}`,
    );
  }
  // The copy being loaded by the guard, whose import of its original may pass; then none.
  let loading: string | null = null;
  registerHooks({ resolve });
  // Once the guard's hook is in: a hook registered later would run before it.
  const Module = nodeModule.default as unknown as Record<string, unknown>;
  lock(Module, "registerHooks", function registerHooks_(): never {
    refuse(
      "registerHooks() of node:module",
      "a container's loader hooks would run before the guard's, which keeps node:process's named exports (abort, chdir, …) guarded in an isolate that shares the process",
    );
  });
  copies["node:process"] = copySource("node:process", nodeProcess as unknown as Namespace);
  copies["node:module"] = copySource("node:module", nodeModule as unknown as Namespace);

  function resolve(...[specifier, context, nextResolve]: Parameters<ResolveHook>): Resolved {
    const resolved = nextResolve(specifier, context);
    const url = resolved?.url;
    if (typeof url !== "string" || !importing(context)) return resolved;
    const copy = copies[url];
    if (copy === undefined || (loading !== null && context?.parentURL === loading)) {
      return resolved;
    }
    return { url: copy, shortCircuit: true };
  }

  return (async () => {
    for (const original of keys(copies)) {
      loading = copies[original];
      try {
        await import(loading);
      } finally {
        loading = null;
      }
    }
  })();
}

/**
 * The URL a container's import of built-in `specifier` resolves to in this isolate (`undefined`
 * for one the guard leaves alone, or before it is installed). Nothing secret: the copies are
 * built the same way in every isolate.
 *
 * @example
 * ```ts ignore
 * import { guardedCopy } from "./_guard_modules.ts";
 * guardedCopy("node:process"); // "data:application/javascript,import%20*%20as%20original…"
 * ```
 */
export function guardedCopy(specifier: string): string | undefined {
  return copies[specifier];
}

/**
 * Whether a resolution is an ES module import; `require()` (whose conditions include `require`)
 * returns the default export, which the guard locks, so it is left alone.
 */
function importing(context: ResolveContext): boolean {
  const conditions = context?.conditions;
  if (conditions === undefined || conditions === null) return true;
  for (let i = 0; i < conditions.length; i++) if (conditions[i] === "require") return false;
  return true;
}

/**
 * The `data:` URL of the guarded copy of built-in module `specifier`: the original's exports,
 * except each named export whose namesake on the default export the guard has locked (a
 * non-writable, non-configurable function different from the export), which is that function.
 */
function copySource(specifier: string, namespace: Namespace): string {
  const object = namespace.default as Record<string, unknown>;
  const name = toJson(specifier);
  let source = `import * as original from ${name};\nexport * from ${name};\n` +
    `export default original.default;\nconst object = original.default;\n`;
  let n = 0;
  for (const key of keys(namespace)) {
    if (key === "default") continue;
    const own = getOwnPropertyDescriptor(object, key);
    if (
      own === undefined || own.writable !== false || own.configurable !== false ||
      typeof own.value !== "function" || own.value === namespace[key]
    ) continue;
    // An explicit export wins over the same name from `export *`.
    source += `const v${n} = object[${toJson(key)}];\nexport { v${n} as ${toJson(key)} };\n`;
    n++;
  }
  return `data:application/javascript,${encode(source)}`;
}
