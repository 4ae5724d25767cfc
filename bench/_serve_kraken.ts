// The Kraken servers of bench/serve.ts, each a runtime in a server subprocess
// (bench/_server_process.ts: it prints the served port as its first stdout line and stops when
// its stdin ends). Run with --unstable-net (replicas share their port with reusePort).
//
//   inline | worker | process   one replica of bench/serve_json_container.ts in that mode
//   worker-N            N worker replicas of it, sharing one port
//   process-N           N process replicas of it, sharing one port
//   inline-ws | worker-ws | process-ws  one replica served with `websocket: true` (Deno.serveHttp)
//   hop                 bench/serve_hop_container.ts (worker) calling `inventory` (worker)
//   hop-inline          the same, both inline (one isolate: no thread crossed)
//   tcp                 bench/serve_accept_container.ts (worker), protocol tcp
//   ws                  bench/serve_ws_container.ts (worker)
import { Runtime, type TopologyInput } from "../mod.ts";

type Mode = "inline" | "worker" | "process";

const [scenario] = Deno.args;
const baseUrl = new URL("./", import.meta.url).href;
const serve = { port: 0, hostname: "0.0.0.0" };

function topology(): TopologyInput {
  const [mode, count] = scenario.split("-");
  switch (mode) {
    case "inline":
    case "worker":
    case "process":
      return {
        containers: {
          api: {
            module: "./serve_json_container.ts",
            mode,
            replicas: count && count !== "ws" ? Number(count) : 1,
            serve: count === "ws" ? { ...serve, websocket: true } : serve,
          },
        },
      };
    case "hop": {
      // hop (both worker), hop-inline (both inline), hop-API-INVENTORY (each its own mode)
      const [api, inventory] = count === undefined
        ? ["worker", "worker"]
        : count === "inline"
        ? ["inline", "inline"]
        : [count, scenario.split("-")[2]];
      return {
        containers: {
          inventory: { module: "./serve_inventory_container.ts", mode: inventory as Mode },
          api: { module: "./serve_hop_container.ts", mode: api as Mode, serve },
        },
      };
    }
    case "tcp":
      return {
        containers: {
          api: {
            module: "./serve_accept_container.ts",
            mode: "worker",
            serve: { ...serve, protocol: "tcp" },
          },
        },
      };
    case "ws":
      return {
        containers: {
          api: {
            module: "./serve_ws_container.ts",
            mode: "worker",
            serve: { ...serve, websocket: true },
          },
        },
      };
    default:
      throw new Error(`unknown scenario ${scenario}`);
  }
}

const rt = await Runtime.start(topology(), { logLevel: "silent", baseUrl });
const address = rt.serving("api");
if (!address) throw new Error("the api container does not serve");
console.log(String(address.port));
for await (const _ of Deno.stdin.readable) {
  // nothing is sent on stdin
}
await rt.shutdown();
