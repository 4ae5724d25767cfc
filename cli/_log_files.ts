/**
 * The log files of a detached runtime (`kraken start --detach`): `runtime.log` for the runtime's
 * own lines (and anything `kraken start` prints), `<container>.log` for each container's, each
 * rotated by size: past `maxBytes` the file becomes `<name>.log.1`, the older ones move up one,
 * and only `keep` rotated files are kept (`<name>.log.<keep>` is the oldest).
 *
 * @module
 */
import { printable } from "../runtime/_printable.ts";
import type { LogEntry } from "../runtime/runtime.ts";

/** Defaults of `--log-max-size` and `--log-files`. */
export const LOG_DEFAULTS: Readonly<{ maxBytes: number; keep: number }> = Object.freeze({
  maxBytes: 10 * 2 ** 20,
  keep: 5,
});

/**
 * One log file rotated by size. Lines are written synchronously (a detached runtime's log must
 * not lose its last lines when it dies), and rotation happens before a line that would take the
 * file past its size, so no file grows past it (a single line longer than it is cut).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RotatingFile } from "./_log_files.ts";
 * const dir = await Deno.makeTempDir();
 * const log = new RotatingFile(`${dir}/a.log`, { maxBytes: 1024, keep: 2 });
 * for (let i = 0; i < 100; i++) log.write(`line ${i} ${"x".repeat(40)}`);
 * log.close();
 * assert.ok(Deno.statSync(`${dir}/a.log`).size <= 1024);
 * assert.ok(Deno.statSync(`${dir}/a.log.2`).isFile);
 * assert.throws(() => Deno.statSync(`${dir}/a.log.3`)); // only two rotated files are kept
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class RotatingFile {
  readonly path: string;
  readonly #maxBytes: number;
  readonly #keep: number;
  #file: Deno.FsFile | null = null;
  #size = 0;
  readonly #encoder = new TextEncoder();

  constructor(path: string, options: { maxBytes: number; keep: number }) {
    this.path = path;
    this.#maxBytes = options.maxBytes;
    this.#keep = options.keep;
  }

  /** Appends one line (a newline is added). */
  write(line: string): void {
    let bytes = this.#encoder.encode(`${line}\n`);
    if (bytes.length > this.#maxBytes) bytes = bytes.subarray(0, this.#maxBytes);
    const file = this.#open();
    if (this.#size > 0 && this.#size + bytes.length > this.#maxBytes) {
      this.#rotate();
      return this.write(line);
    }
    let written = 0;
    while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
    this.#size += bytes.length;
  }

  /** Closes the file (a later write opens it again). */
  close(): void {
    this.#file?.close();
    this.#file = null;
  }

  #open(): Deno.FsFile {
    if (this.#file) return this.#file;
    this.#file = Deno.openSync(this.path, { append: true, create: true, mode: 0o600 });
    this.#size = this.#file.statSync().size;
    return this.#file;
  }

  #rotate(): void {
    this.close();
    try {
      Deno.removeSync(`${this.path}.${this.#keep}`);
    } catch {
      // none that old yet
    }
    for (let n = this.#keep - 1; n >= 1; n--) {
      try {
        Deno.renameSync(`${this.path}.${n}`, `${this.path}.${n + 1}`);
      } catch {
        // not there yet
      }
    }
    Deno.renameSync(this.path, `${this.path}.1`);
  }
}

/** A container name as a file name: only names the validator allows, else the runtime's file. */
const CONTAINER = /^([A-Za-z][A-Za-z0-9_-]{0,99})#\d+\.\d+$/;

/**
 * The files of one detached runtime, by source: a line from instance `api#0.1` goes to `api.log`,
 * anything else (the runtime, a supervisor, what `kraken start` prints) to `runtime.log`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LogFiles } from "./_log_files.ts";
 * const dir = await Deno.makeTempDir();
 * const files = new LogFiles(dir, { maxBytes: 1 << 20, keep: 3 });
 * files.log({ level: "info", message: "hello", source: "api#0.1" });
 * files.log({ level: "warn", message: "started", source: "runtime" });
 * files.close();
 * assert.match(await Deno.readTextFile(`${dir}/api.log`), / INFO  \[api#0\.1\] hello\n$/);
 * assert.match(await Deno.readTextFile(`${dir}/runtime.log`), / WARN  \[runtime\] started\n$/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class LogFiles {
  readonly dir: string;
  readonly #options: { maxBytes: number; keep: number };
  readonly #files = new Map<string, RotatingFile>();

  constructor(dir: string, options: { maxBytes: number; keep: number }) {
    this.dir = dir;
    this.#options = options;
  }

  /** Writes one log entry to its file. */
  log(entry: LogEntry, time = Date.now()): void {
    const container = CONTAINER.exec(entry.source)?.[1];
    // Message and source come from container code: written as shown, never as control bytes.
    this.#file(container ?? "runtime").write(
      `${new Date(time).toISOString()} ${entry.level.toUpperCase().padEnd(5)} [${
        printable(entry.source)
      }] ${printable(entry.message)}`,
    );
  }

  /** Writes a line of `kraken start`'s own output to `runtime.log`. */
  line(text: string): void {
    this.#file("runtime").write(text);
  }

  /** Closes every file. */
  close(): void {
    for (const file of this.#files.values()) file.close();
  }

  #file(name: string): RotatingFile {
    let file = this.#files.get(name);
    if (!file) {
      this.#files.set(name, file = new RotatingFile(`${this.dir}/${name}.log`, this.#options));
    }
    return file;
  }
}
