// Kraken serving benchmark: containers serving HTTP, TCP and WebSocket against bare Deno servers
// measured in the same run on the same machine. Reports ratios (and the absolute figures of the
// two count targets); no figure fails the run.
//
//   deno task bench:serve            full run (5 rounds of 2 s per HTTP setup, about 6 minutes)
//   deno task bench:serve --quick    smoke run
//   deno task bench:serve --http=bare:http,kraken:inline
//                                    only these HTTP setups (the first is every ratio's base),
//                                    no TCP or WebSocket figures: a quick comparison
//
// Every server is its own process (bench/_serve_bare.ts, bench/_serve_kraken.ts) and so is every
// load client (bench/_http_load.ts, bench/_connect_load.ts, bench/_ws_hold.ts): the client
// never shares an isolate or an event loop with what it measures. Setups are interleaved round
// by round and each figure is the median of the rounds, so a slow patch of the shared machine
// hits every setup alike.
import { childPids } from "./_raw.ts";
import { median, ms, rate, ratio, table, verdict } from "./_format.ts";
import { addSummaryRow } from "./_summary.ts";
import { ServerProcess } from "./_server_process.ts";
import type { HttpLoadResult } from "./_http_load.ts";
import type { ConnectLoadResult } from "./_connect_load.ts";
import type { WsHoldResult } from "./_ws_hold.ts";
import { openFilesLimits } from "./_open_files.ts";

const quick = Deno.args.includes("--quick");
/** `--http=A,B,...`: only these HTTP setups, compared with the first. */
const ONLY = Deno.args.find((a) => a.startsWith("--http="))?.slice("--http=".length).split(",");
const CFG = quick
  ? { rounds: 1, warmupMs: 300, durationMs: 1_000, connectMs: 1_000, wsCount: 2_000 }
  : { rounds: 5, warmupMs: 500, durationMs: 2_000, connectMs: 2_000, wsCount: 10_000 };
/** Keep-alive connections of the HTTP client, and requests each writes at once. */
const HTTP = { connections: 64, pipeline: 8 };
/** Connection loops of the TCP connect client. */
const CONNECT_CONCURRENCY = 64;
/** Handshakes in flight while opening WebSockets. */
const WS_CONCURRENCY = 100;
/** Descriptors a WebSocket server or client needs beyond one per connection. */
const FD_SPARE = 256;
const REPLICAS = 2;

const TARGET = { oneReplica: 0.9, replicas: 0.9, hop: 0.6, acceptPerSecond: 10_000, ws: 10_000 };

const problems: string[] = [];
const report = (problem: string) => void problems.push(problem);
const UNSTABLE_NET = ["--unstable-net"];

// ---- servers and clients -----------------------------------------------------------------------

type Server = { port: number; pids: number[]; close(): Promise<void> };

/** Starts the servers of one setup: `bare:KIND`, `bare:http-reuse xN`, or `kraken:SCENARIO`. */
async function startServer(setup: string): Promise<Server> {
  const [who, what] = setup.split(":");
  if (who === "kraken") {
    const p = await ServerProcess.start("./_serve_kraken.ts", [what], {
      report,
      flags: UNSTABLE_NET,
    });
    return { port: Number(p.address), pids: [p.pid], close: () => p.close() };
  }
  const [kind, times] = what.split(" x");
  const first = await ServerProcess.start("./_serve_bare.ts", [kind, "0"], {
    report,
    flags: UNSTABLE_NET,
  });
  const all = [first];
  for (let i = 1; i < Number(times ?? 1); i++) {
    all.push(
      await ServerProcess.start("./_serve_bare.ts", [kind, first.address], {
        report,
        flags: UNSTABLE_NET,
      }),
    );
  }
  return {
    port: Number(first.address),
    pids: all.map((p) => p.pid),
    close: async () => void await Promise.all(all.map((p) => p.close())),
  };
}

/** Runs a client script to its end and parses its one JSON line. */
async function runClient<T>(script: string, options: object): Promise<T> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "-A",
      "--no-lock",
      new URL(script, import.meta.url).pathname,
      JSON.stringify(options),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`${script} failed (exit ${out.code})`);
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]) as T;
}

