// Kraken transports benchmark: links between two runtimes in two OS processes (tcp://, unix://,
// ws://) against raw sockets and WebSockets carrying the same msgpack frames, measured in the same
// run on the same machine. Reports only; no figure fails the run.
//
//   deno task bench:transports            full run (20k requests per setup, 3 rounds)
//   deno task bench:transports --quick    smoke run
//   ... --transport=tcp,ws                 only some transports
//
// Each setup is one server process (bench/_transport_server.ts: a runtime with an inline echo
// container; bench/_transport_raw_server.ts: a bare echo of length-prefixed msgpack frames) and
// one client in this process, measured over one connection: request/reply with 100 in flight,
// round trip with 1 in flight, then one-way sends. The server process is bench/_server_process.ts,
// the raw client bench/_raw_client.ts over a wire of bench/_wire.ts.
import { Runtime } from "../mod.ts";
import { childPids } from "./_raw.ts";
import { type Call, drive, type LoadResult, PAYLOAD } from "./_drive.ts";
import { median, ms, rate, ratio, table, verdict } from "./_format.ts";
import { addSummaryRow } from "./_summary.ts";
import { ServerProcess } from "./_server_process.ts";
import { RawClient } from "./_raw_client.ts";
import { stdioWire } from "./_wire.ts";
import { socketInodes, socketsLeft } from "./_open_sockets.ts";

const quick = Deno.args.includes("--quick");
const CFG = quick
  ? { requests: 3_000, warmup: 500, window: 100, sequential: 500, oneWay: 20_000, rounds: 1 }
  : { requests: 20_000, warmup: 2_000, window: 100, sequential: 2_000, oneWay: 100_000, rounds: 3 };
/** Frames per write in the batched raw one-way run. */
const PER_WRITE = 100;
const baseUrl = new URL("./", import.meta.url).href;
const SECRET = "bench";

const TARGET = {
  requestRps: 200_000,
  oneWayRatio: 0.5,
  oneWayTcp: 500_000,
  roundTripRatio: 1.5,
};

type TransportName = "tcp" | "unix" | "ws";
const ALL_TRANSPORTS: TransportName[] = ["tcp", "unix", "ws"];
/** `--transport=tcp,ws` limits the run to some transports. */
const only = Deno.args.find((a) => a.startsWith("--transport="))?.slice("--transport=".length);
const TRANSPORTS = only
  ? ALL_TRANSPORTS.filter((t) => only.split(",").includes(t))
  : ALL_TRANSPORTS;
type Kind = "kraken" | "raw" | "raw batched";
const KINDS: Kind[] = ["kraken", "raw", "raw batched"];

const ignore = () => {};

/** Things that went wrong without stopping the run (printed at the end). */
const problems: string[] = [];
const report = (problem: string) => void problems.push(problem);

// An error thrown from the ws:// transport's event handlers (e.g. a WebSocket message arriving
// after its link closed) would end this process; it is noted and reported instead.
globalThis.addEventListener("error", (event) => {
  const error = event.error as Error | undefined;
  if (!error?.stack?.includes("/transports/websocket.ts")) return;
  event.preventDefault();
  problems.push(`uncaught in transports/websocket.ts: ${error.name}: ${error.message}`);
});

// ---- measuring ---------------------------------------------------------------------------------

interface SetupResult extends LoadResult {
  /** p50 of sequential requests (1 in flight), ms. */
  roundTrip: number;
  /** One-way messages per second. */
  oneWay: number;
}

async function measure(
  call: Call,
  oneWay: (n: number) => Promise<void>,
): Promise<SetupResult> {
  await drive(call, CFG.warmup, CFG.window, 0);
  const load = await drive(call, CFG.requests, CFG.window, 1_000_000);
  await drive(call, Math.min(200, CFG.sequential), 1, 2_000_000);
  const seq = await drive(call, CFG.sequential, 1, 3_000_000);
  await oneWay(Math.ceil(CFG.oneWay / 10));
  const t0 = performance.now();
  await oneWay(CFG.oneWay);
  const oneWayRate = CFG.oneWay / ((performance.now() - t0) / 1000);
  return { ...load, roundTrip: seq.p50, oneWay: oneWayRate };
}

