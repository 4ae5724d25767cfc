// Comedy 2.1.7 (the closest Node peer) under node, for the bench: installs it into
// bench/comedy/node_modules (git-ignored) on first use, then runs bench/comedy/drive.cjs, one
// node process per measurement, in one of Comedy's three modes.
import type { LoadResult } from "./_drive.ts";

/** Comedy's modes, paired with Kraken's: in-memory ~ inline, threaded ~ worker, forked ~ process. */
export type ComedyMode = "in-memory" | "threaded" | "forked";

const dir = new URL("./comedy/", import.meta.url).pathname;

/**
 * Makes sure Comedy is installed (`npm ci` in bench/comedy on first use). Returns why it cannot
 * run (no node or npm, install failed), or `null` when it can.
 */
export async function ensureComedy(): Promise<string | null> {
  try {
    const out = await new Deno.Command("node", { args: ["--version"], stdout: "null" }).output();
    if (!out.success) return `node --version failed (exit ${out.code}); Comedy runs under node`;
  } catch (err) {
    return `node not found (${(err as Error).message}); Comedy runs under node`;
  }
  try {
    await Deno.stat(`${dir}node_modules/comedy/package.json`);
    return null;
  } catch {
    // not installed yet
  }
  console.log(`installing Comedy 2.1.7 into ${dir}node_modules (npm ci) ...`);
  try {
    const out = await new Deno.Command("npm", {
      args: ["ci", "--no-audit", "--no-fund", "--loglevel=error"],
      cwd: dir,
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!out.success) {
      return `npm ci failed (exit ${out.code}); run: cd bench/comedy && npm ci`;
    }
    return null;
  } catch (err) {
    return `npm not found (${
      (err as Error).message
    }); install node and npm, then: cd bench/comedy && npm ci`;
  }
}

/** One Comedy load run: `total` requests after `warmup`, `window` in flight, in a fresh node. */
export async function comedyLoad(
  mode: ComedyMode,
  cfg: { requests: number; warmup: number; window: number },
): Promise<LoadResult> {
  const out = await new Deno.Command("node", {
    args: [
      `${dir}drive.cjs`,
      mode,
      String(cfg.requests),
      String(cfg.warmup),
      String(cfg.window),
    ],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
  if (!out.success || !text.startsWith("{")) {
    throw new Error(
      `Comedy ${mode} run failed (exit ${out.code}): ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  const { rps, p50, p99, cpuUs } = JSON.parse(text) as LoadResult;
  return { rps, p50, p99, cpuUs };
}
