// A topology is read with a bound wherever it is read: a regular file only, at most
// MAX_TOPOLOGY_BYTES, over http(s) too (where the size may be unknown until the body is read),
// and the CLI's own read of kraken.yaml (for the management address) never hangs on a FIFO.
import assert from "node:assert/strict";
import { MAX_TOPOLOGY_BYTES } from "../../config/_limits.ts";
import { loadTopology, readTopologyText } from "../../config/load.ts";
import { readManagementBlock } from "../../cli/connection.ts";
import { kraken } from "../cli/_cli.ts";

/** `promise`, or a rejection after `ms` (a read that never ends must fail the test, not hang it). */
async function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still reading after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("a topology file of exactly 1 MiB is read; one byte more is refused naming the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const body = "containers: {}\n";
    const pad = (n: number) => `#${"x".repeat(n - body.length - 2)}\n${body}`;
    await Deno.writeTextFile(`${dir}/fits.yaml`, pad(MAX_TOPOLOGY_BYTES));
    await Deno.writeTextFile(`${dir}/over.yaml`, pad(MAX_TOPOLOGY_BYTES + 1));
    assert.deepEqual((await loadTopology(`${dir}/fits.yaml`)).containers, []);
    await assert.rejects(
      loadTopology(`${dir}/over.yaml`),
      (e: Error) =>
        e.name === "TopologyError" &&
        e.message ===
          `${dir}/over.yaml: the topology file is ${
            MAX_TOPOLOGY_BYTES + 1
          } bytes; expected at most ${MAX_TOPOLOGY_BYTES} bytes (1 MiB)`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a topology over http is read only up to the bound, with or without a content-length", async () => {
  let served = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    if (new URL(request.url).pathname === "/small.yaml") return new Response("containers: {}\n");
    // 64 MiB of "#" in chunks, with no content-length: a reader without a bound takes it all.
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (served >= 64 * 2 ** 20) return controller.close();
        served += 65536;
        controller.enqueue(new Uint8Array(65536).fill(0x23));
      },
    });
    return new Response(body);
  });
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    assert.equal(await readTopologyText(`${base}/small.yaml`), "containers: {}\n");
    await assert.rejects(
      loadTopology(`${base}/chunked.yaml`),
      (e: Error) =>
        e.message ===
          `${base}/chunked.yaml: the topology file is over ${MAX_TOPOLOGY_BYTES} bytes; expected at most ${MAX_TOPOLOGY_BYTES} bytes (1 MiB)`,
    );
    assert.ok(served < 16 * MAX_TOPOLOGY_BYTES, `the server was made to send ${served} bytes`);
  } finally {
    await server.shutdown();
  }
});

Deno.test("kraken check and the CLI's read of the management block refuse a FIFO and /dev/zero at once", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const fifo = `${dir}/kraken.yaml`;
    assert.ok((await new Deno.Command("mkfifo", { args: [fifo] }).output()).success);
    assert.equal(await within(5000, readManagementBlock(fifo)), null);
    assert.equal(await within(5000, readManagementBlock("/dev/zero")), null);
    const fromFifo = await kraken(["check", fifo], { signal: AbortSignal.timeout(10_000) });
    assert.equal(fromFifo.code, 2);
    assert.match(
      fromFifo.stderr,
      /kraken\.yaml: the topology file is a FIFO \(named pipe\); expected a file/,
    );
    const fromZero = await kraken(["check", "/dev/zero"], {
      signal: AbortSignal.timeout(10_000),
    });
    assert.equal(fromZero.code, 2);
    assert.match(
      fromZero.stderr,
      /\/dev\/zero: the topology file is under \/dev, where the kernel/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a topology read refuses what lies under /proc, /sys or /dev by its real path (a symbolic link too), before opening it, and echoes nothing of it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.symlink("/proc/self/environ", `${dir}/kraken.yaml`);
    const cases: [string, string][] = [
      ["/proc/self/environ", "/proc"],
      [`${dir}/kraken.yaml`, "/proc"],
      ["/sys/kernel/mm/transparent_hugepage/enabled", "/sys"],
      ["/dev/null", "/dev"],
    ];
    for (const [path, root] of cases) {
      const error = await within(5000, readTopologyText(path)).then(() => null, (e) => e);
      assert.equal(error?.name, "TopologyError", path);
      assert.match(
        error.message,
        new RegExp(
          `^${path}: the topology file is under ${root}( \\(its real path is \\S+\\))?, where the kernel's files and devices are, never a topology; expected a topology file$`,
        ),
      );
      assert.ok(!error.message.includes(Deno.env.get("PATH")!), "nothing of the file is quoted");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a file that is no topology is refused without being quoted: a NUL or control character by position, bytes that are not UTF-8, a whole document that is one string by its length", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const secret = "hunter2-do-not-echo";
    await Deno.writeTextFile(`${dir}/environ`, `PATH=/bin\0TOKEN=${secret}\0`);
    await assert.rejects(loadTopology(`${dir}/environ`), {
      name: "TopologyError",
      message:
        `${dir}/environ:1:10: the topology file holds the control character U+0000, which YAML text never does; expected a YAML file`,
    });
    await Deno.writeFile(`${dir}/key.bin`, new Uint8Array([0x68, 0x69, 0xff, 0xfe, 0x0a]));
    await assert.rejects(loadTopology(`${dir}/key.bin`), {
      name: "TopologyError",
      message: `${dir}/key.bin: the topology file is not UTF-8 text; expected a YAML file`,
    });
    await Deno.writeTextFile(`${dir}/.env`, `TOKEN=${secret}\nOTHER=1\n`);
    const error = await loadTopology(`${dir}/.env`).then(() => null, (e) => e);
    assert.match(error.message, /got a string of 33 characters$/);
    assert.ok(!error.message.includes(secret));
    // A value at a known key is quoted, but only so far: enough to spot a typo, not a file.
    await Deno.writeTextFile(
      `${dir}/long.yaml`,
      `containers:\n  api:\n    module: ./api.ts\n    mode: ${"w".repeat(100)}\n`,
    );
    await assert.rejects(loadTopology(`${dir}/long.yaml`), {
      message: new RegExp(`got "${"w".repeat(40)}…" \\(100 characters\\)$`),
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