async function withServer<T>(setup: string, measure: (server: Server) => Promise<T>): Promise<T> {
  const server = await startServer(setup);
  try {
    return await measure(server);
  } finally {
    await server.close();
  }
}

function httpLoad(port: number): Promise<HttpLoadResult> {
  return runClient<HttpLoadResult>("./_http_load.ts", {
    port,
    ...HTTP,
    warmupMs: CFG.warmupMs,
    durationMs: CFG.durationMs,
  });
}

function connectLoad(port: number): Promise<ConnectLoadResult> {
  return runClient<ConnectLoadResult>("./_connect_load.ts", {
    port,
    concurrency: CONNECT_CONCURRENCY,
    warmupMs: CFG.warmupMs,
    durationMs: CFG.connectMs,
  });
}

/** Summed VmRSS (bytes) of `pids` and all their descendants. */
function treeRss(pids: number[]): number {
  const children = new Map<number, number[]>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry.name)]);
    } catch {
      // gone meanwhile
    }
  }
  let total = 0;
  const todo = [...pids];
  while (todo.length) {
    const pid = todo.pop()!;
    try {
      const kb = Deno.readTextFileSync(`/proc/${pid}/status`).match(/VmRSS:\s+(\d+) kB/);
      total += kb ? Number(kb[1]) * 1024 : 0;
    } catch {
      // gone meanwhile
    }
    todo.push(...(children.get(pid) ?? []));
  }
  return total;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface WsFigure extends WsHoldResult {
  /** Server RSS added per open connection, bytes. */
  perConnection: number;
}

/** Opens `count` idle WebSockets on the setup's server, measures its RSS growth, closes them. */
function wsHold(setup: string, count: number): Promise<WsFigure> {
  return withServer(setup, async (server) => {
    await sleep(500);
    const before = treeRss(server.pids);
    const client = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        "-A",
        "--no-lock",
        new URL("./_ws_hold.ts", import.meta.url).pathname,
        JSON.stringify({ port: server.port, count, concurrency: WS_CONCURRENCY }),
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = client.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    const timer = setTimeout(() => client.kill("SIGKILL"), 120_000); // bounded: never hangs
    try {
      while (!text.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) throw new Error("bench/_ws_hold.ts ended without a result");
        text += value;
      }
      const result = JSON.parse(text.split("\n")[0]) as WsHoldResult;
      await sleep(1_000); // let the server settle what the handshakes allocated
      const after = treeRss(server.pids);
      return { ...result, perConnection: (after - before) / Math.max(1, result.open) };
    } finally {
      clearTimeout(timer);
      await reader.cancel().catch(() => {});
      await client.stdin.close().catch(() => {});
      await client.status;
    }
  });
}

function took(since: number): string {
  return `(section took ${((performance.now() - since) / 1000).toFixed(1)} s)`;
}

function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

// ---- run ---------------------------------------------------------------------------------------

const began = performance.now();
console.log(
  `Kraken serving bench${quick ? " (--quick)" : ""}: Deno ${Deno.version.deno}, ` +
    `${Deno.build.os}-${Deno.build.arch}, ${navigator.hardwareConcurrency} CPUs`,
);
console.log(
  `HTTP load: ${HTTP.connections} keep-alive connections, ${HTTP.pipeline} requests per write, ` +
    `${CFG.warmupMs} ms warm-up then ${CFG.durationMs} ms measured, median of ${CFG.rounds} ` +
    `round(s); every server and client its own process`,
);

