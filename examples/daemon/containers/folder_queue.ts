// The queue is a folder: one job per file, its state the subfolder it is in. A rename within one
// file system is atomic, so it is the claim (incoming/ -> processing/): of two dispatchers
// renaming the same file, one wins and the other gets NotFound. An outcome is written next to the
// job's final place first and only then is the claim removed, so a kill -9 between the two leaves
// both, and recovery sees the outcome and drops the leftover instead of running the job again.
import { BadJob, type Job, JOB_ID } from "./jobs.ts";

/** The largest job file the dispatcher reads: anyone who can write to incoming/ is a sender. */
export const MAX_JOB_BYTES = 256 * 1024;

/** The subfolders, by state. */
export const STATES = ["incoming", "processing", "done", "failed"] as const;
/** A job's state: the subfolder its file is in. */
export type JobState = typeof STATES[number];

/** What `done/<id>.json` or `failed/<id>.json` holds. */
export interface Outcome {
  job: unknown;
  /** Attempts counted (a replica lost with other jobs in flight is not counted: see gate.ts). */
  attempts: number;
  /** Times the job was sent to a worker, counted or not. */
  deliveries: number;
  /** For done/: what the worker answered. */
  result?: unknown;
  /** For failed/: the last error, by class name. */
  error?: { name: string; message: string };
  /** Every failed delivery's error, in order (for done/: those before the one that succeeded). */
  errors: string[];
  finishedAt: string;
}

/** A line of `journal.log`: every state change the dispatcher made, appended in order. */
export interface JournalLine {
  t: string;
  id: string;
  to: JobState | "dropped";
  attempts?: number;
  by?: string;
}

/** The queue under one root folder. */
export class FolderQueue {
  readonly root: URL;
  constructor(root: URL) {
    this.root = new URL(root.href.endsWith("/") ? root.href : `${root.href}/`);
  }

  /** The file of job `id` in `state`. */
  file(state: JobState, id: string): URL {
    return new URL(`${state}/${id}.json`, this.root);
  }

  /** Makes the subfolders that are missing. */
  async open(): Promise<void> {
    for (const state of STATES) await Deno.mkdir(new URL(state, this.root), { recursive: true });
  }

  /** Ids of the jobs in `state`, oldest file name first (producers name them in order). */
  async list(state: JobState): Promise<string[]> {
    const ids: string[] = [];
    for await (const entry of Deno.readDir(new URL(state, this.root))) {
      // Not only regular files: a FIFO or a link named like a job is claimed too, so that read()
      // refuses it into failed/ with the reason instead of leaving it unexplained in incoming/.
      if (entry.isDirectory || !entry.name.endsWith(".json")) continue;
      const id = entry.name.slice(0, -".json".length);
      if (JOB_ID.test(id)) ids.push(id);
    }
    return ids.sort();
  }

  /** Claims job `id`: true if this call moved it to processing/, false if another did first. */
  async claim(id: string): Promise<boolean> {
    try {
      await Deno.rename(this.file("incoming", id), this.file("processing", id));
      return true;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }
  }

  /**
   * The claimed job's text. BadJob if what was claimed is not a regular file (a FIFO or a link
   * swapped in under the name between list() and claim(): never opened) or holds more than
   * MAX_JOB_BYTES (at most MAX_JOB_BYTES + 1 bytes are read to know it).
   */
  async read(id: string): Promise<string> {
    const path = this.file("processing", id);
    // lstat: the claim moved whatever the name pointed to by then, and a link is not followed.
    const kind = fileKind(await Deno.lstat(path));
    if (kind !== "regular file") {
      throw new BadJob(`the file: expected a regular file, got a ${kind}`);
    }
    using file = await Deno.open(path, { read: true });
    // Checked again on the handle read from: what was opened is what was checked.
    const opened = fileKind(await file.stat());
    if (opened !== "regular file") {
      throw new BadJob(`the file: expected a regular file, got a ${opened}`);
    }
    const buffer = new Uint8Array(MAX_JOB_BYTES + 1);
    let length = 0;
    while (length < buffer.length) {
      const n = await file.read(buffer.subarray(length));
      if (n === null) break;
      length += n;
    }
    if (length > MAX_JOB_BYTES) {
      throw new BadJob(`the file: expected at most ${MAX_JOB_BYTES} bytes, got more`);
    }
    return new TextDecoder().decode(buffer.subarray(0, length));
  }

