// Comedy under node, in one mode (in-memory, threaded or forked), driven like Kraken's modes in
// bench/_drive.ts: `window` echo requests in flight, { id, payload: "x" x 80 } bodies, a warm-up,
// then `total` measured. Prints one JSON line { mode, rps, p50, p99 }.
//   node bench/comedy/drive.cjs MODE TOTAL WARMUP WINDOW
"use strict";
const fs = require("node:fs");
const actors = require("comedy");

// CPU time (ms) of this process (all threads) and its live direct children, as bench/_raw.ts's
// cpuMs() reads it for Deno: /proc/<pid>/stat, utime + stime in 10 ms ticks.
function cpuMs() {
  const pids = [process.pid];
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] !== "Z" && Number(fields[1]) === process.pid) pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone meanwhile
    }
  }
  return ticks * 10;
}

const [mode, total, warmup, window] = [
  process.argv[2],
  Number(process.argv[3] ?? 20000),
  Number(process.argv[4] ?? 2000),
  Number(process.argv[5] ?? 100),
];
const PAYLOAD = "x".repeat(80);
// As bench/_drive.ts: latency timed for one request in LATENCY_SAMPLE.
const LATENCY_SAMPLE = 8;

// Class-defined, as Comedy's quick start writes actors: Comedy sends its source to a forked or
// threaded child. It echoes its body back, like bench/echo_container.ts.
class EchoActor {
  echo(body) {
    return body;
  }
}

function drive(actor, count, idBase) {
  const latencies = new Float64Array(Math.ceil(count / LATENCY_SAMPLE));
  let issued = 0;
  let done = 0;
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const issue = () => {
      const i = issued++;
      const id = idBase + i;
      const timed = i % LATENCY_SAMPLE === 0;
      const sent = timed ? performance.now() : 0;
      actor.sendAndReceive("echo", { id, payload: PAYLOAD }).then((reply) => {
        if (timed) latencies[i / LATENCY_SAMPLE] = performance.now() - sent;
        if (!reply || reply.id !== id) return reject(new Error(`reply ${i} is not its echo`));
        done++;
        if (issued < count) issue();
        else if (done === count) {
          const elapsed = performance.now() - t0;
          latencies.sort();
          resolve({
            rps: count / (elapsed / 1000),
            p50: latencies[Math.floor(latencies.length * 0.5)],
            p99: latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))],
          });
        }
      }, reject);
    };
    for (let i = 0; i < Math.min(window, count); i++) issue();
  });
}

async function main() {
  const system = actors({ log: { level: 0 }, loggerConfiguration: undefined, test: true });
  try {
    const root = await system.rootActor();
    const actor = await root.createChild(EchoActor, { mode });
    await drive(actor, warmup, 0);
    const cpu0 = cpuMs();
    const result = await drive(actor, total, 1000000);
    const cpuUs = (cpuMs() - cpu0) * 1000 / total;
    process.stdout.write(JSON.stringify({ mode, ...result, cpuUs }) + "\n");
  } finally {
    await system.destroy();
  }
}

main().then(() => process.exit(0), (err) => {
  console.error(err);
  process.exit(1);
});
