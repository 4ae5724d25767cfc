// Measures the resident memory N idle instances of one kind add, in a fresh process so earlier
// benchmarks leave no heap behind. Run by main.ts as
// `deno run -A --v8-flags=--expose-gc bench/mem_probe.ts <kind> <n> <settleMs>`; prints one JSON line.
import { Runtime } from "../mod.ts";
import { childPids, IdleProcess, RawWorker, vmRss } from "./_raw.ts";

/** What the probe reports. */
export interface MemProbeResult {
  kind: string;
  n: number;
  /** Host RSS growth, bytes. */
  hostDelta: number;
  /** Summed VmRSS of the subprocesses that appeared, bytes. */
  childRss: number;
  /** Subprocesses that appeared. */
  children: number;
  /** (hostDelta + childRss) / n, bytes. */
  perInstance: number;
}

type Kind = "kraken-inline" | "kraken-worker" | "kraken-process" | "bare-worker" | "bare-process";
type Started = { stop(): Promise<void> };

const [kind, nArg, settleArg] = Deno.args as [Kind, string, string];
const n = Number(nArg ?? 8);
const settleMs = Number(settleArg ?? 500);
const baseUrl = new URL("./", import.meta.url).href;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function start(count: number): Promise<Started> {
  switch (kind) {
    case "kraken-inline":
    case "kraken-worker":
    case "kraken-process": {
      const mode = kind.slice("kraken-".length) as "inline" | "worker" | "process";
      const rt = await Runtime.start({
        containers: { echo: { module: "./echo_container.ts", mode, replicas: count } },
      }, { logLevel: "silent", baseUrl });
      await rt.ref("echo").request("echo", { id: 0, payload: "x" });
      return { stop: () => rt.shutdown() };
    }
    case "bare-worker": {
      const workers = Array.from({ length: count }, () => new RawWorker());
      await Promise.all(workers.map((w) => w.request({ id: 0, payload: "x" })));
      return {
        stop() {
          for (const w of workers) w.close();
          return Promise.resolve();
        },
      };
    }
    case "bare-process": {
      const procs = Array.from({ length: count }, () => new IdleProcess());
      await Promise.all(procs.map((p) => p.ready));
      return { stop: async () => void await Promise.all(procs.map((p) => p.close())) };
    }
    default:
      throw new Error(`unknown kind ${kind}`);
  }
}

async function settle(): Promise<number> {
  await sleep(settleMs);
  gc();
  await sleep(20);
  gc();
  return Deno.memoryUsage().rss;
}

// Warm up: load every module and pay one-time costs, so the delta is the per-instance cost only.
await (await start(1)).stop();
const before = await settle();
const knownChildren = new Set(childPids());
const started = await start(n);
const after = await settle();
const children = childPids().filter((pid) => !knownChildren.has(pid));
const childRss = children.reduce((sum, pid) => sum + vmRss(pid), 0);
await started.stop();
const hostDelta = after - before;
const result: MemProbeResult = {
  kind,
  n,
  hostDelta,
  childRss,
  children: children.length,
  perInstance: (hostDelta + childRss) / n,
};
console.log(JSON.stringify(result));
