// NATS benchmark: request/reply between two OS processes, Kraken over a direct TCP link vs Kraken
// over NATS (unsigned, and signed with transports.secret) vs raw NATS request/reply (the nats.js v3
// client, @nats-io/transport-node, alone, same payload), measured in the same run against one
// nats-server on loopback. Raw NATS twice: the client's request() (a promise
// and a timer per request, what an application would write) and one inbox subscription for every
// reply (what Kraken's bridge does). Reports only; no figure fails the run.
//
//   deno task bench:nats            full run (20k requests per setup, 3 rounds)
//   deno task bench:nats --quick    smoke run
//
// Each setup is one server process (this file again, with --serve=…) and a client in this
// process: requests with 100 in flight (req/s, p50, p99), then with 1 in flight (round trip p50).
import { connect, createInbox, type NatsConnection } from "@nats-io/transport-node";
import { Runtime } from "../mod.ts";
import { decodeMsgpack, MsgpackEncoder } from "../protocol/msgpack.ts";
import { type Call, drive } from "./_drive.ts";

const quick = Deno.args.includes("--quick");
const CFG = quick
  ? { requests: 3_000, warmup: 500, window: 100, sequential: 300, rounds: 1 }
  : { requests: 20_000, warmup: 2_000, window: 100, sequential: 2_000, rounds: 3 };
const baseUrl = new URL("./", import.meta.url).href;
const SECRET = "bench";
const ignore = () => {};

/** Over NATS, messages are signed only with a secret. */
function signing(kind: string): { secret?: string } {
  return kind === "nats-signed" ? { secret: SECRET } : {};
}

interface Body {
  id: number;
  payload: string;
}

// ---- server side (this file run with --serve=kind,address) -------------------------------------

const serve = Deno.args.find((a) => a.startsWith("--serve="))?.slice("--serve=".length);
if (serve) {
  const [kind, address] = serve.split(",");
  let stop: () => Promise<void>;
  if (kind === "raw") {
    // A bare NATS responder: the same bytes straight back.
    const nc = await connect({ servers: [address] });
    nc.subscribe("bench.echo", { callback: (_e, msg) => void msg.respond(msg.data) });
    await nc.flush();
    console.log("ready");
    stop = () => nc.drain();
  } else {
    const rt = await Runtime.start({
      name: "bench",
      transports: kind === "tcp"
        ? { name: "server", listen: "tcp://127.0.0.1:0", secret: SECRET }
        : { name: "server", ...signing(kind), nats: { servers: [address] } },
      containers: { echo: { module: "./echo_container.ts", mode: "inline" } },
    }, { logLevel: "silent", baseUrl });
    console.log(kind === "tcp" ? rt.listening!.href : "ready");
    stop = () => rt.shutdown();
  }
  for await (const _ of Deno.stdin.readable) { /* until the bench closes stdin */ }
  await stop();
  Deno.exit(0);
}

// ---- processes -----------------------------------------------------------------------------------

/** A server subprocess that prints one line when ready and stops at its stdin's end. */
class ServerProcess {
  readonly #child: Deno.ChildProcess;
  readonly line: string;

  private constructor(child: Deno.ChildProcess, line: string) {
    this.#child = child;
    this.line = line;
  }