// 1-3. HTTP: one replica, N replicas, one hop; setups interleaved each round.
let since = performance.now();
const ALL_HTTP_SETUPS = [
  "bare:canned",
  "bare:http",
  "kraken:inline",
  "kraken:worker",
  "kraken:process",
  "kraken:worker-ws",
  "bare:http-conn",
  "bare:http-conn-internal",
  "bare:http-worker",
  "kraken:hop",
  "kraken:hop-inline",
  "kraken:hop-inline-worker",
  "bare:http-hop",
  `bare:http-reuse x${REPLICAS}`,
  `kraken:worker-${REPLICAS}`,
  `kraken:process-${REPLICAS}`,
];
const HTTP_SETUPS = ONLY ?? ALL_HTTP_SETUPS;
const httpRounds: Record<string, HttpLoadResult[]> = Object.fromEntries(
  HTTP_SETUPS.map((s) => [s, []]),
);
for (let round = 0; round < CFG.rounds; round++) {
  // Every other round runs the setups in reverse, so a drift of the shared machine's load over a
  // round does not always favour the setups that come first.
  const order = round % 2 ? [...HTTP_SETUPS].reverse() : HTTP_SETUPS;
  for (const setup of order) {
    try {
      httpRounds[setup][round] = await withServer(setup, (server) => httpLoad(server.port));
    } catch (error) {
      report(`${setup}: ${error instanceof Error ? error.message : error}`);
    }
  }
}
const http = Object.fromEntries(
  HTTP_SETUPS.map((s) => {
    const runs = httpRounds[s].filter((r) => r !== undefined);
    const errors = runs.reduce((sum, r) => sum + r.errors, 0);
    const firstError = runs.find((r) => r.firstError)?.firstError;
    return [s, {
      rps: runs.length ? median(runs.map((r) => r.rps)) : NaN,
      p50: runs.length ? median(runs.map((r) => r.p50)) : NaN,
      p99: runs.length ? median(runs.map((r) => r.p99)) : NaN,
      errors,
      firstError,
    }];
  }),
);
/** Per round, `setup`'s req/s over `base`'s in the same round: their median, least and most. */
function roundRatios(setup: string, base: string): { median: number; min: number; max: number } {
  const xs: number[] = [];
  for (let round = 0; round < CFG.rounds; round++) {
    const a = httpRounds[setup][round];
    const b = httpRounds[base][round];
    if (a && b) xs.push(a.rps / b.rps);
  }
  return xs.length
    ? { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) }
    : { median: NaN, min: NaN, max: NaN };
}

