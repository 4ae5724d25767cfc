// Kraken distribution benchmark: placing a remote container on a host agent (`kraken node`, its
// own OS process) and having it answer, beside starting the same container as a local process in
// the same run; how long a container takes to serve again after its agent is SIGKILLed; with
// `placement: spread` replicas on two agents under retried load, the longest gap between replies
// when one agent is SIGKILLed or frozen (SIGSTOP) and the time until its replicas are re-placed on
// the survivor; and how long a standby root takes to place again after the active root is
// SIGKILLed, alone and with spread replicas under retried load (placed again where they run, from
// the placement table). Reports only (and adds its rows to the summary table); no figure fails the
// run.
//
//   deno task bench:distribution [--quick]
import { Runtime } from "../mod.ts";
import { startAgent } from "../tests/distribution/_agents.ts";
import { rootHandOver } from "./_standby.ts";
import { spreadHandOver } from "../tests/distribution/_standby_spread.ts";
import { addSummaryRow, printSummary, SUMMARY_ENV } from "./_summary.ts";

const quick = Deno.args.includes("--quick");
const ROUNDS = quick ? 3 : 10;
const fixtures = new URL("../tests/fixtures/", import.meta.url);

function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const b = await startAgent("node-b", { keepalive: 1000 });
const c = await startAgent("node-c", { keepalive: 1000 });
const rt = await Runtime.start({
  name: "bench",
  transports: { name: "root", secret: "distribution-secret", keepalive: "1s" },
  hosts: { "node-b": { address: b.url }, "node-c": { address: c.url } },
  containers: {},
}, { baseUrl: fixtures.href, logLevel: "silent" });

