// Kraken showcase: `deno task demo`. Starts kraken.yaml, talks to its containers, watches a
// sandbox refuse, crashes a container and sees its supervisor restart it, crashes a worker nested
// in a process and sees that process's own supervisor restart it, then shuts down.
import { type LogEntry, RemoteError, Runtime } from "../../mod.ts";
import type catalog from "./containers/catalog.ts";
import type flaky from "./containers/flaky.ts";
import type fx from "./containers/fx.ts";
import type gateway from "./containers/gateway.ts";
import type pricing from "./containers/pricing.ts";

const say = (line: string) => console.log(line);
const detail = (line: string) => console.log(`   ${line}`);

// Container logs (ctx.log) and runtime warnings, one short line each.
function logger(entry: LogEntry): void {
  if (entry.source === "runtime" && entry.level !== "warn" && entry.level !== "error") return;
  detail(`${entry.level} [${entry.source}] ${entry.message}`);
}

const t0 = performance.now();
const rt = await Runtime.start(new URL("./kraken.yaml", import.meta.url), {
  logLevel: "info",
  logger,
});
const tree0 = rt.tree();
const modes = new Set(tree0.containers.map((c) => c.mode));
const instances = tree0.containers.reduce((n, c) => n + c.instances.length, 0);
say(
  `1. started "${tree0.name}": ${tree0.containers.length} containers (${instances} instances) ` +
    `in ${modes.size} modes (${[...modes].join(", ")}) in ${Math.round(performance.now() - t0)} ms`,
);

say("2. requests by name: host → gateway (inline) → catalog (worker) + pricing (process)");
const gw = rt.ref<typeof gateway>("gateway");
const prices: string[] = [];
for (const sku of ["kr-1", "kr-2"]) {
  const o = await gw.request("offer", { sku });
  prices.push(o.price);
  detail(
    `offer ${sku}: ${o.name.padEnd(14)} ${o.price.padStart(10)}  (catalog replica ${o.servedBy})`,
  );
}

say(
  '3. pub/sub: host publishes "sale" 25%; pricing (process) reacts and publishes "prices.changed"',
);
const changed = new Promise((resolve) => {
  const off = rt.subscribe("prices.changed", (body) => {
    off();
    resolve(body);
  });
});
rt.publish("sale", { percent: 25 });
detail(`prices.changed: ${JSON.stringify(await changed)}`);
const o = await gw.request("offer", { sku: "kr-1" });
detail(`offer kr-1: ${o.name.padEnd(14)} ${o.price.padStart(10)}  (was ${prices[0]})`);

say("4. sandboxes, observed from inside the containers");
const cat = await rt.ref<typeof catalog>("catalog").request("sandbox");
detail(`catalog (worker, read: ./data):   ./data ${cat.data}, /etc/hostname ${cat.etc}`);
const pr = await rt.ref<typeof pricing>("pricing").request("sandbox");
detail(`pricing (process, no permission): /etc/hostname ${pr.file}, 127.0.0.1:80 ${pr.net}`);
detail(`(pricing is a separate OS process: pid ${pr.pid}; this host is pid ${Deno.pid})`);

say("5. fault tolerance: flaky (worker, restart: permanent) crashes on purpose");
const fl = rt.ref<typeof flaky>("flaky");
await fl.request("whoami");
const before = await fl.request("whoami");
detail(`before: ${before.instance} has answered ${before.calls} calls`);
const restarted = new Promise<{ instance: string; delay: number }>((resolve) => {
  const off = rt.on("restart", (event) => {
    if (event.container !== "flaky") return;
    off();
    resolve(event);
  });
});
try {
  await fl.request("crash");
} catch (error) {
  if (!(error instanceof RemoteError)) throw error;
  detail(`request "crash" → ${error.name}: ${error.message}`);
}
const event = await restarted;
detail(`restart event: ${event.instance} started after a ${event.delay} ms backoff`);
const after = await fl.request("whoami");
detail(`after:  ${after.instance} answers again, fresh state (${after.calls} call)`);

say("6. nested supervision: fx is a worker inside pricing's process, supervised by pricing");
const rates = rt.ref<typeof fx>("fx");
const r1 = await rates.request("rate", { currency: "USD" });
detail(`fx ${r1.instance} in pid ${r1.pid} (pricing's process): USD ${r1.rate}`);
try {
  await rates.request("rate", { currency: "XYZ" });
} catch (error) {
  detail(`rate XYZ → ${(error as Error).message}; on_error: resume keeps the instance`);
}
const r2 = await rates.request("rate", { currency: "GBP" });
detail(`fx ${r2.instance} still serving, ${r2.served} rates served`);
const fxBack = new Promise<{ instance: string }>((resolve) => {
  const off = rt.on("restart", (e) => {
    if (e.container !== "fx") return;
    off();
    resolve(e);
  });
});
await rates.request("crash").catch(() => {});
const fxEvent = await fxBack;
const r3 = await rates.request("rate", { currency: "USD" });
detail(
  `fx crashed; pricing's supervisor started ${fxEvent.instance} in the same pid ${r3.pid}` +
    ` (pricing itself was not restarted)`,
);

const tree = rt.tree();
const sup = tree.supervisor;
say(
  `7. rt.tree(): root supervisor ${sup.strategy}, ${sup.intensity} restarts per ${sup.period} ms`,
);
const rows = [["instance", "mode", "state", "restarts", "uptime"]];
const addRows = (containers: typeof tree.containers, depth: number) => {
  for (const c of containers) {
    for (const i of c.instances) {
      rows.push([
        `${"  ".repeat(depth)}${i.id}`,
        c.mode,
        i.state,
        String(i.restarts),
        `${i.uptime} ms`,
      ]);
    }
    addRows(c.children ?? [], depth + 1);
  }
};
addRows(tree.containers, 0);
const widths = rows[0].map((_, col) => Math.max(...rows.map((r) => r[col].length)));
for (const row of rows) {
  detail(
    row.map((cell, col) => col >= 3 ? cell.padStart(widths[col]) : cell.padEnd(widths[col]))
      .join("  "),
  );
}

const t1 = performance.now();
await rt.shutdown();
say(`8. shut down every worker and process in ${Math.round(performance.now() - t1)} ms; bye`);
