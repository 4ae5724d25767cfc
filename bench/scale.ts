// Start-up and scale: cold start of one worker / process container in a fresh app (against a bare
// worker / `deno run`), idle memory against bare, and hundreds of containers: start until all
// answer, false "unresponsive" alarms, RSS per container, shutdown. Every figure is taken in a
// fresh process (`_scale_probe.ts`, `mem_probe.ts`). Reports only; no figure fails the run.
//
//   deno task bench:scale                                full run (400 workers, 200 processes)
//   deno task bench:scale --quick                        smoke run (40 workers, 20 processes)
//   deno task bench:scale --workers=100 --processes=0    chosen counts (0 skips)
import type { ColdResult, ManyResult } from "./_scale_probe.ts";
import type { MemProbeResult } from "./mem_probe.ts";
import { median, ms, ratio, table } from "./_format.ts";

const quick = Deno.args.includes("--quick");
const arg = (name: string, fallback: number) => {
  const found = Deno.args.find((a) => a.startsWith(`--${name}=`));
  return found ? Number(found.split("=")[1]) : fallback;
};
const WORKERS = arg("workers", quick ? 40 : 400);
const PROCESSES = arg("processes", quick ? 20 : 200);
const COLD_RUNS = arg("cold", quick ? 3 : 7);
const MEM_N = quick ? 4 : 8;

/** Targets of issue 16. */
const TARGET = {
  coldWorker: 25,
  coldProcess: 50,
  memRatio: 1.3,
  startMs: 20_000,
  shutdownMs: 5_000,
};

async function run(script: string, args: string[]): Promise<unknown> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "-A",
      "--no-lock",
      "--v8-flags=--expose-gc",
      new URL(script, import.meta.url).pathname,
      ...args,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`${script} ${args.join(" ")} failed (exit ${out.code})`);
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]);
}

const rows: string[][] = [];
const row = (figure: string, value: string, target: string, met: boolean | null) =>
  rows.push([figure, value, target, met === null ? "-" : met ? "met" : "missed"]);

// 1. Cold start, fresh app each time; kinds interleaved round by round.
const cold: Record<string, ColdResult[]> = {};
for (let round = 0; round < COLD_RUNS; round++) {
  for (const probe of ["cold", "bare"]) {
    for (const mode of ["worker", "process"]) {
      (cold[`${probe} ${mode}`] ??= []).push(
        await run("./_scale_probe.ts", [probe, mode]) as ColdResult,
      );
    }
  }
}
for (const mode of ["worker", "process"] as const) {
  const kraken = cold[`cold ${mode}`];
  const raw = cold[`bare ${mode}`];
  const k = median(kraken.map((r) => r.ms));
  const b = median(raw.map((r) => r.ms));
  const target = mode === "worker" ? TARGET.coldWorker : TARGET.coldProcess;
  row(
    `cold start to first reply, ${mode} (median of ${COLD_RUNS})`,
    ms(k),
    `<= ${target} ms`,
    k <= target,
  );
  row(`  bare ${mode === "worker" ? "new Worker" : "deno run"} to first echo`, ms(b), "-", null);
  // What Kraken adds over bare, the part it can reduce (a target under the bare figure cannot be
  // met); the CPU is the steadier measure on a shared machine.
  row(`  kraken's extra over bare (wall)`, ms(k - b), "-", null);
  const kc = median(kraken.map((r) => r.cpuMs));
  const bc = median(raw.map((r) => r.cpuMs));
  row(`  CPU to first reply: kraken ${ms(kc)} / bare ${ms(bc)}`, ms(kc - bc), "-", null);
}

// 2. Idle memory per instance against bare.
for (const mode of ["worker", "process"]) {
  const kraken = await run("./mem_probe.ts", [
    `kraken-${mode}`,
    String(MEM_N),
    "500",
  ]) as MemProbeResult;
  const bare = await run("./mem_probe.ts", [
    `bare-${mode}`,
    String(MEM_N),
    "500",
  ]) as MemProbeResult;
  const r = kraken.perInstance / bare.perInstance;
  row(
    `idle RSS per ${mode}: kraken ${mib(kraken.perInstance)} / bare ${mib(bare.perInstance)}`,
    ratio(r),
    `<= ${TARGET.memRatio}x`,
    r <= TARGET.memRatio,
  );
}

// 3. Hundreds of containers (one replica each, default settings).
for (const [mode, n] of [["worker", WORKERS], ["process", PROCESSES]] as const) {
  if (n <= 0) continue;
  const r = await run("./_scale_probe.ts", ["many", mode, String(n)]) as ManyResult;
  row(
    `${n} ${mode} containers: start until all answer`,
    ms(r.startMs),
    `<= ${TARGET.startMs} ms`,
    r.startMs <= TARGET.startMs && r.failed === 0,
  );
  row(
    `  false "unresponsive" events (requests failed: ${r.failed})`,
    String(r.unresponsive),
    "0",
    r.unresponsive === 0,
  );
  row(`  RSS per container (host delta + children)`, mib(r.rssPerContainer), "-", null);
  row(
    `  shutdown`,
    ms(r.shutdownMs),
    `<= ${TARGET.shutdownMs} ms`,
    r.shutdownMs <= TARGET.shutdownMs,
  );
}

console.log(`\nStart-up and scale (${new Date().toISOString()}, load average ${loadAverage()})`);
table(["figure", "value", "target", "met/missed"], rows);

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "?";
  }
}
