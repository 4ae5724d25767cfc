// A client that holds connections until the serving process runs out of file descriptors must not
// leave the port deaf once it lets go, nor flood the log meanwhile (attack finding: the accept loop
// ended on EMFILE, or spun logging it).
import assert from "node:assert/strict";

const HOST = new URL("./fixtures/fd_host.ts", import.meta.url).pathname;
const LIMIT = 200;

async function underLowLimit(
  mode: string,
  protocol: "http" | "tcp",
  attack: (port: number) => Promise<void>,
) {
  const deno = Deno.execPath();
  const child = new Deno.Command("bash", {
    args: [
      "-c",
      `ulimit -n ${LIMIT} && exec "$0" run -A --no-prompt --no-check --unstable-net --unstable-worker-options "$1" "$2" "$3"`,
      deno,
      HOST,
      mode,
      protocol,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const killer = setTimeout(() => child.kill("SIGKILL"), 40_000);
  const stderr = new Response(child.stderr).text();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stdin = child.stdin.getWriter();
  try {
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) break;
      text += value;
    }
    const { port } = JSON.parse(text.split("\n")[0]);
    await attack(port).catch(async (error) => {
      try {
        child.kill("SIGKILL");
      } catch {
        // gone already
      }
      throw new Error(`${error.message}\nhost stderr:\n${await stderr}`);
    });
  } finally {
    await stdin.write(new TextEncoder().encode("stop\n")).catch(() => {});
    await stdin.close().catch(() => {});
    lines.releaseLock();
    await child.stdout.cancel().catch(() => {});
    await child.status;
    clearTimeout(killer);
  }
  return await stderr;
}

/** Opens `n` connections (as many as the server lets it), holds them, then closes them all. */
async function flood(port: number, n: number): Promise<void> {
  // Settled first: Deno 2.9.6 itself panics when a lazy start-up step (its CA store) meets EMFILE.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const conns: Deno.Conn[] = [];
  for (let i = 0; i < n; i++) {
    try {
      conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    } catch {
      break;
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 500)); // the server meets EMFILE meanwhile
  for (const conn of conns) conn.close();
  await new Promise((resolve) => setTimeout(resolve, 100));
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

for (const mode of ["worker", "process"]) {
  Deno.test(`[${mode}] a TCP serving container accepts again after a client exhausted its file descriptors, and logs the failed accepts at most once a second`, async () => {
    const stderr = await underLowLimit(mode, "tcp", async (port) => {
      await flood(port, LIMIT * 2);
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        const reader = conn.readable.pipeThrough(new TextDecoderStream()).getReader();
        const greeting = await within(reader.read(), 5000, "the greeting after the flood");
        assert.match(greeting.value ?? "", /^api#0\.1\n/);
        reader.releaseLock();
      } finally {
        conn.close();
      }
    });
    const accepts = stderr.split("\n").filter((line) => /accept threw/.test(line));
    assert.ok(accepts.length <= 5, `${accepts.length} accept lines:\n${accepts.join("\n")}`);
  });

  Deno.test(`[${mode}] an HTTP serving container answers again after a client exhausted its file descriptors`, async () => {
    await underLowLimit(mode, "http", async (port) => {
      await flood(port, LIMIT * 2);
      const response = await within(
        fetch(`http://127.0.0.1:${port}/after`),
        5000,
        "a request after the flood",
      );
      assert.deepEqual(await response.json(), { instance: "api#0.1", path: "/after" });
    });
  });
}
