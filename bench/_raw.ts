// Raw channels the benchmark compares Kraken against, plus /proc helpers for memory figures.
import { FrameDecoder } from "../protocol/framing.ts";
import { decodeMsgpack, MsgpackEncoder } from "../protocol/msgpack.ts";
import { concat } from "./_concat.ts";

/** The body every benchmark request carries (~100 bytes as msgpack). */
export interface Body {
  id: number;
  payload: string;
}

const ignore = () => {};

/**
 * A bare Web Worker echoing each message, driven one postMessage per request; with `batch`, the
 * requests of one turn leave as one array in one postMessage (what Kraken's links do).
 */
export class RawWorker {
  readonly #worker: Worker;
  readonly #pending = new Map<number, (reply: Body) => void>();
  readonly #batch: boolean;
  #queue: Body[] = [];

  constructor(batch = false) {
    this.#batch = batch;
    this.#worker = new Worker(new URL("./raw_echo_worker.ts", import.meta.url), {
      type: "module",
    });
    this.#worker.onmessage = (event: MessageEvent<Body | Body[]>) => {
      const data = event.data;
      if (Array.isArray(data)) { for (const reply of data) this.#settle(reply); }
      else this.#settle(data);
    };
  }

  #settle(reply: Body): void {
    const resolve = this.#pending.get(reply.id);
    this.#pending.delete(reply.id);
    resolve?.(reply);
  }

  #flush = (): void => {
    const batch = this.#queue;
    this.#queue = [];
    this.#worker.postMessage(batch);
  };

  /** Sends `body` and resolves with the echo. */
  request(body: Body): Promise<Body> {
    return new Promise((resolve) => {
      this.#pending.set(body.id, resolve);
      if (!this.#batch) return this.#worker.postMessage(body);
      if (this.#queue.push(body) === 1) queueMicrotask(this.#flush);
    });
  }

  /** Terminates the worker. */
  close(): void {
    this.#worker.terminate();
  }
}

function spawnDeno(script: string, args: string[] = []): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--no-lock", new URL(script, import.meta.url).pathname, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
    env: { NO_COLOR: "1" },
  }).spawn();
}

/**
 * A bare `deno run` subprocess echoing length-prefixed msgpack frames over stdin/stdout, one frame
 * per message and one write per frame; with `batch`, the frames of one turn leave in one write on
 * both sides (what Kraken's stream link does, minus its envelope batch).
 */
export class RawProcess {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #encoder = new MsgpackEncoder();
  readonly #pending = new Map<number, (reply: Body) => void>();
  readonly #reading: Promise<void>;
  readonly #batch: boolean;
  #queue: Uint8Array[] = [];

  constructor(batch = false) {
    this.#batch = batch;
    this.#child = spawnDeno("./raw_echo_process.ts", batch ? ["--batch"] : []);
    this.#writer = this.#child.stdin.getWriter();
    this.#reading = this.#read();
  }

  /** The subprocess's pid. */
  get pid(): number {
    return this.#child.pid;
  }

  async #read(): Promise<void> {
    const decoder = new FrameDecoder();
    try {
      for await (const chunk of this.#child.stdout) {
        for (const frame of decoder.push(chunk)) {
          const reply = decodeMsgpack(frame) as Body;
          const resolve = this.#pending.get(reply.id);
          this.#pending.delete(reply.id);
          resolve?.(reply);
        }
      }
    } catch {
      // the process is gone
    }
  }

  /** Sends `body` as one frame and resolves with the echoed frame. */
  request(body: Body): Promise<Body> {
    return new Promise((resolve) => {
      this.#pending.set(body.id, resolve);
      const frame = this.#encoder.encodeFrame(body);
      if (!this.#batch) return void this.#writer.write(frame).catch(ignore);
      if (this.#queue.push(frame) === 1) queueMicrotask(this.#flush);
    });
  }

  #flush = (): void => {
    const frames = this.#queue;
    this.#queue = [];
    this.#writer.write(concat(frames)).catch(ignore);
  };

  /** Closes stdin (the child then exits), waits for it; kills it if it lingers. */
  async close(): Promise<void> {
    await this.#writer.close().catch(ignore);
    const timer = setTimeout(() => this.#kill(), 2000);
    await this.#child.status;
    clearTimeout(timer);
    await this.#reading;
  }

  #kill(): void {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
}

/** A bare idle `deno run` subprocess: writes one byte once up, then waits on stdin. */
export class IdleProcess {
  readonly #child: Deno.ChildProcess;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  /** Resolves once the subprocess has written its first byte. */
  readonly ready: Promise<void>;

  constructor() {
    this.#child = spawnDeno("./raw_idle_process.ts");
    this.#reader = this.#child.stdout.getReader();
    this.ready = this.#reader.read().then(() => {});
  }

  /** Closes stdin (the child then exits) and waits for it. */
  async close(): Promise<void> {
    await this.#child.stdin.close().catch(ignore);
    const timer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }, 2000);
    await this.#child.status;
    clearTimeout(timer);
    await this.#reader.cancel().catch(ignore);
  }
}

/** Pids of the live direct children of this process (from the ppid field of /proc/<pid>/stat). */
/**
 * CPU time of process `pid` so far, ms: the sum over its threads of the time on a CPU
 * (`/proc/<pid>/task/<tid>/schedstat`, in ns: finer than `stat`'s 10 ms ticks); 0 once it is gone.
 */
export function processCpuMs(pid: number): number {
  let ns = 0;
  try {
    for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(
          Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/schedstat`).split(" ")[0],
        );
      } catch {
        // the thread ended meanwhile
      }
    }
  } catch {
    // the process is gone
  }
  return ns / 1e6;
}

export function childPids(): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so parse after the last ")".
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] !== "Z" && Number(fields[1]) === Deno.pid) pids.push(Number(entry.name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Resident memory of a process in bytes (VmRSS of /proc/<pid>/status), 0 if it is gone. */
export function vmRss(pid: number): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const match = status.match(/^VmRSS:\s+(\d+)\s+kB/m);
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * CPU time (user + system, ms) used so far by this process (all its threads, workers included)
 * and its live direct children, from /proc/<pid>/stat (clock ticks of 10 ms).
 */
export function cpuMs(): number {
  let ticks = 0;
  for (const pid of [Deno.pid, ...childPids()]) {
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      // gone meanwhile
    }
  }
  return ticks * 10;
}
