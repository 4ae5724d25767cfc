/**
 * Where a detached runtime (`kraken start --detach`) says it runs: `.kraken/state.json` beside its
 * topology file holds its pid, its management API's address, where its token comes from (never
 * the token) and where its logs go, so `kraken status`, `logs` and `shutdown` run in that folder
 * find it without flags, and a second detached start of the same application is refused. A state
 * file whose pid is gone (the runtime was killed) is stale: it is ignored and replaced.
 *
 * @module
 */
import { dirname, resolve } from "node:path";

/**
 * What a detached runtime writes once its management API listens.
 *
 * @example
 * ```ts
 * import type { RunState } from "./_run_state.ts";
 * const state: RunState = {
 *   pid: 4242, name: "shop", topology: "/srv/shop/kraken.yaml", url: "http://127.0.0.1:9090/",
 *   token: "management.token of /srv/shop/kraken.yaml", logDir: "/srv/shop/.kraken/logs",
 *   started: "2026-12-04T23:55:00.000Z",
 * };
 * ```
 */
export interface RunState {
  /** The runtime's process id. */
  pid: number;
  /** The application's name. */
  name: string;
  /** The topology file, absolute. */
  topology: string;
  /** The management API's base URL, or `null` when the topology has no `management:` block. */
  url: string | null;
  /** Where the API's token comes from (the token itself is never written). */
  token: string;
  /** The folder of its log files. */
  logDir: string;
  /** When it started (ISO 8601). */
  started: string;
}

/**
 * The run folder of a topology file: `.kraken/` beside it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { runDirOf } from "./_run_state.ts";
 * assert.equal(runDirOf("/srv/shop/kraken.yaml"), "/srv/shop/.kraken");
 * ```
 */
export function runDirOf(file: string): string {
  return resolve(dirname(resolve(file)), ".kraken");
}

/** The state file in a run folder. */
function statePath(runDir: string): string {
  return `${runDir}/state.json`;
}

/**
 * Whether process `pid` lives (Linux: it has a `/proc` entry and is not a zombie; elsewhere the
 * answer is "yes", so a state file is never thrown away on a guess).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { processAlive } from "./_run_state.ts";
 * assert.ok(processAlive(Deno.pid));
 * ```
 */
export function processAlive(pid: number): boolean {
  if (Deno.build.os !== "linux") return true;
  try {
    return !/\) Z /.test(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return false;
  }
}

/**
 * The state of the runtime detached from `runDir`, with whether its process still lives; `null`
 * when there is no readable state file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readRunState } from "./_run_state.ts";
 * assert.equal(readRunState("/nonexistent/.kraken"), null);
 * ```
 */
export function readRunState(runDir: string): { state: RunState; alive: boolean } | null {
  let state: RunState;
  try {
    state = JSON.parse(Deno.readTextFileSync(statePath(runDir)));
  } catch {
    return null;
  }
  if (typeof state !== "object" || state === null || !Number.isSafeInteger(state.pid)) return null;
  return { state, alive: processAlive(state.pid) };
}

/**
 * Writes the state file (whole or not at all: a reader never sees half of it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readRunState, removeRunState, writeRunState } from "./_run_state.ts";
 * const dir = await Deno.makeTempDir();
 * writeRunState(dir, {
 *   pid: Deno.pid, name: "shop", topology: `${dir}/kraken.yaml`, url: null, token: "none",
 *   logDir: dir, started: new Date().toISOString(),
 * });
 * assert.equal(readRunState(dir)?.alive, true);
 * removeRunState(dir, Deno.pid);
 * assert.equal(readRunState(dir), null);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function writeRunState(runDir: string, state: RunState): void {
  Deno.mkdirSync(runDir, { recursive: true });
  const temporary = `${statePath(runDir)}.${state.pid}`;
  Deno.writeTextFileSync(temporary, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  Deno.renameSync(temporary, statePath(runDir));
}

/** Removes the state file if it is the one process `pid` wrote (or a stale one, with `pid` 0). */
export function removeRunState(runDir: string, pid: number): void {
  const found = readRunState(runDir);
  if (!found || (pid !== 0 && found.state.pid !== pid)) return;
  try {
    Deno.removeSync(statePath(runDir));
  } catch {
    // already gone
  }
}
