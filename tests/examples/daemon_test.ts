// examples/daemon end to end, as a user runs it: a real `kraken start` of its kraken.yaml (three
// worker processes, the dispatcher in a Web Worker), its queue in a temporary folder, jobs written
// as files the way the producer writes them, and a kill -9 and shutdowns from outside.
import assert from "node:assert/strict";
import type { Outcome } from "../../examples/daemon/containers/folder_queue.ts";
import { connect } from "@nats-io/transport-node";
import { waitUntil } from "../_helpers.ts";
import { NatsServer, natsTest } from "../nats/_nats_server.ts";
import {
  count,
  type Daemon,
  enqueue,
  FolderQueue,
  gone,
  type Job,
  look,
  startDaemon,
} from "./_daemon.ts";

/** A temporary queue folder, removed after `fn` (and the daemons it started) ended. */
async function withQueue(fn: (dir: string, queue: FolderQueue) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kraken-daemon-" });
  try {
    await fn(dir, new FolderQueue(new URL(`file://${dir}/`)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** What `done/` or `failed/` holds for `id`. */
async function outcome(queue: FolderQueue, state: "done" | "failed", id: string): Promise<Outcome> {
  return JSON.parse(await Deno.readTextFile(queue.file(state, id)));
}

function good(n: number): Job {
  return {
    id: `job-${String(n).padStart(3, "0")}`,
    input: `job ${n}`,
    rounds: 500,
    ms: 50 + (n * 37) % 200,
  };
}

Deno.test("daemon does every good job once, sets poison jobs aside with their reason, and loses nothing to a kill -9 of a worker", async () => {
  await withQueue(async (dir, queue) => {
    const daemon = await startDaemon(dir);
    try {
      // 50 jobs: 40 good, 4 that fail once (then succeed) and 6 poison ones.
      const jobs: Job[] = [];
      for (let n = 0; n < 40; n++) jobs.push(good(n));
      const once: Job[] = [
        { ...good(40), fail: "throw", failures: 1 },
        { ...good(41), fail: "throw", failures: 1 },
        { ...good(42), fail: "crash", failures: 1 },
        { ...good(43), fail: "hang", failures: 1 },
      ];
      const poison = new Map<string, { job: Job | null; error: string; attempts: number }>([
        ["job-044", { job: { ...good(44), fail: "throw" }, error: "JobFailed", attempts: 3 }],
        ["job-045", { job: { ...good(45), fail: "throw" }, error: "JobFailed", attempts: 3 }],
        ["job-046", {
          job: { ...good(46), fail: "crash" },
          error: "UnavailableError",
          attempts: 3,
        }],
        ["job-047", { job: { ...good(47), fail: "hang" }, error: "TimeoutError", attempts: 3 }],
        ["job-048", { job: { ...good(48), rounds: -1 }, error: "BadJob", attempts: 0 }],
        ["job-049", { job: null, error: "BadJob", attempts: 0 }],
      ]);
      // Spread out, so failures meet good jobs in flight on the same worker.
      const all = [...jobs, ...once];
      for (const [id, p] of poison) {
        if (p.job) all.splice((Number(id.slice(4)) * 7) % all.length, 0, p.job);
      }
      for (const job of all) await enqueue(queue.root, job);
      await Deno.writeTextFile(queue.file("incoming", "job-049"), "{ not json");

      // kill -9 of a worker process once some jobs are done: its jobs in flight are retried.
      await waitUntil(
        () => count(dir, "done") >= 8,
        30_000,
        "8 jobs done",
      );
      const [victim] = await daemon.workerPids();
      Deno.kill(victim, "SIGKILL");

      await waitUntil(
        () =>
          count(dir, "done") +
              count(dir, "failed") >= 50,
        90_000,
        "all 50 jobs to end in done/ or failed/",
      );
      const seen = await look(queue);
      const goodIds = [...jobs, ...once].map((j) => j.id).sort();
      assert.deepEqual(seen.done, goodIds, "every good job is done");
      assert.deepEqual(seen.failed, [...poison.keys()].sort(), "only the poison jobs failed");
      assert.deepEqual([...seen.incoming, ...seen.processing], []);
      // Once: one `done` in the journal per job, and no job both done and failed.
      for (const id of goodIds) {
        const ends = seen.journal.filter((l) =>
          l.id === id && (l.to === "done" || l.to === "failed")
        );
        assert.deepEqual(ends.map((l) => l.to), ["done"], `${id} ended once, done`);
      }
      for (const job of once) {
        const done = await outcome(queue, "done", job.id);
        // Sent again after its failure (and maybe once more, had the kill -9 met it).
        assert.ok(
          done.deliveries >= 2,
          `${job.id} (${job.fail} once): ${done.deliveries} deliveries`,
        );
        const first =
          { throw: "JobFailed", crash: "UnavailableError", hang: "TimeoutError" }[job.fail!];
        assert.ok(done.errors.some((e) => e.includes(first)), `${job.id}: ${done.errors}`);
      }
      for (const [id, expected] of poison) {
        const failed = await outcome(queue, "failed", id);
        assert.equal(failed.error?.name, expected.error, `${id}: ${failed.error?.message}`);
        assert.equal(failed.attempts, expected.attempts, `${id} attempts`);
        assert.ok(failed.error!.message.length > 0);
      }
      assert.match(
        (await outcome(queue, "failed", "job-048")).error!.message,
        /rounds: expected a whole number/,
      );
      assert.match((await outcome(queue, "failed", "job-049")).error!.message, /not JSON/);

      // The killed worker and the crashed ones came back: three replicas, none of them the victim.
      let pids = await daemon.workerPids();
      for (const end = Date.now() + 10_000; pids.length < 3 && Date.now() < end;) {
        await new Promise((resolve) => setTimeout(resolve, 100)); // the last one may be restarting
        pids = await daemon.workerPids();
      }
      assert.equal(pids.length, 3);
      assert.ok(!pids.includes(victim), "the killed worker was replaced");
      const workers = (await daemon.containers()).find((c) => c.name === "workers")!;
      assert.ok(workers.restarts >= 3, `${workers.restarts} restarts (a kill, and crashes)`);

      assert.equal(await daemon.shutdown(30_000), 0);
      await gone(daemon.seen, 10_000);
    } finally {
      await daemon.close();
    }
  });
});

Deno.test("daemon drains on Ctrl-C (jobs in progress finish, nothing new is claimed) and puts back what a kill -9 left in processing/", async () => {
  await withQueue(async (dir, queue) => {
    const jobs: Job[] = [];
    for (let n = 0; n < 40; n++) jobs.push({ ...good(n), ms: 500 });
    for (const job of jobs) await enqueue(queue.root, job);
    const ids = jobs.map((j) => j.id);
    const doneCount = () => count(dir, "done");
    let daemon: Daemon | undefined;
    try {
      // 1. Ctrl-C mid-run: every job claimed ends in done/, the rest stays in incoming/.
      daemon = await startDaemon(dir);
      await waitUntil(() => doneCount() >= 3, 30_000, "3 jobs done");
      assert.equal(await daemon.interrupt(30_000), 0);
      await daemon.close();
      await gone(daemon.seen, 10_000);
      let seen = await look(queue);
      assert.deepEqual(seen.processing, [], "nothing left claimed");
      assert.deepEqual(
        [...seen.done, ...seen.incoming].sort(),
        ids,
        "each job done or still queued",
      );
      assert.ok(seen.incoming.length > 0, "shut down mid-run");
      const claimed = seen.journal.filter((l) => l.to === "processing").map((l) => l.id).sort();
      assert.deepEqual(claimed, seen.done, "every job it claimed finished (none was put back)");
      assert.match(daemon.output(), /draining: \d+ job\(s\) in progress/);

      // 2. kill -9 of the whole daemon mid-run: its claims stay in processing/.
      daemon = await startDaemon(dir);
      const before = doneCount();
      await waitUntil(() => doneCount() >= before + 3, 30_000, "3 more jobs done");
      daemon.process.kill("SIGKILL");
      await daemon.close();
      await gone(daemon.seen, 10_000); // its workers exit when their link to it closes
      seen = await look(queue);
      assert.ok(seen.processing.length > 0, "kill -9 left claimed jobs behind");
      const left = seen.processing;
      // A kill -9 between writing a job's outcome and removing its claim leaves both: made here
      // for sure with a job done in step 1 (the kill above may or may not have made one).
      const ended = seen.done.find((id) => !left.includes(id))!;
      const job = jobs.find((j) => j.id === ended)!;
      await Deno.writeTextFile(queue.file("processing", ended), JSON.stringify(job));
      const mark = seen.journal.length;

      // 3. The next start puts the claims back, drops the one whose job had ended, and every job
      // ends done, each once.
      daemon = await startDaemon(dir);
      await waitUntil(() => doneCount() >= 40, 60_000, "all 40 jobs done");
      seen = await look(queue);
      assert.deepEqual(seen.done, ids);
      assert.deepEqual([...seen.incoming, ...seen.processing, ...seen.failed], []);
      const since = seen.journal.slice(mark);
      for (const id of left) {
        const recovered = since.find((l) => l.id === id)?.to;
        // "dropped": the kill came after its outcome was written (it is in done/, run once).
        assert.ok(recovered === "incoming" || recovered === "dropped", `${id}: ${recovered}`);
      }
      assert.deepEqual(since.filter((l) => l.id === ended).map((l) => l.to), ["dropped"]);
      for (const id of ids) {
        const dones = seen.journal.filter((l) => l.id === id && l.to === "done").length;
        assert.ok(dones <= 1, `${id} done ${dones} times`);
      }
      assert.match(
        daemon.output(),
        /recovery: \d+ job\(s\) left in processing\/ put back in incoming\/, [1-9]\d* already ended/,
      );
      assert.equal(await daemon.shutdown(30_000), 0);
      await gone(daemon.seen, 10_000);
    } finally {
      await daemon?.close();
    }
  });
});

natsTest(
  "daemon takes jobs sent on a NATS subject into its queue, answering once each is written, and does them",
  async () => {
    await withQueue(async (dir, queue) => {
      const server = await NatsServer.start();
      let daemon: Daemon | undefined;
      const nc = await connect({ servers: server.url });
      try {
        daemon = await startDaemon(dir, {
          address: `127.0.0.1:${server.port}`,
          subject: "daemon.jobs",
        });
        const ask = async (body: string) => {
          const msg = await nc.request("daemon.jobs", new TextEncoder().encode(body), {
            timeout: 5000,
          });
          return JSON.parse(new TextDecoder().decode(msg.data));
        };
        const ids: string[] = [];
        for (let n = 0; n < 10; n++) {
          const job = good(n);
          assert.deepEqual(await ask(JSON.stringify(job)), { queued: `incoming/${job.id}.json` });
          ids.push(job.id);
        }
        const refused = await ask(JSON.stringify({ id: "../escape", input: "x" }));
        assert.equal(refused.error, "BadJob");
        assert.match(refused.message, /^id: expected/);
        assert.equal((await ask("{ not json")).error, "BadJob");
        await waitUntil(() => count(dir, "done") >= 10, 30_000, "the 10 jobs from NATS done");
        const seen = await look(queue);
        assert.deepEqual(seen.done, ids);
        assert.deepEqual([...seen.failed, ...seen.incoming, ...seen.processing], []);
        assert.equal(await daemon.shutdown(30_000), 0);
      } finally {
        await nc.close();
        await daemon?.close();
        await server.kill();
      }
    });
  },
);
