// The dispatcher: claims jobs from the queue folder and hands each to the `workers` pool (process
// replicas) by request with a timeout, retrying what kraken.yaml's `retry:` names, setting aside
// what fails `attempts` times or cannot succeed at all (BadJob). One replica owns the folder: at
// start it puts back what a killed predecessor left in processing/ (recovery), and on stop it
// claims nothing new, lets attempts in flight finish and puts back every job it did not end.
import { container, RemoteError } from "../../../container.ts";
import { enqueue, FolderQueue, type Outcome } from "./folder_queue.ts";
import { Gate } from "./gate.ts";
import { BadJob, type Job, type JobResult, parseJob } from "./jobs.ts";
import { type Intake, type IntakeSettings, startIntake } from "./nats_intake.ts";
import type workers from "./worker.ts";

/** The dispatcher's `config:` block, with its defaults. */
export interface DispatcherSettings {
  /** The queue's root folder, relative to the topology's folder (as `permissions:` are). */
  queue: string;
  /** Jobs claimed at once. */
  concurrency: number;
  /** How often incoming/ is read when nothing else wakes the dispatcher. */
  poll_ms: number;
  /** How long one attempt may take: a hung job is cut here. */
  timeout_ms: number;
  /** Attempts before a job is set aside in failed/. */
  attempts: number;
  /** Wait before the second attempt; doubles for each next one. */
  backoff_ms: number;
  /** On stop, how long attempts in flight may run before their jobs are put back anyway. */
  drain_ms: number;
  /** Error names worth another attempt; anything else sets the job aside at once. */
  retry: string[];
  /** Jobs from a NATS subject too (see nats_intake.ts); null or an empty subject: files only. */
  nats: IntakeSettings | null;
}

const DEFAULTS: Omit<DispatcherSettings, "queue" | "nats"> = {
  concurrency: 6,
  poll_ms: 250,
  timeout_ms: 2000,
  attempts: 3,
  backoff_ms: 200,
  drain_ms: 4000,
  retry: ["JobFailed", "TimeoutError", "UnavailableError"],
};

/** What `stats` answers. */
export interface DispatcherStats {
  instance: string;
  draining: boolean;
  claimed: number;
  inFlight: number;
  isolating: boolean;
  counts: Record<"done" | "failed" | "retried" | "released" | "recovered", number>;
}