const remote: number[] = [];
const local: number[] = [];
/** Agent SIGKILLed → x serving again from the other agent, ms (0: not within 10 s). */
let moved = 0;
try {
  for (let i = 0; i < ROUNDS + 1; i++) {
    let t = performance.now();
    await rt.spawn(`r${i}`, { module: "./member.ts", mode: "remote", host: "node-b" });
    await rt.ref(`r${i}`).request("whoami");
    const placed = performance.now() - t;
    t = performance.now();
    await rt.spawn(`l${i}`, { module: "./member.ts", mode: "process" });
    await rt.ref(`l${i}`).request("whoami");
    const started = performance.now() - t;
    if (i > 0) { // the first round warms module caches
      remote.push(placed);
      local.push(started);
    }
    await rt.stop(`r${i}`);
    await rt.stop(`l${i}`);
  }

  // Host failure: x on node-b; SIGKILL node-b; time until x answers from node-c.
  await rt.spawn("x", { module: "./member.ts", mode: "remote", host: undefined });
  const onB = rt.tree().containers.find((x) => x.name === "x")!.host === "node-b";
  const t = performance.now();
  (onB ? b : c).child.kill("SIGKILL");
  while (performance.now() - t < 10_000) {
    try {
      await rt.ref("x").request("whoami", undefined, { timeout: 200 });
      if (rt.tree().containers.find((x) => x.name === "x")!.placement?.epoch === 2) {
        moved = performance.now() - t;
        break;
      }
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }

  const r = median(remote);
  const l = median(local);
  console.log(
    `Kraken distribution bench: Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs; ` +
      `agents are kraken node processes on loopback (keepalive 1 s); median of ${ROUNDS}`,
  );
  console.log("");
  console.log("what                                           time      vs local process start");
  console.log(
    `place a remote container on an agent, 1st reply  ${r.toFixed(1).padStart(7)} ms  ${
      (r / l).toFixed(2)
    }x`,
  );
  console.log(
    `start a local process container, 1st reply     ${l.toFixed(1).padStart(7)} ms  1.00x`,
  );
  console.log(
    `agent SIGKILLed -> serving again on another      ${
      moved ? moved.toFixed(0).padStart(7) : "  >10000"
    } ms  (target <= 3000 ms: ${moved && moved <= 3000 ? "ok" : "MISS"})`,
  );
} finally {
  await rt.shutdown();
  await Promise.all([b.stop(), c.stop()]);
}

// Spread replicas: 4 on two agents, 4 loops of requests with retries (1 s a try); one agent
// SIGKILLed (its socket closes), then, in a fresh set-up, one frozen with SIGSTOP (silence: its
// link is suspect well before the keepalive judges it lost).
async function spreadLoss(
  signal: "SIGKILL" | "SIGSTOP",
): Promise<{ gap: number; lost: number; replaced: number }> {
  const e = await startAgent("node-e", { keepalive: 1000 });
  const f = await startAgent("node-f", { keepalive: 1000 });
  const spread = await Runtime.start({
    name: "bench-spread",
    transports: { name: "root", secret: "distribution-secret", keepalive: "1s" },
    hosts: { "node-e": { address: e.url }, "node-f": { address: f.url } },
    containers: {
      x: { module: "./member.ts", mode: "remote", placement: "spread", replicas: 4 },
    },
  }, { baseUrl: fixtures.href, logLevel: "silent" });
  const x = () => spread.tree().containers.find((c) => c.name === "x")!;
  try {
    const ready = performance.now();
    while (x().running < 4 && performance.now() - ready < 10_000) {
      await new Promise((r) => setTimeout(r, 20));
    }
    let running = true;
    let last = performance.now();
    let gap = 0;
    let lost = 0;
    const stopAt = performance.now() + 15_000; // bounded whatever happens
    const loops = Array.from({ length: 4 }, async () => {
      while (running && performance.now() < stopAt) {
        try {
          await spread.ref("x").request("pid", undefined, { timeout: 1_000, retries: 3 });
          const now = performance.now();
          gap = Math.max(gap, now - last);
          last = now;
        } catch {
          lost++;
        }
        await new Promise((r) => setTimeout(r, 2));
      }
    });
    await new Promise((r) => setTimeout(r, 300));
    gap = 0;
    last = performance.now();
    const t = performance.now();
    e.child.kill(signal);
    let replaced = 0;
    while (performance.now() - t < 10_000) {
      const on = x().placement?.replicasOn ?? {};
      if (on["node-f"] === 4 && on["node-e"] === undefined && x().running === 4) {
        replaced = performance.now() - t;
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    await new Promise((r) => setTimeout(r, 300));
    running = false;
    await Promise.all(loops);
    return { gap, lost, replaced };
  } finally {
    await spread.shutdown();
    if (signal === "SIGSTOP") e.child.kill("SIGCONT");
    await Promise.all([e.stop(), f.stop()]);
  }
}

const killed = await spreadLoss("SIGKILL");
const frozen = await spreadLoss("SIGSTOP");
for (const [what, run] of [["SIGKILLed", killed], ["frozen (SIGSTOP)", frozen]] as const) {
  console.log(
    `spread (4 on 2 agents), one ${what}: longest gap ${run.gap.toFixed(0).padStart(5)} ms  ` +
      `(target <= 250 ms: ${run.gap <= 250 ? "ok" : "MISS"}), ${run.lost} requests lost`,
  );
}
console.log(
  `spread: lost replicas re-placed on the survivor  ${
    killed.replaced ? killed.replaced.toFixed(0).padStart(7) : "  >10000"
  } ms  (lease 1 s + 100 ms, then the agent scales)`,
);

// A root you can lose: the standby's hand-over (its own agent, NATS server and two roots).
const handOver = await rootHandOver();
console.log(
  `root SIGKILLed -> standby adopted x (ttl 1 s)    ${
    handOver ? handOver.toFixed(0).padStart(7) : "  >10000"
  } ms  (target <= 3000 ms: ${handOver && handOver <= 3000 ? "ok" : "MISS"})`,
);

// The same with `placement: spread` (1 + 3 replicas on two agents, a caller sending retried
// requests): the standby places every group where it runs, from the placement table.
const spreadStandby = await spreadHandOver();
const spreadStandbyOk = spreadStandby.placing <= 3000 && spreadStandby.failed === 0 &&
  spreadStandby.adopted &&
  spreadStandby.replaced.length === 0;
console.log(
  `spread + root SIGKILLed -> standby placing again ${
    Number.isFinite(spreadStandby.placing)
      ? spreadStandby.placing.toFixed(0).padStart(7)
      : "  >10000"
  } ms  (target <= 3000 ms, 0 lost: ${
    spreadStandbyOk ? "ok" : "MISS"
  }), ${spreadStandby.calls} retried calls, ` +
    `${spreadStandby.failed} lost, longest gap ${spreadStandby.longestGap} ms, groups adopted in place: ${
      spreadStandby.adopted && spreadStandby.replaced.length === 0 ? "yes" : "NO"
    }`,
);
addSummaryRow({
  figure: "spread + standby: root SIGKILLed -> placing again, 0 lost",
  value: `${
    Number.isFinite(spreadStandby.placing) ? spreadStandby.placing.toFixed(0) : ">10000"
  } ms, ${spreadStandby.failed} lost`,
  target: "<= 3000 ms, 0 lost",
  met: spreadStandbyOk,
  bench: "distribution.ts",
});
const BENCH = "distribution.ts";
const ms = (value: number | null) => value ? `${value.toFixed(0)} ms` : "> 10 s";
addSummaryRow({
  figure: "agent SIGKILLed: serving again from another agent",
  value: ms(moved),
  target: "<= 3000 ms",
  met: moved > 0 && moved <= 3000,
  bench: BENCH,
});
for (const [what, run] of [["SIGKILLed", killed], ["frozen (SIGSTOP)", frozen]] as const) {
  addSummaryRow({
    figure: `spread 4 on 2 agents, one ${what}: longest gap between replies (${run.lost} lost)`,
    value: ms(run.gap),
    target: "<= 250 ms, 0 lost",
    met: run.gap <= 250 && run.lost === 0,
    bench: BENCH,
  });
}
addSummaryRow({
  figure: "spread: an agent's lost replicas re-placed on the survivor (SIGKILL / SIGSTOP)",
  value: `${ms(killed.replaced)} / ${ms(frozen.replaced)}`,
  target: "-",
  met: null,
  bench: BENCH,
});
addSummaryRow({
  figure: "root SIGKILLed: standby leads and has adopted (ttl 1 s)",
  value: ms(handOver),
  target: "<= 3000 ms",
  met: handOver !== null && handOver > 0 && handOver <= 3000,
  bench: BENCH,
});
if (!Deno.env.get(SUMMARY_ENV)) printSummary();
