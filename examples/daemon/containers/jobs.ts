// What a job is, shared by the dispatcher, the workers, the producer and the test. Errors cross
// isolates by class name (RemoteError.remoteName): kraken.yaml's on_error rules and the
// dispatcher's retry policy both match on these names.

/** How a job may ask to fail, to show what the supervision does with each. */
export type FailureKind = "throw" | "crash" | "hang";

/** One job: the file `incoming/<id>.json` holds it. */
export interface Job {
  /** The file's name without `.json`: letters, digits, `.`, `_`, `-` (not first). */
  id: string;
  /** What the work hashes. */
  input: string;
  /** SHA-256 rounds over `input` (default 1, at most 100,000): CPU work. */
  rounds?: number;
  /** Milliseconds to wait before the work (default 0, at most 60,000): I/O-like work. */
  ms?: number;
  /** `throw` (the handler throws JobFailed), `crash` (the process exits), `hang` (no answer). */
  fail?: FailureKind;
  /** How many deliveries fail before one succeeds (default: every one fails: a poison job). */
  failures?: number;
}

/** What a worker answers for a job done. */
export interface JobResult {
  /** Hex SHA-256 of `input`, `rounds` times over. */
  digest: string;
  /** The instance that did it, `workers#replica.incarnation`. */
  by: string;
  /** Its process id (what to `kill -9`). */
  pid: number;
}

/** A job that can never succeed as written: set aside at once, never retried. */
export class BadJob extends Error {
  override name = "BadJob";
}

/** The job failed this attempt; another attempt may succeed. */
export class JobFailed extends Error {
  override name = "JobFailed";
}

/** Job ids as file names: no path separators, no leading dot (a producer's temporary files). */
export const JOB_ID = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$/;

const FAILURES: readonly string[] = ["throw", "crash", "hang"];

/** `value` as a Job, or BadJob naming the first field that is not what it should be. */
export function parseJob(value: unknown): Job {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new BadJob(`a job is a JSON object, got ${describe(value)}`);
  }
  const job = value as Record<string, unknown>;
  if (typeof job.id !== "string" || !JOB_ID.test(job.id)) {
    throw new BadJob(`id: expected ${JOB_ID}, got ${describe(job.id)}`);
  }
  if (typeof job.input !== "string" || job.input.length > 65_536) {
    throw new BadJob(
      `input: expected a string of at most 65536 characters, got ${describe(job.input)}`,
    );
  }
  const parsed: Job = { id: job.id, input: job.input };
  if (job.rounds !== undefined) parsed.rounds = whole(job.rounds, "rounds", 1, 100_000);
  if (job.ms !== undefined) parsed.ms = whole(job.ms, "ms", 0, 60_000);
  if (job.fail !== undefined) {
    if (typeof job.fail !== "string" || !FAILURES.includes(job.fail)) {
      throw new BadJob(`fail: expected one of ${FAILURES.join(", ")}, got ${describe(job.fail)}`);
    }
    parsed.fail = job.fail as FailureKind;
  }
  if (job.failures !== undefined) parsed.failures = whole(job.failures, "failures", 0, 1000);
  return parsed;
}

function whole(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new BadJob(
      `${field}: expected a whole number from ${min} to ${max}, got ${describe(value)}`,
    );
  }
  return value;
}

function describe(value: unknown): string {
  return (JSON.stringify(value) ?? String(value)).slice(0, 60);
}