export default container(async (ctx) => {
  const settings = settingsOf(ctx.config);
  // Relative to the topology's folder, which is this module's parent's (containers/..).
  const queue = new FolderQueue(new URL(settings.queue, new URL("../", import.meta.url)));
  await queue.open();
  const pool = ctx.ref<typeof workers>("workers");
  const gate = new Gate();
  const claimed = new Map<string, Promise<void>>();
  const counts = { done: 0, failed: 0, retried: 0, released: 0, recovered: 0 };

  const { requeued, dropped } = await queue.recover();
  counts.recovered = requeued.length;
  for (const id of requeued) await queue.journal({ id, to: "incoming" });
  for (const id of dropped) await queue.journal({ id, to: "dropped" });
  if (requeued.length + dropped.length > 0) {
    ctx.log.warn(
      `recovery: ${requeued.length} job(s) left in processing/ put back in incoming/, ${dropped.length} already ended`,
    );
  }

  /** Claims what fits, oldest first. Never runs twice at once, and never while stopping. */
  let polling = false;
  async function poll(): Promise<void> {
    if (polling || ctx.signal.aborted) return;
    polling = true;
    try {
      for (const id of await queue.list("incoming")) {
        if (ctx.signal.aborted || gate.isolating || claimed.size >= settings.concurrency) break;
        if (claimed.has(id) || !(await queue.claim(id))) continue;
        const work = handle(id).catch((error) =>
          ctx.log.error(`job ${id}: ${error instanceof Error ? error.stack : error}`)
        ).finally(() => {
          claimed.delete(id);
          if (!ctx.signal.aborted) queueMicrotask(poll);
        });
        claimed.set(id, work);
      }
    } finally {
      polling = false;
    }
  }

  /** One claimed job, from its first attempt to its outcome (or back to incoming/ on stop). */
  async function handle(id: string): Promise<void> {
    await queue.journal({ id, to: "processing" });
    let job: Job;
    try {
      job = parseJob(JSON.parse(await queue.read(id)));
      if (job.id !== id) {
        throw new BadJob(`id: expected "${id}" (the file's name), got "${job.id}"`);
      }
    } catch (error) {
      const why = error instanceof SyntaxError ? new BadJob(`not JSON: ${error.message}`) : error;
      return end(id, "failed", {
        job: null,
        attempts: 0,
        deliveries: 0,
        error: named(why),
        errors: [],
      });
    }
    const errors: string[] = [];
    let attempts = 0;
    let deliveries = 0; // what the worker is told: counted attempts and suspects' retries alike
    let suspect = false;
    while (true) {
      if (attempts > 0 || suspect) {
        await pause(settings.backoff_ms * 2 ** Math.max(attempts - 1, 0));
      }
      const alone = suspect;
      // A job claimed before the stop is in progress: its first attempt goes even while draining.
      // Only retries stop with the dispatcher (the job goes back to incoming/).
      const until = deliveries === 0 ? NEVER : ctx.signal;
      if (!(await gate.enter(alone, until))) return release(id, attempts);
      let result: JobResult;
      try {
        result = await pool.request("run", { job, attempt: ++deliveries }, {
          timeout: settings.timeout_ms,
        });
      } catch (error) {
        const { name, message } = named(error);
        // A lost replica met side by side may be a neighbour's crash: try the job alone first.
        if (name === "UnavailableError" && !alone) {
          suspect = true;
          counts.retried++;
          errors.push(`${name} (not counted: replica lost with other jobs in flight): ${message}`);
          ctx.log.info(`job ${id}: its worker was lost with other jobs in flight; trying it alone`);
          continue;
        }
        attempts++;
        errors.push(`attempt ${attempts}: ${name}: ${message}`);
        if (!settings.retry.includes(name) || attempts >= settings.attempts) {
          return end(id, "failed", { job, attempts, deliveries, error: { name, message }, errors });
        }
        if (ctx.signal.aborted) return release(id, attempts);
        counts.retried++;
        ctx.log.info(`job ${id}: attempt ${attempts} failed (${name}), retrying`);
        continue;
      } finally {
        gate.leave(alone);
      }
      return end(id, "done", { job, attempts: attempts + 1, deliveries, result, errors });
    }
  }

  async function end(id: string, state: "done" | "failed", outcome: Omit<Outcome, "finishedAt">) {
    if (!(await queue.settle(id, state, { ...outcome, finishedAt: new Date().toISOString() }))) {
      return; // put back by a drain that could not wait any longer: incoming/ has it again
    }
    counts[state]++;
    const by = (outcome.result as JobResult | undefined)?.by;
    await queue.journal({ id, to: state, attempts: outcome.attempts, ...(by ? { by } : {}) });
    if (state === "failed") {
      ctx.log.warn(
        `job ${id} set aside in failed/: ${outcome.error?.name}: ${outcome.error?.message}`,
      );
    }
  }

  async function release(id: string, attempts: number): Promise<void> {
    if (!(await queue.release(id))) return;
    counts.released++;
    await queue.journal({ id, to: "incoming", attempts });
  }

  /** Waits `ms`, or less when the instance starts stopping (the job is then put back). */
  function pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const cancel = ctx.setTimeout(done, ms);
      function done() {
        cancel();
        ctx.signal.removeEventListener("abort", done);
        resolve();
      }
      ctx.signal.addEventListener("abort", done, { once: true });
    });
  }

  let intake: Intake | null = null;
  if (settings.nats) {
    intake = await startIntake(settings.nats, queue.root, () => ctx.setTimeout(poll, 0));
    ctx.log.info(`taking jobs from NATS subject "${settings.nats.subject}" too`);
  }

  // Graceful drain: ctx.signal is aborted first (no claim, no new attempt, no retry), then this
  // waits for the attempts in flight — their jobs end in done/ or failed/, or go back — and puts
  // back what is still claimed after drain_ms (a reply arriving later finds no claim to settle).
  ctx.onStop(async () => {
    await intake?.close(); // what it took is in incoming/ for the next start
    const pending = [...claimed.values()];
    if (pending.length > 0) ctx.log.info(`draining: ${pending.length} job(s) in progress`);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => timer = setTimeout(resolve, settings.drain_ms));
    await Promise.race([Promise.allSettled(pending), late]);
    clearTimeout(timer);
    for (const id of claimed.keys()) await release(id, 0);
    ctx.log.info(
      `drained: done ${counts.done}, failed ${counts.failed}, put back ${counts.released}`,
    );
  });

  ctx.setInterval(poll, settings.poll_ms);
  ctx.setTimeout(poll, 0); // as soon as it runs

  return {
    /** Counts since this incarnation started, and what is in progress. */
    stats(): DispatcherStats {
      return {
        instance: ctx.instance,
        draining: ctx.signal.aborted,
        claimed: claimed.size,
        inFlight: gate.inFlight,
        isolating: gate.isolating,
        counts: { ...counts },
      };
    },
    /** Adds a job to incoming/ (`kraken call dispatcher enqueue '{"id":"a1","input":"hi"}'`). */
    async enqueue(body: unknown): Promise<{ id: string; queued: string }> {
      const job = parseJob(body);
      await enqueue(queue.root, job);
      queueMicrotask(poll);
      return { id: job.id, queued: `incoming/${job.id}.json` };
    },
  };
});

