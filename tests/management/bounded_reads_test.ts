// What the management API reads, it reads with a bound. `POST /v1/apply {"path"}` refuses what is
// not a regular file (a FIFO, /dev/zero, a folder) and what lies under /proc, /sys or /dev
// before opening it and reads at most 1 MiB of
// a topology file: a 32 MiB file costs the runtime no more memory than a small one. Measured on a
// runtime in its own process.
import assert from "node:assert/strict";
import { MAX_TOPOLOGY_BYTES } from "../../config/_limits.ts";
import { Hono } from "hono";
import { LogHistory, MAX_LOG_MESSAGE, streamResponse } from "../../management/_streams.ts";
import { readUntil } from "../_wait.ts";

const TOKEN = "bounded-token";

function rssOf(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

Deno.test("POST /v1/apply {path} refuses a FIFO, /dev/zero, /proc/self/environ, a folder and a 32 MiB file at once, naming the path, with memory bounded", async () => {
  const dir = await Deno.makeTempDir();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--no-lock",
      "--v8-flags=--max-old-space-size=256",
      new URL("../fixtures/management_host.ts", import.meta.url).pathname,
      TOKEN,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const big = `${dir}/big.yaml`;
    // A valid topology made huge by a comment: without a bound, read and parsed whole.
    await Deno.writeTextFile(big, `# ${"x".repeat(32 * 2 ** 20)}\ncontainers: {}\n`);
    const fifo = `${dir}/pipe.yaml`;
    const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    assert.ok(made.success, "mkfifo");
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const out = await readUntil(lines, (t) => t.includes("\n"), 30_000, "the API's URL");
    lines.releaseLock();
    const api = new URL(out.trim());
    const apply = async (path: string) => {
      const response = await fetch(new URL("v1/apply?dry_run=1", api), {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ path }),
        signal: AbortSignal.timeout(5000),
      });
      return { status: response.status, body: await response.json() };
    };
    const before = rssOf(child.pid);
    const cases: [string, string][] = [
      [fifo, `${fifo}: the topology file is a FIFO (named pipe); expected a file`],
      [
        "/dev/zero",
        "/dev/zero: the topology file is under /dev, where the kernel's files and devices are, never a topology; expected a topology file",
      ],
      [dir, `${dir}: the topology file is a folder; expected a file`],
      [
        "/proc/self/environ", // the runtime's environment, secrets included: never read, never echoed
        `/proc/self/environ: the topology file is under /proc (its real path is /proc/${child.pid}/environ), where the kernel's files and devices are, never a topology; expected a topology file`,
      ],
      [
        big,
        `${big}: the topology file is ${
          32 * 2 ** 20 + 18
        } bytes; expected at most ${MAX_TOPOLOGY_BYTES} bytes (1 MiB)`,
      ],
    ];
    for (let round = 0; round < 3; round++) {
      for (const [path, message] of cases) {
        const { status, body } = await apply(path);
        assert.equal(status, 400, JSON.stringify(body));
        assert.equal(body.error.type, "TopologyError");
        assert.equal(body.error.message, message);
      }
    }
    const grown = rssOf(child.pid) - before;
    console.log(
      `RSS before ${(before / 2 ** 20).toFixed(1)} MiB, growth ${(grown / 2 ** 20).toFixed(1)} MiB`,
    );
    assert.ok(grown < 16 * 2 ** 20, `the runtime grew by ${grown} bytes`);
    // A topology that fits is still applied from its path.
    await Deno.writeTextFile(`${dir}/ok.yaml`, "name: bounded\ncontainers: {}\n");
    assert.equal((await apply(`${dir}/ok.yaml`)).status, 200);
  } finally {
    await child.stdin.close().catch(() => {});
    // A runtime stuck reading (a FIFO without a writer, /dev/zero) would never exit by itself.
    const stuck = setTimeout(() => child.kill("SIGKILL"), 5000);
    await child.status;
    clearTimeout(stuck);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the log history keeps at most 16 KiB of each message, so a container's enormous line cannot fill memory", () => {
  const history = new LogHistory(1000);
  const seen: string[] = [];
  history.listen((line) => seen.push(line.message));
  for (let i = 0; i < 3; i++) {
    history.add({
      time: 0,
      level: "info",
      source: "api#0.1",
      container: "api",
      message: "x".repeat(4 * 2 ** 20),
    });
  }
  const kept = history.recent("api", 10);
  assert.equal(kept.length, 3);
  for (const message of [...kept.map((l) => l.message), ...seen]) {
    assert.equal(
      message,
      `${"x".repeat(MAX_LOG_MESSAGE)}… (${4 * 2 ** 20 - MAX_LOG_MESSAGE} more characters)`,
    );
  }
});

Deno.test("an event or log stream whose client does not read is cut off at 1 MiB queued", async () => {
  for (const format of ["ndjson", "sse"] as const) {
    let push: (type: string, data: Record<string, unknown>) => void = () => {};
    let stopped = false;
    const app = new Hono();
    app.get("/", (c) =>
      streamResponse(c, {
        format,
        heartbeat: 0,
        subscribe(feed) {
          push = feed;
          return () => (stopped = true);
        },
      }));
    const response = await app.request("/");
    let pushed = 0;
    while (!stopped && pushed < 1000) {
      push("log", { message: "x".repeat(10_000) }); // as log lines arrive
      pushed++;
    }
    assert.ok(stopped, `${format}: the slow client was cut off`);
    assert.ok(
      pushed <= 110,
      `${format}: ${pushed} events of 10 kB were queued for a client that reads nothing`,
    );
    await response.body!.cancel();
  }
});
