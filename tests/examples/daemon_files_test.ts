// examples/daemon: what a sender of jobs (anyone who may write to incoming/) can put under a job's
// name besides a regular file. A FIFO or a symbolic link raced in between the dispatcher's listing
// and its claim must end in failed/ with the reason, never be opened or followed.
import assert from "node:assert/strict";
import { BadJob } from "../../examples/daemon/containers/jobs.ts";
import { MAX_JOB_BYTES, type Outcome } from "../../examples/daemon/containers/folder_queue.ts";
import { waitUntil, within } from "../_helpers.ts";
import { enqueue, FolderQueue, startDaemon } from "./_daemon.ts";

async function mkfifo(path: string): Promise<void> {
  const { success } = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert.ok(success, `mkfifo ${path}`);
}

/** Job ids in `dir/state/` now (what waitUntil can check synchronously). */
function names(dir: string, state: string): string[] {
  return [...Deno.readDirSync(`${dir}/${state}`)].map((e) => e.name)
    .filter((name) => name.endsWith(".json") && !name.startsWith("."))
    .map((name) => name.slice(0, -".json".length));
}

async function withDirs(
  fn: (dir: string, queue: FolderQueue, outside: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kraken-daemon-files-" });
  const outside = await Deno.makeTempDir({ prefix: "kraken-daemon-outside-" });
  try {
    const queue = new FolderQueue(new URL(`file://${dir}/`));
    await queue.open();
    await fn(dir, queue, outside);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
}

Deno.test("daemon queue refuses a claimed FIFO as BadJob without opening it (no hang on a FIFO nobody writes)", async () => {
  await withDirs(async (dir, queue) => {
    await mkfifo(`${dir}/processing/job-fifo.json`);
    const error = await within(queue.read("job-fifo"), 5_000, "read() of a FIFO to refuse it")
      .catch((e) => e);
    assert.ok(error instanceof BadJob, String(error));
    assert.match(error.message, /expected a regular file, got a FIFO/);
  });
});

Deno.test("daemon queue refuses a claimed symbolic link as BadJob without reading where it points", async () => {
  await withDirs(async (dir, queue, outside) => {
    await Deno.writeTextFile(
      `${outside}/secret.json`,
      JSON.stringify({ id: "job-link", input: "x" }),
    );
    await Deno.symlink(`${outside}/secret.json`, `${dir}/processing/job-link.json`);
    const error = await queue.read("job-link").catch((e) => e);
    assert.ok(error instanceof BadJob, String(error));
    assert.match(error.message, /expected a regular file, got a symbolic link/);
  });
});

Deno.test("daemon queue reads a job file of exactly MAX_JOB_BYTES and refuses one byte more", async () => {
  await withDirs(async (dir, queue) => {
    await Deno.writeFile(`${dir}/processing/job-max.json`, new Uint8Array(MAX_JOB_BYTES).fill(32));
    assert.equal((await queue.read("job-max")).length, MAX_JOB_BYTES);
    await Deno.writeFile(`${dir}/processing/job-big.json`, new Uint8Array(MAX_JOB_BYTES + 1));
    const error = await queue.read("job-big").catch((e) => e);
    assert.ok(error instanceof BadJob, String(error));
    assert.match(error.message, new RegExp(`expected at most ${MAX_JOB_BYTES} bytes`));
  });
});

Deno.test("daemon sets FIFOs and symbolic links in incoming/ or processing/ aside in failed/ with the reason and keeps doing good jobs", async () => {
  await withDirs(async (dir, queue, outside) => {
    const secret = "the secret outside the queue";
    await Deno.writeTextFile(
      `${outside}/secret.json`,
      JSON.stringify({ id: "job-link-in", input: secret }),
    );
    // Left in processing/ as if claimed before a kill -9: recovery puts them back, then refused.
    await mkfifo(`${dir}/processing/job-fifo-left.json`);
    await Deno.symlink(`${outside}/secret.json`, `${dir}/processing/job-link-left.json`);
    const daemon = await startDaemon(dir);
    try {
      await enqueue(queue.root, { id: "job-good-1", input: "one" });
      await mkfifo(`${dir}/incoming/job-fifo-in.json`);
      await Deno.symlink(`${outside}/secret.json`, `${dir}/incoming/job-link-in.json`);
      await enqueue(queue.root, { id: "job-good-2", input: "two" });
      const refused = ["job-fifo-in", "job-fifo-left", "job-link-in", "job-link-left"];
      const done = ["job-good-1", "job-good-2"];
      await waitUntil(
        () => {
          const failed = names(dir, "failed"), ended = names(dir, "done");
          return refused.every((id) => failed.includes(id)) &&
            done.every((id) => ended.includes(id));
        },
        30_000,
        "the FIFOs and links in failed/ and the good jobs in done/",
      );
      for (const id of refused) {
        const text = await Deno.readTextFile(queue.file("failed", id));
        assert.ok(!text.includes(secret), `${id}: failed/ must not hold what the link points to`);
        const outcome: Outcome = JSON.parse(text);
        assert.equal(outcome.error?.name, "BadJob");
        assert.match(
          outcome.error?.message ?? "",
          id.includes("fifo") ? /got a FIFO/ : /got a symbolic link/,
        );
        assert.equal(outcome.attempts, 0);
      }
      // Still taking jobs after them.
      await enqueue(queue.root, { id: "job-good-3", input: "three" });
      await waitUntil(
        () => names(dir, "done").includes("job-good-3"),
        30_000,
        "a job enqueued after the refused ones to be done",
      );
      assert.deepEqual(await queue.list("processing"), []);
      assert.equal(await daemon.shutdown(30_000), 0);
    } finally {
      await daemon.close();
    }
  });
});