let sockDir = "";
/** Requests refused between the peer's introduction and its routes (see waitForPeer). */
let routeRaces = 0;

function listenUrl(transport: TransportName, name: string): string {
  switch (transport) {
    case "tcp":
      return "tcp://127.0.0.1:0";
    case "unix": {
      const path = `${sockDir}/${name}.sock`;
      try {
        Deno.removeSync(path); // a socket file left by an earlier round's server
      } catch {
        // none
      }
      return `unix://${path}`;
    }
    case "ws":
      return "ws://127.0.0.1:0/bench";
  }
}

/**
 * Waits until the peer is connected with "echo" among its containers, then until a request
 * reaches it: the peer's containers are known from its introduction (`join`), one envelope before
 * its routes, and a request in between fails with "no container named echo".
 */
async function waitForPeer(rt: Runtime): Promise<void> {
  const deadline = performance.now() + 15_000;
  const pause = () => new Promise((resolve) => setTimeout(resolve, 5));
  while (true) {
    const peer = rt.tree().peers[0];
    if (peer?.state === "connected" && peer.containers.includes("echo")) break;
    if (performance.now() > deadline) {
      throw new Error(
        `the client runtime did not link with the server: ${JSON.stringify(rt.tree())}`,
      );
    }
    await pause();
  }
  while (true) {
    try {
      await rt.ref("echo").request("echo", { id: -1, payload: "" }, { timeout: 1_000 });
      return;
    } catch (error) {
      if (performance.now() > deadline) throw error;
      routeRaces++;
      await pause();
    }
  }
}

async function krakenSetup(transport: TransportName): Promise<SetupResult> {
  const server = await ServerProcess.start("./_transport_server.ts", [listenUrl(transport, "k")], {
    report,
  });
  let rt: Runtime | null = null;
  try {
    rt = await Runtime.start({
      name: "bench",
      transports: { name: "client", secret: SECRET },
      hosts: { server: { address: server.address } },
      containers: {},
    }, { logLevel: "silent", baseUrl });
    await waitForPeer(rt);
    const ref = rt.ref("echo");
    return await measure(
      (body) => ref.request("echo", body),
      async (n) => {
        for (let i = 0; i < n; i++) ref.send("echo", { id: -1 - i, payload: PAYLOAD });
        await ref.request("echo", { id: -1, payload: PAYLOAD }); // in order behind the sends
      },
    );
  } finally {
    await rt?.shutdown();
    await server.close();
  }
}

async function rawSetup(transport: TransportName, batch: boolean): Promise<SetupResult> {
  const name = batch ? "raw-batched" : "raw";
  const server = await ServerProcess.start(
    "./_transport_raw_server.ts",
    [listenUrl(transport, name), ...(batch ? ["--batch"] : [])],
    { report },
  );
  let client: RawClient | null = null;
  try {
    const c = client = await RawClient.connect(server.address, batch);
    return await measure((body) => c.request(body), (n) => c.oneWay(n, batch ? PER_WRITE : 1));
  } finally {
    await client?.close();
    await server.close();
  }
}

/** A raw batched echo over one host ↔ child channel: stdio, or a unix/TCP socket. */
async function channelSetup(channel: "stdio" | "unix" | "tcp"): Promise<SetupResult> {
  if (channel !== "stdio") return await rawSetup(channel, true);
  const c = RawClient.over(stdioWire(), true);
  try {
    return await measure((body) => c.request(body), (n) => c.oneWay(n, PER_WRITE));
  } finally {
    await c.close();
  }
}

// ---- run ---------------------------------------------------------------------------------------

