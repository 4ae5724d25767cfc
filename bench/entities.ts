// Kraken entity benchmark: 100,000 active entities in one worker container (heap per entity),
// entity request/reply beside plain container request/reply in the same run (same worker mode,
// same body, same window), and how long an entity takes to answer again after the process
// replica that owned it is SIGKILLed. Reports only; no figure fails the run.
//
//   deno task bench:entities [--quick]
import { Runtime } from "../mod.ts";
import type entityBench from "./entity_container.ts";
import { drive } from "./_drive.ts";
import { median, ms, rate, ratio, table, verdict } from "./_format.ts";

const quick = Deno.args.includes("--quick");
const ENTITIES = quick ? 10_000 : 100_000;
const REQUESTS = quick ? 20_000 : 100_000;
const ROUNDS = quick ? 2 : 5;
const KILLS = quick ? 2 : 5;
const WINDOW = 100;
const here = new URL("./", import.meta.url);

type Bench = typeof entityBench;

async function activation(): Promise<string[][]> {
  const rt = await Runtime.start({
    containers: { ents: { module: "./entity_container.ts", mode: "worker" } },
  }, { baseUrl: here.href, logLevel: "silent" });
  try {
    const ref = rt.ref<Bench>("ents");
    // One entity first, so the heap measured after is the entities' alone.
    await ref.entity("e-warm").request("touch");
    const before = await ref.entity("e-warm").request("heap");
    const t0 = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < ENTITIES) await ref.entity(`e-${next++}`).request("touch");
    };
    await Promise.all(Array.from({ length: 200 }, worker));
    const took = performance.now() - t0;
    const after = await ref.entity("e-warm").request("heap");
    await new Promise((r) => setTimeout(r, 1200)); // a heartbeat brings the count to the tree
    const active = rt.tree().containers[0].instances[0].entities ?? 0;
    return [
      ["active entities in one worker", String(active), verdict(active >= ENTITIES)],
      ["activation rate (first message each)", rate(ENTITIES / (took / 1000)), ""],
      ["heap per active entity", `${Math.round((after - before) / ENTITIES)} B`, ""],
    ];
  } finally {
    await rt.shutdown();
  }
}

async function throughput(): Promise<string[][]> {
  const rt = await Runtime.start({
    containers: {
      plain: { module: "./echo_container.ts", mode: "worker" },
      ents: { module: "./entity_container.ts", mode: "worker" },
    },
  }, { baseUrl: here.href, logLevel: "silent" });
  try {
    const plain = rt.ref("plain");
    const ents = rt.ref<Bench>("ents");
    const ids = Array.from({ length: 1000 }, (_, n) => ents.entity(`t-${n}`));
    let turn = 0;
    const callPlain = (body: unknown) => plain.request("echo", body);
    const callEntity = (body: unknown) => ids[turn++ % ids.length].request("echo", body);
    await drive(callPlain, 5_000, WINDOW); // warm both paths (and activate the 1000 entities)
    await drive(callEntity, 5_000, WINDOW);
    const ratios: number[] = [];
    const plainRates: number[] = [];
    const entityRates: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Interleaved, every other round in reverse order: drift hits both alike.
      const order = round % 2 === 0 ? ["plain", "entity"] : ["entity", "plain"];
      const got: Record<string, number> = {};
      for (const which of order) {
        const r = await drive(which === "plain" ? callPlain : callEntity, REQUESTS, WINDOW);
        got[which] = r.rps;
      }
      plainRates.push(got.plain);
      entityRates.push(got.entity);
      ratios.push(got.entity / got.plain);
    }
    const r = median(ratios);
    return [
      ["plain container request/reply (worker)", rate(median(plainRates)), ""],
      ["entity request/reply (worker, 1000 ids)", rate(median(entityRates)), ""],
      [
        "entity / plain (median of rounds)",
        `${ratio(r)} (${ratio(Math.min(...ratios))}–${ratio(Math.max(...ratios))})`,
        verdict(r >= 0.8),
      ],
    ];
  } finally {
    await rt.shutdown();
  }
}

async function reactivation(): Promise<string[][]> {
  const rt = await Runtime.start({
    supervisor: { intensity: 100 },
    containers: { ents: { module: "./entity_container.ts", mode: "process", replicas: 3 } },
  }, { baseUrl: here.href, logLevel: "silent" });
  const times: number[] = [];
  try {
    const ref = rt.ref<Bench>("ents");
    for (let k = 0; k < KILLS; k++) {
      const e = ref.entity(`victim-${k}`);
      const { pid, instance } = await e.request("where", undefined, { retries: 5 });
      const t0 = performance.now();
      Deno.kill(pid, "SIGKILL");
      const again = await e.request("where", undefined, { timeout: 500, retries: 40 });
      times.push(performance.now() - t0);
      if (again.instance === instance) throw new Error("answered by the killed instance");
      // Let the killed replica come back before the next round.
      while (rt.tree().containers[0].running < 3) await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await rt.shutdown();
  }
  return [[
    "reactivation after SIGKILL of the owner (process, 3 replicas)",
    `median ${ms(median(times))} (${ms(Math.min(...times))}–${ms(Math.max(...times))})`,
    "",
  ]];
}

const rows = [...await activation(), ...await throughput(), ...await reactivation()];
console.log(`Kraken entities${quick ? " (quick)" : ""}\n`);
table(["figure", "value", "target"], rows);