/** A signal that never aborts. */
const NEVER = new AbortController().signal;

/** An error's class name (the remote one for a RemoteError) and message. */
function named(error: unknown): { name: string; message: string } {
  if (error instanceof RemoteError) {
    return { name: error.remoteName, message: error.message.replace(/^.*?: /, "") };
  }
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: "Error", message: String(error) };
}

/** The `config:` block, checked: a bad value names its key, the value and what was expected. */
function settingsOf(config: Readonly<Record<string, unknown>>): DispatcherSettings {
  if (typeof config.queue !== "string" || config.queue === "") {
    throw new TypeError(
      `config.queue: expected the queue folder (a path), got ${JSON.stringify(config.queue)}`,
    );
  }
  const settings: DispatcherSettings = {
    ...DEFAULTS,
    queue: config.queue,
    nats: natsOf(config.nats),
  };
  for (const key of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) {
    const value = config[key];
    if (value === undefined) continue;
    if (key === "retry") {
      if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
        throw new TypeError(
          `config.retry: expected a list of error names, got ${JSON.stringify(value)}`,
        );
      }
      settings.retry = value;
    } else if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      throw new TypeError(`config.${key}: expected a number ≥ 0, got ${JSON.stringify(value)}`);
    } else {
      settings[key] = value;
    }
  }
  if (settings.concurrency < 1 || settings.attempts < 1) {
    throw new TypeError(
      `config.concurrency and config.attempts: expected at least 1, got ${settings.concurrency} and ${settings.attempts}`,
    );
  }
  return settings;
}

/** The `nats:` block: null when absent or its subject is empty (a `${VAR}` left blank). */
function natsOf(value: unknown): IntakeSettings | null {
  if (value === undefined || value === null) return null;
  const nats = value as Record<string, unknown>;
  if (typeof value !== "object" || typeof nats.address !== "string" || !nats.address) {
    throw new TypeError(
      `config.nats: expected { address: host:port, subject }, got ${JSON.stringify(value)}`,
    );
  }
  if (nats.subject === undefined || nats.subject === null || nats.subject === "") return null;
  if (typeof nats.subject !== "string" || !/^[A-Za-z0-9_.-]+$/.test(nats.subject)) {
    throw new TypeError(
      `config.nats.subject: expected a NATS subject (letters, digits, "_", "-", "."), got ${
        JSON.stringify(nats.subject)
      }`,
    );
  }
  return { address: nats.address, subject: nats.subject };
}