const began = performance.now();
const socketsBefore = socketInodes();
console.log(
  `Kraken transports bench${
    quick ? " (--quick)" : ""
  }: Deno ${Deno.version.deno}, ${Deno.build.os}-${Deno.build.arch}, ` +
    `${navigator.hardwareConcurrency} CPUs; client here, server in its own process`,
);
console.log(
  `per setup: ${CFG.requests} requests after ${CFG.warmup} warm-up with ${CFG.window} in flight, ` +
    `${CFG.sequential} sequential requests, ${CFG.oneWay} one-way messages; ` +
    `body { id, payload: "x" x 80 }; median of ${CFG.rounds} round(s)`,
);

sockDir = await Deno.makeTempDir({ dir: "/tmp", prefix: "kraken-bench-" });
// Interrupted: the servers see their stdin end and exit; the socket folder goes here.
const interrupted = () => {
  try {
    Deno.removeSync(sockDir, { recursive: true });
  } catch {
    // gone already
  }
  Deno.exit(130);
};
Deno.addSignalListener("SIGINT", interrupted);
const results: Record<string, SetupResult[]> = {};
const CHANNELS = ["stdio", "unix", "tcp"] as const;
const channels: Record<string, SetupResult[]> = {};
try {
  for (let round = 0; round < CFG.rounds; round++) {
    if (!only) {
      for (const channel of CHANNELS) (channels[channel] ??= []).push(await channelSetup(channel));
    }
    for (const transport of TRANSPORTS) {
      for (const kind of KINDS) {
        const result = kind === "kraken"
          ? await krakenSetup(transport)
          : await rawSetup(transport, kind === "raw batched");
        (results[`${transport} ${kind}`] ??= []).push(result);
      }
    }
  }
} finally {
  Deno.removeSignalListener("SIGINT", interrupted);
  await Deno.remove(sockDir, { recursive: true }).catch(ignore);
}

const med = (transport: TransportName, kind: Kind, key: keyof SetupResult) =>
  median(results[`${transport} ${kind}`].map((r) => r[key] ?? NaN));
const label: Record<TransportName, string> = {
  tcp: "tcp://127.0.0.1",
  unix: "unix:///tmp/…/k.sock",
  ws: "ws://127.0.0.1/bench",
};
const head = (what: string) => [
  "transport",
  `kraken ${what}`,
  "raw (one write per msg)",
  "raw batched",
  "kraken/raw",
  "kraken/raw batched",
];
const compare = (
  key: keyof SetupResult,
  fmt: (v: number) => string,
  target?: (t: TransportName, k: number, raw: number, batched: number) => string,
) =>
  TRANSPORTS.map((t) => {
    const k = med(t, "kraken", key);
    const raw = med(t, "raw", key);
    const batched = med(t, "raw batched", key);
    return [
      label[t],
      fmt(k),
      fmt(raw),
      fmt(batched),
      ratio(k / raw),
      ratio(k / batched),
      ...(target ? [target(t, k, raw, batched)] : []),
    ];
  });

console.log(`\n1. Request/reply throughput, ${CFG.window} in flight`);
table(
  [...head("req/s"), `target >= ${TARGET.requestRps / 1000}k req/s`],
  compare("rps", rate, (t, k) => {
    addSummaryRow({
      figure: `request/reply over ${t} between two runtimes, req/s`,
      value: rate(k),
      target: `>= ${TARGET.requestRps / 1000}k/s`,
      met: k >= TARGET.requestRps,
      bench: "transports.ts",
    });
    return verdict(k >= TARGET.requestRps);
  }),
);

if (TRANSPORTS.includes("ws") && med("ws", "kraken", "p50") > 20) {
  console.log(
    "   ws: a p50 near 40 ms is Nagle's algorithm meeting a delayed ACK (a client without\n" +
      "   TCP_NODELAY, e.g. Deno's built-in WebSocket, sending pipelined 1-16 KiB messages).",
  );
}

console.log(`\n2. Request/reply latency p50, ${CFG.window} in flight`);
table(head("p50"), compare("p50", ms));

