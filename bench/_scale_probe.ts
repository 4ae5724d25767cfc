// One scale measurement in a fresh process (a fresh app: nothing loaded, nothing cached), run by
// bench/scale.ts as `deno run -A bench/_scale_probe.ts <probe> <mode> [n]`; prints one JSON line.
//   many <worker|process> <n>   n containers of one replica each (default settings): start until
//                               every one answered, false "unresponsive" events, RSS per container,
//                               shutdown time
//   cold <worker|process>       `Runtime.start` of one container until its first reply
//   bare <worker|process>       `new Worker` / `deno run` of a bare echo until its first reply
// A cold or bare probe reports the wall time and the CPU it took (this process's threads, workers
// included, and its subprocesses), from the start until the first reply: under load the wall time
// moves by 2× from run to run, the CPU by a few percent.
import { Runtime } from "../mod.ts";
import { childPids, processCpuMs, RawProcess, RawWorker, vmRss } from "./_raw.ts";

const [probe, mode, nArg] = Deno.args as ["many" | "cold" | "bare", "worker" | "process", string];
const baseUrl = new URL("./", import.meta.url).href;
const MODULE = "./echo_container.ts";
const body = { id: 0, payload: "x" };

/** What a `many` probe reports. */
export interface ManyResult {
  n: number;
  startMs: number;
  unresponsive: number;
  failed: number;
  rssPerContainer: number;
  shutdownMs: number;
}

async function many(n: number): Promise<ManyResult> {
  const containers = Object.fromEntries(
    Array.from({ length: n }, (_, i) => [`c${i}`, { module: MODULE, mode }]),
  );
  const before = Deno.memoryUsage().rss;
  let unresponsive = 0;
  const t0 = performance.now();
  const rt = await Runtime.start({ containers }, {
    logLevel: "silent",
    baseUrl,
    on: { unresponsive: () => void unresponsive++ },
  });
  const replies = await Promise.allSettled(
    Object.keys(containers).map((name) => rt.ref(name).request("echo", body, { timeout: 30_000 })),
  );
  const startMs = performance.now() - t0;
  // A moment for a late false alarm (a heartbeat round that would still call someone silent).
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const children = childPids().reduce((sum, pid) => sum + vmRss(pid), 0);
  const rssPerContainer = (Deno.memoryUsage().rss - before + children) / n;
  const t1 = performance.now();
  await rt.shutdown();
  const shutdownMs = performance.now() - t1;
  const failed = replies.filter((r) => r.status === "rejected").length;
  return { n, startMs, unresponsive, failed, rssPerContainer, shutdownMs };
}

/** What a `cold` or `bare` probe reports. */
export interface ColdResult {
  /** Wall time from the start to the first reply. */
  ms: number;
  /** CPU time over the same span: this process (all its threads) and its subprocesses. */
  cpuMs: number;
}

/** This process's CPU so far (all its threads), µs: Deno 2.9.6 has `Deno.cpuUsage`, untyped. */
const ownCpu = (Deno as unknown as { cpuUsage(): { user: number; system: number } }).cpuUsage;
const cpuMs = () => {
  const { user, system } = ownCpu();
  return (user + system) / 1000 + childPids().reduce((sum, pid) => sum + processCpuMs(pid), 0);
};

async function cold(): Promise<ColdResult> {
  const cpu0 = cpuMs();
  const t0 = performance.now();
  const rt = await Runtime.start({ containers: { echo: { module: MODULE, mode } } }, {
    logLevel: "silent",
    baseUrl,
  });
  await rt.ref("echo").request("echo", body);
  const took = { ms: performance.now() - t0, cpuMs: cpuMs() - cpu0 };
  await rt.shutdown();
  return took;
}

async function bare(): Promise<ColdResult> {
  const cpu0 = cpuMs();
  const t0 = performance.now();
  const raw = mode === "worker" ? new RawWorker() : new RawProcess();
  await raw.request(body);
  const took = { ms: performance.now() - t0, cpuMs: cpuMs() - cpu0 };
  await raw.close();
  return took;
}

const result = probe === "many"
  ? await many(Number(nArg))
  : probe === "cold"
  ? await cold()
  : await bare();
console.log(JSON.stringify(result));