  static async start(kind: string, address: string): Promise<ServerProcess> {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        "-A",
        "--no-lock",
        new URL(import.meta.url).pathname,
        `--serve=${kind},${address}`,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the ${kind} server exited before it was ready`);
      text += new TextDecoder().decode(value);
    }
    await reader.cancel().catch(ignore);
    return new ServerProcess(child, text.split("\n")[0].trim());
  }

  async close(): Promise<void> {
    await this.#child.stdin.close().catch(ignore);
    await this.#child.status;
  }
}

/** A nats-server on a free loopback port. */
async function natsServer(): Promise<{ url: string; kill(): Promise<void> }> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("nats-server", {
      args: ["-a", "127.0.0.1", "-p", String(port)],
      stdout: "null",
      stderr: "null",
    }).spawn();
  } catch {
    console.error("nats-server is not on PATH (apt-get install nats-server): nothing to measure");
    Deno.exit(0);
  }
  const kill = async () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // gone
    }
    await child.status;
  };
  for (let i = 0; i < 500; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return { url: `nats://127.0.0.1:${port}`, kill };
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  await kill();
  throw new Error("nats-server did not start");
}

// ---- measuring -----------------------------------------------------------------------------------

interface Result {
  rps: number;
  p50: number;
  p99: number;
  roundTrip: number;
}

async function measure(call: Call): Promise<Result> {
  await drive(call, CFG.warmup, CFG.window);
  const load = await drive(call, CFG.requests, CFG.window);
  await drive(call, Math.min(200, CFG.sequential), 1);
  const seq = await drive(call, CFG.sequential, 1);
  return { ...load, roundTrip: seq.p50 };
}

/** Until the server's echo container answers (its routes or presence arrive a moment after). */
async function ready(rt: Runtime): Promise<void> {
  const end = performance.now() + 15_000;
  while (true) {
    try {
      await rt.ref("echo").request("echo", { id: -1, payload: "" }, { timeout: 1_000 });
      return;
    } catch (error) {
      if (performance.now() > end) throw error;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

async function krakenSetup(over: "tcp" | "nats" | "nats-signed", nats: string): Promise<Result> {
  const server = await ServerProcess.start(over, nats);
  let rt: Runtime | null = null;
  try {
    rt = await Runtime.start(
      over === "tcp"
        ? {
          name: "bench",
          transports: { name: "client", secret: SECRET },
          hosts: { server: { address: server.line } },
          containers: {},
        }
        : {
          name: "bench",
          transports: { name: "client", ...signing(over), nats: { servers: [nats] } },
          containers: {},
        },
      { logLevel: "silent", baseUrl },
    );
    await ready(rt);
    const ref = rt.ref("echo");
    return await measure((body) => ref.request("echo", body) as Promise<Body>);
  } finally {
    await rt?.shutdown();
    await server.close();
  }
}

async function rawSetup(nats: string): Promise<Result> {
  const server = await ServerProcess.start("raw", nats);
  let nc: NatsConnection | null = null;
  try {
    nc = await connect({ servers: [nats] });
    const client = nc;
    const encoder = new MsgpackEncoder();
    return await measure(async (body) => {
      const msg = await client.request("bench.echo", encoder.encode(body), { timeout: 5_000 });
      return decodeMsgpack(msg.data) as Body;
    });
  } finally {
    await nc?.close();
    await server.close();
  }
}

/**
 * Raw NATS the way Kraken's bridge uses it: one inbox subscription for every reply, requests
 * published with a reply subject that carries a token (no per-request subscription or timer).
 */
async function rawInboxSetup(nats: string): Promise<Result> {
  const server = await ServerProcess.start("raw", nats);
  let nc: NatsConnection | null = null;
  try {
    nc = await connect({ servers: [nats] });
    const client = nc;
    const encoder = new MsgpackEncoder();
    const inbox = createInbox();
    const waiting = new Map<number, (body: Body) => void>();
    let next = 1;
    client.subscribe(`${inbox}.*`, {
      callback: (_e, msg) => {
        const token = Number(msg.subject.slice(inbox.length + 1));
        const resolve = waiting.get(token);
        waiting.delete(token);
        resolve?.(decodeMsgpack(msg.data) as Body);
      },
    });
    return await measure((body) =>
      new Promise((resolve) => {
        const token = next++;
        waiting.set(token, resolve);
        client.publish("bench.echo", encoder.encode(body), { reply: `${inbox}.${token}` });
      })
    );
  } finally {
    await nc?.close();
    await server.close();
  }
}

// ---- report --------------------------------------------------------------------------------------

function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function table(head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  console.log(line(head));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const row of rows) console.log(line(row));
}

const rate = (rps: number) => `${(rps / 1000).toFixed(1)}k`;
const ms = (v: number) => `${v.toFixed(3)} ms`;
const x = (v: number) => `${v.toFixed(2)}×`;

const server = await natsServer();
const SETUPS = [
  "kraken over tcp://",
  "kraken over nats://",
  "kraken over nats://, signed",
  "raw nats request()",
  "raw nats, one inbox",
] as const;
const runs: Record<string, Result[]> = Object.fromEntries(SETUPS.map((s) => [s, []]));
try {
  for (let round = 0; round < CFG.rounds; round++) {
    runs[SETUPS[0]].push(await krakenSetup("tcp", server.url));
    runs[SETUPS[1]].push(await krakenSetup("nats", server.url));
    runs[SETUPS[2]].push(await krakenSetup("nats-signed", server.url));
    runs[SETUPS[3]].push(await rawSetup(server.url));
    runs[SETUPS[4]].push(await rawInboxSetup(server.url));
    console.error(`round ${round + 1}/${CFG.rounds} done`);
  }
} finally {
  await server.kill();
}
const med = Object.fromEntries(
  SETUPS.map((s) => [s, {
    rps: median(runs[s].map((r) => r.rps)),
    p50: median(runs[s].map((r) => r.p50)),
    p99: median(runs[s].map((r) => r.p99)),
    roundTrip: median(runs[s].map((r) => r.roundTrip)),
  }]),
) as Record<string, Result>;
const raw = med[SETUPS[3]];
const tcp = med[SETUPS[0]];
console.log(
  `\nRequest/reply between two processes, ${CFG.requests} requests of ~100 bytes, median of ` +
    `${CFG.rounds} round(s); nats-server on 127.0.0.1.\n`,
);
table(
  [
    "over",
    "req/s, 100 in flight",
    "p50 / p99",
    "vs raw nats",
    "vs kraken tcp",
    "round trip, 1 in flight",
    "vs raw nats",
  ],
  SETUPS.map((s) => {
    const r = med[s];
    return [
      s,
      rate(r.rps),
      `${ms(r.p50)} / ${ms(r.p99)}`,
      x(r.rps / raw.rps),
      x(r.rps / tcp.rps),
      ms(r.roundTrip),
      x(r.roundTrip / raw.roundTrip),
    ];
  }),
);
const unsigned = med[SETUPS[1]];
const signed = med[SETUPS[2]];
console.log(
  `\nSigned (transports.secret) over unsigned NATS: ${x(signed.rps / unsigned.rps)} the req/s, ` +
    `${x(signed.roundTrip / unsigned.roundTrip)} the round trip.`,
);