console.log(`\n3. Request/reply latency p99, ${CFG.window} in flight`);
table(head("p99"), compare("p99", ms));

console.log(`\n4. Round trip, 1 in flight (p50 of ${CFG.sequential} sequential requests)`);
table(
  [...head("p50"), `target kraken/raw <= ${TARGET.roundTripRatio}x`],
  compare("roundTrip", ms, (t, k, raw) => {
    addSummaryRow({
      figure: `round trip over ${t}, kraken / raw`,
      value: ratio(k / raw),
      target: `<= ${TARGET.roundTripRatio}x`,
      met: k / raw <= TARGET.roundTripRatio,
      bench: "transports.ts",
    });
    return verdict(k / raw <= TARGET.roundTripRatio);
  }),
);

console.log(
  `\n5. One-way messages (${CFG.oneWay} sent as fast as possible, counted at the far end)`,
);
table(
  [
    ...head("msg/s"),
    `target >= ${TARGET.oneWayRatio}x raw batched`,
    `>= ${TARGET.oneWayTcp / 1000}k/s over TCP`,
  ],
  compare("oneWay", rate, (_t, k, _raw, batched) => verdict(k / batched >= TARGET.oneWayRatio))
    .map((row, i) => {
      const t = TRANSPORTS[i];
      return [...row, t === "tcp" ? verdict(med(t, "kraken", "oneWay") >= TARGET.oneWayTcp) : "-"];
    }),
);
console.log(
  '   kraken: rt.ref("echo").send() in a tight loop, then one request as a barrier (same link,\n' +
    "   in order), timed until its reply; raw: frames written (1 or " +
    `${PER_WRITE} per write),\n   timed until every echo is back.`,
);
console.log(
  "\n   raw = the same msgpack frames (no envelope, no authentication) over a plain Deno socket\n" +
    "   (TCP_NODELAY on both ends) or a plain WebSocket (Deno.serve + Deno.upgradeWebSocket; npm ws client),\n" +
    "   echoed by bench/_transport_raw_server.ts; batched = the frames of one turn in one write\n" +
    "   and the echoes of one read in one write.",
);

if (!only) {
  console.log(
    "\n6. Host <-> child process channel: raw batched echo of the same frames to a child process",
  );
  const cmed = (c: string, key: keyof SetupResult) => median(channels[c].map((r) => r[key] ?? NaN));
  table(
    ["channel", "req/s, 100 in flight", "round trip p50", "one-way msg/s", "round trip vs stdio"],
    CHANNELS.map((c) => [
      c === "stdio" ? "stdin/stdout pipes" : c === "unix" ? "unix socket" : "tcp 127.0.0.1",
      rate(cmed(c, "rps")),
      ms(cmed(c, "roundTrip")),
      rate(cmed(c, "oneWay")),
      ratio(cmed(c, "roundTrip") / cmed("stdio", "roundTrip")),
    ]),
  );
  console.log(
    "   process containers use a unix socket (shortest round trip); stdin/stdout is the fallback.",
  );
}

if (routeRaces > 0) {
  console.log(
    `\n   note: ${routeRaces} first request(s) failed with "no container named echo" after the peer\n` +
      "   was connected with echo among its containers (its routes arrive one envelope later); retried.",
  );
}
for (const [problem, count] of Object.entries(Object.groupBy(problems, (p) => p))) {
  console.log(`   PROBLEM (x${count!.length}): ${problem}`);
}

const leftover = childPids();
const sockets = await socketsLeft(socketsBefore);
console.log(
  `\ndone in ${
    ((performance.now() - began) / 1000).toFixed(1)
  } s; leftover subprocesses: ${leftover.length}${
    leftover.length ? ` (${leftover.join(", ")})` : ""
  }; sockets left open: ${sockets.open.length}${
    sockets.open.length ? ` (${sockets.open.join("; ")})` : ""
  }${sockets.pairs ? ` (not counted: ${sockets.pairs} ends of Deno's own socketpairs)` : ""}`,
);
