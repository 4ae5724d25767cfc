// One Kraken mode under load, alone, for CPU profiles (docs/performance.md):
//   deno run -A --cpu-prof --cpu-prof-dir=/tmp/prof bench/_profile_load.ts inline 200000
// then `deno run -A bench/_profile_top.ts /tmp/prof/<file>.cpuprofile` for the top self times.
import { Runtime } from "../mod.ts";
import { drive } from "./_drive.ts";
import { cpuMs } from "./_raw.ts";

const mode = (Deno.args[0] ?? "inline") as "inline" | "worker" | "process";
const total = Number(Deno.args[1] ?? 200_000);
const rt = await Runtime.start({
  containers: { echo: { module: "./echo_container.ts", mode } },
}, { logLevel: "silent", baseUrl: new URL("./", import.meta.url).href });
try {
  const ref = rt.ref("echo");
  await drive((body) => ref.request("echo", body), 2_000, 100);
  const cpu0 = cpuMs();
  const r = await drive((body) => ref.request("echo", body), total, 100, 1_000_000);
  console.log(JSON.stringify({ mode, ...r, cpuUs: (cpuMs() - cpu0) * 1000 / total }));
} finally {
  await rt.shutdown();
}