const httpRow = (label: string, setup: string, base: string, target?: number) => {
  if (ONLY && !(setup in http && base in http)) return null;
  const r = http[setup];
  const x = roundRatios(setup, base);
  if (target !== undefined) {
    addSummaryRow({
      figure: label,
      value: ratio(x.median),
      target: `>= ${target}x`,
      met: x.median >= target,
      bench: "serve.ts",
    });
  }
  return [
    label,
    rate(r.rps),
    ms(r.p50),
    ms(r.p99),
    String(r.errors),
    base === setup ? "-" : ratio(x.median),
    base === setup || CFG.rounds < 2 ? "-" : `${x.min.toFixed(2)}-${x.max.toFixed(2)}`,
    target === undefined ? "-" : `>= ${target}x: ${verdict(x.median >= target)}`,
  ];
};
console.log(`\n1-3. HTTP requests served ${took(since)}`);
const onlyRows = ONLY?.map((s) => httpRow(s === ONLY[0] ? s : `${s} / ${ONLY[0]}`, s, ONLY[0]));
table(
  ["setup", "req/s", "p50", "p99", "errors", "ratio", "rounds", "target"],
  (onlyRows ?? [
    httpRow("bare Deno.serve (1 process)", "bare:http", "bare:http"),
    httpRow("kraken inline, 1 replica / bare", "kraken:inline", "bare:http", TARGET.oneReplica),
    httpRow("kraken worker, 1 replica / bare", "kraken:worker", "bare:http", TARGET.oneReplica),
    httpRow("kraken process, 1 replica / bare", "kraken:process", "bare:http", TARGET.oneReplica),
    httpRow("kraken worker, websocket: true / bare", "kraken:worker-ws", "bare:http"),
    httpRow("bare Deno.serveHttp per connection / bare", "bare:http-conn", "bare:http"),
    httpRow("kraken inline / bare Deno.serveHttp per conn", "kraken:inline", "bare:http-conn"),
    httpRow("bare internal per-conn server / bare", "bare:http-conn-internal", "bare:http"),
    httpRow("bare Deno.serve in a bare worker / bare", "bare:http-worker", "bare:http"),
    httpRow("kraken worker / bare Deno.serve in a worker", "kraken:worker", "bare:http-worker"),
    httpRow(
      `bare Deno.serve x${REPLICAS} processes, reusePort`,
      `bare:http-reuse x${REPLICAS}`,
      `bare:http-reuse x${REPLICAS}`,
    ),
    httpRow(
      `kraken worker, ${REPLICAS} replicas / bare x${REPLICAS}`,
      `kraken:worker-${REPLICAS}`,
      `bare:http-reuse x${REPLICAS}`,
      TARGET.replicas,
    ),
    httpRow(
      `kraken process, ${REPLICAS} replicas / bare x${REPLICAS}`,
      `kraken:process-${REPLICAS}`,
      `bare:http-reuse x${REPLICAS}`,
      TARGET.replicas,
    ),
    httpRow("kraken worker, one hop / work in handler", "kraken:hop", "kraken:worker", TARGET.hop),
    httpRow(
      "kraken inline, one hop / work in handler",
      "kraken:hop-inline",
      "kraken:inline",
      TARGET.hop,
    ),
    httpRow(
      "kraken inline -> worker, one hop / inline",
      "kraken:hop-inline-worker",
      "kraken:inline",
    ),
    httpRow("bare worker -> worker hop / bare Deno.serve", "bare:http-hop", "bare:http"),
    httpRow("kraken worker, one hop / bare hop", "kraken:hop", "bare:http-hop"),
  ]).filter((row): row is string[] => row !== null),
);
const ceiling = http["bare:canned"];
if (ceiling && http["bare:http"]) {
  console.log(
    `   client ceiling (a canned-response TCP loop, no HTTP server): ${rate(ceiling.rps)}; ` +
      `bare Deno.serve reaches ${ratio(http["bare:http"].rps / ceiling.rps)} of it\n` +
      "   the JSON: the same lookup (bench/_serve_work.ts) answered with Response.json in every setup;\n" +
      "   hop: the serving container asks an `inventory` container (worker: another thread; inline:\n" +
      "   the same isolate) for it by request/reply; bare hop: Deno.serve in a worker asks another\n" +
      "   worker over a MessageChannel (the same threads and crossings, no Kraken)\n" +
      "   bare Deno.serveHttp per connection: Kraken's serving mechanism (own accept loop, one\n" +
      "   Deno.serveHttp per connection, needed for lossless draining) without Kraken; internal\n" +
      "   per-conn server: Deno's faster per-connection server, which ends WebSockets at upgrade\n" +
      "   ratio: the median over rounds of the two setups' req/s in the same round; rounds: the\n" +
      "   least and most of those per-round ratios (the spread the shared machine adds)",
  );
}
for (const s of HTTP_SETUPS) {
  if (http[s].firstError) console.log(`   ${s}: first error: ${http[s].firstError}`);
}

