// The producer: adds N jobs to the queue folder, as any program could (a file per job, written
// under a dot name and renamed into incoming/). `--mix` makes some of them fail on purpose.
//
//   deno task example:daemon:enqueue 20          # 20 good jobs
//   deno task example:daemon:enqueue 30 --mix    # some throw, crash or hang, once or always
//
// The queue folder is $DAEMON_QUEUE, relative to this folder (as in kraken.yaml); default ./queue.
import { enqueue } from "./containers/folder_queue.ts";
import type { Job } from "./containers/jobs.ts";

/**
 * Job `n` of a batch: with `mix`, every 5th fails — in turn once (then succeeds: a transient
 * error) or always (poison), by throwing, crashing its process or hanging.
 */
export function jobOf(batch: string, n: number, mix: boolean): Job {
  const job: Job = {
    id: `${batch}-${String(n).padStart(4, "0")}`,
    input: `job ${n}`,
    rounds: 2000,
  };
  job.ms = 100 + (n * 37) % 400;
  if (mix && n % 5 === 4) {
    const kind = Math.floor(n / 5) % 6;
    job.fail = (["throw", "crash", "hang"] as const)[kind % 3];
    if (kind < 3) job.failures = 1;
  }
  return job;
}

if (import.meta.main) {
  const args = Deno.args.filter((a) => a !== "--mix");
  const count = Number(args[0] ?? 10);
  if (!Number.isInteger(count) || count < 1 || args.length > 1) {
    console.error("usage: enqueue.ts [COUNT] [--mix]   (COUNT: a whole number ≥ 1, default 10)");
    Deno.exit(2);
  }
  const root = new URL(
    `${Deno.env.get("DAEMON_QUEUE") ?? "./queue"}/`.replace(/\/+$/, "/"),
    new URL("./", import.meta.url),
  );
  const batch = new Date().toISOString().replace(/[-:]/g, "").slice(0, 15);
  for (let n = 0; n < count; n++) {
    const job = jobOf(batch, n, Deno.args.includes("--mix"));
    await enqueue(root, job);
    if (job.fail) console.log(`${job.id}: ${job.fail} ${job.failures ? "once" : "always"}`);
  }
  console.log(`${count} job(s) in ${new URL("incoming/", root).pathname}`);
}