  /**
   * Ends a claimed job in `state` (done/ or failed/) with `outcome`. False when the claim is no
   * longer there (released meanwhile): then nothing is written.
   */
  async settle(id: string, state: "done" | "failed", outcome: Outcome): Promise<boolean> {
    const claim = this.file("processing", id);
    try {
      await Deno.lstat(claim); // the claim itself, even a dangling link refused by read()
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }
    // Written whole under a dot name, then renamed: a reader never sees half an outcome.
    const temporary = new URL(`${state}/.${id}.json.tmp`, this.root);
    await Deno.writeTextFile(temporary, JSON.stringify(outcome, null, 2) + "\n");
    await Deno.rename(temporary, this.file(state, id));
    await Deno.remove(claim).catch(ignoreNotFound);
    return true;
  }

  /** Puts a claimed job back in incoming/ (a drain, or recovery). False if it was not claimed. */
  async release(id: string): Promise<boolean> {
    try {
      await Deno.rename(this.file("processing", id), this.file("incoming", id));
      return true;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }
  }

  /**
   * Recovery at start: what a killed dispatcher left in processing/ goes back to incoming/, but a
   * job whose outcome was already written is dropped (it ended; only the claim was left).
   */
  async recover(): Promise<{ requeued: string[]; dropped: string[] }> {
    const requeued: string[] = [], dropped: string[] = [];
    for (const id of await this.list("processing")) {
      if (await this.#exists("done", id) || await this.#exists("failed", id)) {
        await Deno.remove(this.file("processing", id)).catch(ignoreNotFound);
        dropped.push(id);
      } else if (await this.release(id)) {
        requeued.push(id);
      }
    }
    return { requeued, dropped };
  }

  /** Appends `line` to journal.log. */
  async journal(line: Omit<JournalLine, "t">): Promise<void> {
    const text = JSON.stringify({ t: new Date().toISOString(), ...line }) + "\n";
    await Deno.writeTextFile(new URL("journal.log", this.root), text, { append: true });
  }

  /** How many jobs are in each state. */
  async counts(): Promise<Record<JobState, number>> {
    const counts = {} as Record<JobState, number>;
    for (const state of STATES) counts[state] = (await this.list(state)).length;
    return counts;
  }

  async #exists(state: JobState, id: string): Promise<boolean> {
    try {
      await Deno.lstat(this.file(state, id));
      return true;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }
  }
}

/**
 * Adds `job` to incoming/ atomically: written under a dot name (which the dispatcher skips), then
 * renamed, so the dispatcher never claims half a file.
 */
export async function enqueue(root: URL, job: Job): Promise<URL> {
  const queue = new FolderQueue(root);
  await Deno.mkdir(new URL("incoming", queue.root), { recursive: true });
  const temporary = new URL(`incoming/.${job.id}.json.tmp`, queue.root);
  await Deno.writeTextFile(temporary, JSON.stringify(job) + "\n");
  const target = queue.file("incoming", job.id);
  await Deno.rename(temporary, target);
  return target;
}

/** What `info` is, in words for a BadJob's message. */
function fileKind(info: Deno.FileInfo): string {
  if (info.isSymlink) return "symbolic link";
  if (info.isFile) return "regular file";
  if (info.isDirectory) return "directory";
  if (info.isFifo) return "FIFO";
  if (info.isSocket) return "socket";
  if (info.isCharDevice || info.isBlockDevice) return "device";
  return "special file";
}

function ignoreNotFound(error: unknown): void {
  if (!(error instanceof Deno.errors.NotFound)) throw error;
}
