// The cluster launcher: the http-api app split over two runtimes, each a `kraken start` process —
// `front` (the gateway) and `back` (orders and inventory) — linked by TCP or over NATS.
//
//   deno run -A --no-prompt examples/cluster/main.ts [tcp|nats] [all|front|back]
//   (deno task example:cluster, deno task example:cluster:nats)
//
// `all` (the default) starts back, then front, waits until the gateway answers, prints what to try
// and stops both on Ctrl-C; `back` or `front` starts that runtime alone, with the same settings
// (to start a killed back runtime again). The nats variant starts a local nats-server when none
// answers at NATS_URL. Settings come from the environment, with the defaults of DEFAULTS.

/** The two ways the runtimes are linked; each has its folder of topologies. */
export type Variant = "tcp" | "nats";

/** One of the two runtimes. */
export type Side = "front" | "back";

/** Every setting the topologies read, with its default for local use. The environment wins. */
export const DEFAULTS: Readonly<Record<string, string>> = {
  HTTP_API_PORT: "8080", // the gateway's port (every replica)
  CLUSTER_LINK: "127.0.0.1:7070", // tcp: where back listens for front's link
  NATS_URL: "nats://127.0.0.1:4222", // nats: the server both runtimes join
  FRONT_MANAGEMENT: "127.0.0.1:9090", // front's management API (kraken status, scale, …)
  BACK_MANAGEMENT: "127.0.0.1:9091", // back's management API
  KRAKEN_TOKEN: "local-cluster", // both management APIs' token: choose your own anywhere else
  KRAKEN_SECRET: "local-cluster-secret", // the link's shared secret: likewise
};

const HERE = new URL("./", import.meta.url);
const CLI = new URL("../../cli/main.ts", import.meta.url).pathname;

/** The settings: DEFAULTS, overridden by the environment (or by `env`, for a test). */
export function settings(env: Record<string, string | undefined> = Deno.env.toObject()) {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(DEFAULTS)) out[key] = env[key] || value;
  return out;
}

/** The `kraken start` command of one runtime: its output piped, its own process group. */
export function runtimeCommand(
  variant: Variant,
  side: Side,
  values: Record<string, string>,
): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--no-prompt",
      CLI,
      "start",
      new URL(`${variant}/${side}.yaml`, HERE).pathname,
    ],
    env: { ...values, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    // Its own process group: Ctrl-C reaches this launcher only, which stops each runtime once
    // (SIGTERM, a graceful shutdown) instead of racing the terminal's signal.
    detached: true,
  });
}

/** Copies a child's output to ours, each line tagged; calls `onLine` for each. */
async function relay(
  stream: ReadableStream<Uint8Array>,
  tag: string,
  out: typeof console.log,
  onLine?: (line: string) => void,
): Promise<void> {
  let rest = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + text).split("\n");
    rest = lines.pop()!;
    for (const line of lines) {
      out(`${tag} ${line}`);
      onLine?.(line);
    }
  }
  if (rest) out(`${tag} ${rest}`);
}

/** A started runtime: its process, and a promise of its exit. */
interface Started {
  side: Side | "nats";
  child: Deno.ChildProcess;
  exited: Promise<Deno.CommandStatus>;
}

function start(variant: Variant, side: Side, values: Record<string, string>): Started {
  const child = runtimeCommand(variant, side, values).spawn();
  const tag = `[${side}]`;
  const output = Promise.all([
    relay(child.stdout, tag, console.log),
    relay(child.stderr, tag, console.error),
  ]);
  const exited = child.status.then(async (status) => (await output, status));
  return { side, child, exited };
}

/** Host and port of a `nats://host:port` URL (port 4222 when left out). */
function natsAddress(url: string): { hostname: string; port: number } {
  const parsed = new URL(url);
  if (parsed.protocol !== "nats:") {
    throw new TypeError(`NATS_URL: expected nats://host:port, got ${JSON.stringify(url)}`);
  }
  return { hostname: parsed.hostname, port: Number(parsed.port || 4222) };
}

async function answers(address: { hostname: string; port: number }): Promise<boolean> {
  try {
    (await Deno.connect(address)).close();
    return true;
  } catch {
    return false;
  }
}

/**
 * A nats-server for NATS_URL: none when one answers there already; else a local one started here.
 * Throws with what to do when none answers and nats-server is not installed.
 */
