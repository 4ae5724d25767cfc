// A worker: one replica of the `workers` pool, each its own Deno process with no permission at
// all. It does the job's work (SHA-256 rounds over the input, after an optional wait) and answers
// the digest, or fails the way the job asks, so that the supervision has something to do:
// `throw` -> JobFailed, which kraken.yaml's on_error resumes (the job failed, not the worker);
// `crash` -> the process exits, and its supervisor starts a new one;
// `hang`  -> no answer until the replica stops; the dispatcher's timeout cuts the attempt.
import { container } from "../../../container.ts";
import { BadJob, JobFailed, type JobResult, parseJob } from "./jobs.ts";

export default container((ctx) => ({
  /** Runs delivery `attempt` (1 for the first) of `job`. */
  async run(body: { job: unknown; attempt: number }): Promise<JobResult> {
    const job = parseJob(body?.job);
    const attempt = body.attempt;
    if (!Number.isInteger(attempt) || attempt < 1) {
      throw new BadJob(`attempt: expected a whole number ≥ 1, got ${JSON.stringify(attempt)}`);
    }
    if (job.fail && attempt <= (job.failures ?? Infinity)) {
      switch (job.fail) {
        case "throw":
          throw new JobFailed(`job ${job.id} failed on purpose (attempt ${attempt})`);
        case "crash":
          ctx.log.warn(`job ${job.id} crashes this process (pid ${Deno.pid}) on purpose`);
          // Like a segfault or an out-of-memory kill: no error, no answer, the process is gone.
          Deno.exit(70);
          break;
        case "hang":
          await stopped(ctx.signal);
          throw new JobFailed(`job ${job.id} hung until ${ctx.instance} stopped`);
      }
    }
    // Not cut short when the replica stops: a graceful stop lets a job in progress finish.
    if (job.ms) await new Promise((resolve) => setTimeout(resolve, job.ms));
    return { digest: await digest(job.input, job.rounds ?? 1), by: ctx.instance, pid: Deno.pid };
  },
}));

async function digest(input: string, rounds: number): Promise<string> {
  let bytes: Uint8Array<ArrayBuffer> = new TextEncoder().encode(input);
  for (let i = 0; i < rounds; i++) {
    bytes = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  }
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Resolves when `signal` aborts: a hang that still lets its replica stop on time. */
function stopped(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
}
