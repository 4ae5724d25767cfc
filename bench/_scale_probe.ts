// One scale measurement in a fresh process (a fresh app: nothing loaded, nothing cached), run by
// bench/scale.ts as `deno run -A bench/_scale_probe.ts <probe> <mode> [n]`; prints one JSON line.
//   many <worker|process> <n>   n containers of one replica each (default settings): start until
//                               every one answered, false "unresponsive" events, RSS per container,
//                               shutdown time
//   cold <worker|process>       `Runtime.start` of one container until its first reply
//   bare <worker|process>       `new Worker` / `deno run` of a bare echo until its first reply
import { Runtime } from "../mod.ts";
import { childPids, RawProcess, RawWorker, vmRss } from "./_raw.ts";

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

async function cold(): Promise<number> {
  const t0 = performance.now();
  const rt = await Runtime.start({ containers: { echo: { module: MODULE, mode } } }, {
    logLevel: "silent",
    baseUrl,
  });
  await rt.ref("echo").request("echo", body);
  const took = performance.now() - t0;
  await rt.shutdown();
  return took;
}

async function bare(): Promise<number> {
  const t0 = performance.now();
  const raw = mode === "worker" ? new RawWorker() : new RawProcess();
  await raw.request(body);
  const took = performance.now() - t0;
  await raw.close();
  return took;
}

const result = probe === "many"
  ? await many(Number(nArg))
  : probe === "cold"
  ? await cold()
  : await bare();
console.log(JSON.stringify(result));