if (!ONLY) {
  // 4. New TCP connections accepted per second.
  since = performance.now();
  const CONNECT_SETUPS = ["bare:accept", "kraken:tcp"];
  const connectRounds: Record<string, ConnectLoadResult[]> = {
    "bare:accept": [],
    "kraken:tcp": [],
  };
  for (let round = 0; round < CFG.rounds; round++) {
    for (const setup of CONNECT_SETUPS) {
      try {
        connectRounds[setup][round] = await withServer(setup, (server) => connectLoad(server.port));
      } catch (error) {
        report(`${setup}: ${error instanceof Error ? error.message : error}`);
      }
    }
  }
  const accepted = (setup: string) =>
    median(connectRounds[setup].filter((r) => r).map((r) => r.perSecond));
  const acceptErrors = (setup: string) =>
    connectRounds[setup].filter((r) => r).reduce((n, r) => n + r.errors, 0);
  const acceptRatios = connectRounds["kraken:tcp"].flatMap((k, round) => {
    const b = connectRounds["bare:accept"][round];
    return k && b ? [k.perSecond / b.perSecond] : [];
  });
  console.log(
    `\n4. New TCP connections accepted per second (${CONNECT_CONCURRENCY} connect loops, ` +
      `${CFG.connectMs} ms, median of ${CFG.rounds}) ${took(since)}`,
  );
  const krakenAccept = accepted("kraken:tcp");
  const bareAccept = accepted("bare:accept");
  addSummaryRow({
    figure: "new TCP connections accepted by one container, per s",
    value: rate(krakenAccept),
    target: `>= ${TARGET.acceptPerSecond / 1000}k/s`,
    met: krakenAccept >= TARGET.acceptPerSecond,
    bench: "serve.ts",
  });
  table(["setup", "accepted/s", "errors", "ratio", "target"], [
    [
      "bare accept loop (Deno.listen)",
      rate(bareAccept),
      String(acceptErrors("bare:accept")),
      "-",
      "-",
    ],
    [
      "kraken tcp container (worker)",
      rate(krakenAccept),
      String(acceptErrors("kraken:tcp")),
      `${ratio(median(acceptRatios))}${
        acceptRatios.length > 1
          ? ` (${Math.min(...acceptRatios).toFixed(2)}-${Math.max(...acceptRatios).toFixed(2)})`
          : ""
      }`,
      `>= ${TARGET.acceptPerSecond / 1000}k/s: ${verdict(krakenAccept >= TARGET.acceptPerSecond)}`,
    ],
  ]);
  console.log(
    "   each connection: the client connects, the server accepts and closes, the client closes",
  );

  // 5. Idle WebSocket connections held by one container.
  since = performance.now();
  const limits = openFilesLimits();
  const wsCount = Math.min(CFG.wsCount, limits.hard - FD_SPARE);
  const ws: Record<string, WsFigure | undefined> = {};
  for (const setup of ["bare:ws", "kraken:ws"]) {
    try {
      ws[setup] = await wsHold(setup, wsCount);
    } catch (error) {
      report(`${setup}: ${error instanceof Error ? error.message : error}`);
    }
  }
  console.log(
    `\n5. Idle WebSocket connections held (${wsCount} opened, ${WS_CONCURRENCY} handshakes at ` +
      `once; open-files limit ${limits.hard}, one per connection on each side) ${took(since)}`,
  );
  const wsRow = (label: string, f: WsFigure | undefined, target: boolean) =>
    f
      ? [
        label,
        String(f.open),
        String(f.errors),
        ms(f.ms),
        kb(f.perConnection),
        !target
          ? "-"
          : wsCount < TARGET.ws
          ? `(${TARGET.ws} in a full run)`
          : `>= ${TARGET.ws}: ${verdict(f.open >= TARGET.ws)}`,
      ]
      : [label, "-", "-", "-", "-", "failed"];
  const krakenWs = ws["kraken:ws"];
  if (wsCount >= TARGET.ws) {
    addSummaryRow({
      figure: "idle WebSockets held by one container",
      value: krakenWs ? String(krakenWs.open) : "failed",
      target: `>= ${TARGET.ws}`,
      met: (krakenWs?.open ?? 0) >= TARGET.ws,
      bench: "serve.ts",
    });
  }
  table(["setup", "open", "errors", "to open all", "RSS per connection", "target"], [
    wsRow("bare Deno.serve + upgradeWebSocket", ws["bare:ws"], false),
    wsRow("kraken ws container (worker)", ws["kraken:ws"], true),
  ]);
  if (ws["bare:ws"] && ws["kraken:ws"]) {
    console.log(
      `   RSS per connection kraken/bare: ${
        ratio(ws["kraken:ws"].perConnection / ws["bare:ws"].perConnection)
      }; RSS = the server process and its children, after all opened minus before`,
    );
  }
  if (wsCount < CFG.wsCount) {
    console.log(
      `   (capped at ${wsCount} by the hard open-files limit ${limits.hard}: raise it to ` +
        `${CFG.wsCount + FD_SPARE} or more, ulimit -Hn as root)`,
    );
  }
}

const leftover = childPids();
console.log(
  `\ndone in ${
    ((performance.now() - began) / 1000).toFixed(1)
  } s; leftover subprocesses: ${leftover.length}`,
);
if (problems.length) {
  console.log(`problems (${problems.length}):`);
  for (const p of problems) console.log(`  - ${p}`);
}