async function ensureNats(url: string): Promise<Started | undefined> {
  const address = natsAddress(url);
  if (await answers(address)) {
    console.log(`using the NATS server at ${url}`);
    return undefined;
  }
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("nats-server", {
      args: ["-a", address.hostname, "-p", String(address.port)],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      detached: true,
    }).spawn();
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new Error(
      `no NATS server answers at ${url} and nats-server is not installed: install it ` +
        `(apt install nats-server, brew install nats-server, or https://nats.io/download/) ` +
        `or set NATS_URL to a running server`,
    );
  }
  const stderr = relay(child.stderr, "[nats]", () => {}); // its chatter is not the demo
  const exited = child.status.then(async (status) => (await stderr, status));
  const end = performance.now() + 10_000;
  while (!(await answers(address))) {
    if (performance.now() > end) {
      stop(child, "SIGKILL");
      await exited;
      throw new Error(`nats-server did not answer at ${url} within 10 s`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  console.log(`started nats-server at ${url} (pid ${child.pid}); it stops with this launcher`);
  return { side: "nats", child, exited };
}

function stop(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    child.kill(signal);
  } catch {
    // gone already
  }
}

/** Waits until the gateway answers GET /stock with 200; false when `ms` pass or `gone` settles. */
async function gatewayAnswers(port: string, ms: number, gone: Promise<unknown>): Promise<boolean> {
  let over = false;
  gone.then(() => over = true);
  const end = performance.now() + ms;
  while (!over && performance.now() < end) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/stock`, {
        signal: AbortSignal.timeout(2_000),
      });
      await response.body?.cancel();
      if (response.status === 200) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

function tryThis(variant: Variant, values: Record<string, string>, all: Started[]): string {
  const url = `http://127.0.0.1:${values.HTTP_API_PORT}`;
  const pid = (side: string) => all.find((s) => s.side === side)?.child.pid;
  const task = variant === "tcp" ? "example:cluster" : "example:cluster:nats";
  return `
gateway (front runtime, pid ${pid("front")}): ${url}
orders and inventory (back runtime, pid ${pid("back")}), linked ${
    variant === "tcp" ? `by TCP at ${values.CLUSTER_LINK}` : `over NATS at ${values.NATS_URL}`
  }

try:
  curl ${url}/stock
  curl -X POST ${url}/orders -H 'content-type: application/json' -d '{"sku":"kr-1","qty":2}'
  curl ${url}/orders                               # recorded by orders, on the back runtime
  kill -9 ${
    pid("back")
  }                                   # the back runtime: the gateway answers 503
  deno task ${task} back              # start it again (another terminal): answers resume
  KRAKEN_TOKEN=${values.KRAKEN_TOKEN} deno task kraken status --url http://${values.FRONT_MANAGEMENT}
  KRAKEN_TOKEN=${values.KRAKEN_TOKEN} deno task kraken status --url http://${values.BACK_MANAGEMENT}
Ctrl-C stops everything this launcher started.`;
}

async function main(args: string[]): Promise<number> {
  const [variant = "tcp", which = "all"] = args;
  if ((variant !== "tcp" && variant !== "nats") || !["all", "front", "back"].includes(which)) {
    console.error("usage: main.ts [tcp|nats] [all|front|back]");
    return 2;
  }
  const values = settings();
  const started: Started[] = [];
  let stopping = false;
  let failed = false;
  const stopAll = (signal: Deno.Signal) => {
    // Runtimes first, the NATS server they use last (it is stopped once they are gone).
    for (const s of started) if (s.side !== "nats") stop(s.child, signal);
  };
  let interrupts = 0;
  const onSignal = () => {
    stopping = true;
    interrupts++;
    console.log(interrupts === 1 ? "stopping (Ctrl-C again to kill)…" : "killing…");
    stopAll(interrupts === 1 ? "SIGTERM" : "SIGKILL");
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    if (variant === "nats") {
      const nats = await ensureNats(values.NATS_URL);
      if (nats) started.push(nats);
    }
    const sides: Side[] = which === "all" ? ["back", "front"] : [which as Side];
    for (const side of sides) if (!stopping) started.push(start(variant, side, values));
    const runtimes = started.filter((s) => s.side !== "nats");
    const anyGone = Promise.race(runtimes.map((s) => s.exited));
    if (which !== "back" && !stopping) {
      if (await gatewayAnswers(values.HTTP_API_PORT, 60_000, anyGone)) {
        console.log(tryThis(variant, values, started));
      } else if (!stopping) {
        console.error("the gateway did not answer within 60 s (or a runtime exited); stopping");
        failed = stopping = true;
        stopAll("SIGTERM");
      }
    }
    // Keep going while the front runtime runs (a dead back runtime is part of the demo).
    await Promise.all(runtimes.map(async (s) => {
      const status = await s.exited;
      if (stopping) return;
      const how = status.signal ? `signal ${status.signal}` : `code ${status.code}`;
      if (s.side === "back" && which === "all") {
        console.log(
          `back runtime exited (${how}): the gateway holds requests for it, then answers 503; ` +
            `start it again with: deno task ${
              variant === "tcp" ? "example:cluster" : "example:cluster:nats"
            } back`,
        );
      } else {
        console.log(`${s.side} runtime exited (${how}); stopping`);
        failed = stopping = true;
        stopAll("SIGTERM");
      }
    }));
    return failed ? 1 : 0;
  } catch (error) {
    console.error((error as Error).message);
    stopAll("SIGKILL");
    await Promise.all(started.filter((s) => s.side !== "nats").map((s) => s.exited));
    return 1;
  } finally {
    const nats = started.find((s) => s.side === "nats");
    if (nats) {
      stop(nats.child, "SIGTERM");
      await nats.exited;
    }
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
