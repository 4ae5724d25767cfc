/**
 * The host side of each mode: how an instance is started, watched, stopped and killed inline, in
 * a Web Worker, or in a Deno subprocess. One small interface, {@linkcode InstanceHandle}, three
 * implementations; everything else in the runtime is mode-blind.
 *
 * @module
 */
import type { ContainerSpec } from "../config/topology.ts";
import { type Permissions, toProcessFlags, toWorkerPermissions } from "../config/permissions.ts";
import { toUnstableFlags, type UnstableFeature } from "../config/_unstable.ts";
import type { Envelope, ExitReason, InitSettings, LogLevel } from "../protocol/envelope.ts";
import { errorToWire, RemoteError, TopologyError } from "../protocol/errors.ts";
import { PortLink } from "../transports/port_link.ts";
import { StreamLink } from "../transports/stream_link.ts";
import { openProcessLink } from "./_process_link.ts";
import { processEnv } from "./_process_env.ts";
import { hostResolutionFlags } from "./_host_config.ts";
import { assertCanRunProcess, assertWithinHost } from "../config/_grant.ts";
import type { Link } from "../transports/link.ts";
import type { SupervisedInstance } from "../supervisor/instance.ts";
import { type ChildManager, ContainerInstance } from "./_instance.ts";
import { settlesWithin } from "./_timing.ts";
import { within } from "../protocol/routes.ts";
import { declaredNames, sanitizeExitReason } from "./_trust.ts";
import { assertNoPrompt, assertUnstableHere, assertWorkerOptions } from "./_host_flags.ts";
import { installSource } from "./_guard.ts";
import type { Node } from "./_node.ts";
import {
  emptyFigures,
  type FigureSet,
  type FigureSource,
  metricsBook,
  readFigureSet,
} from "./_metrics.ts";

/** What a mode needs to launch one instance. */
export interface Launch {
  /** The container. */
  spec: ContainerSpec;
  /** Instance id. */
  instance: string;
  /** Node id for a worker or process (the hub's id for inline). */
  node: string;
  /** The hub. */
  hub: Node;
  /** Lowest log level forwarded. */
  logLevel: LogLevel | "silent";
  /** Log sink for output the instance prints outside its logger (process stderr). */
  log: (level: LogLevel, message: string, instance: string) => void;
  /** The container's definition, when already loaded in this isolate (inline). */
  definition?: unknown;
  /** What `ctx.spawn`/`ctx.stop` act on, for an inline instance. */
  manager?: ChildManager;
  /** Extra files a process may read: the sources of workers nested in it. */
  reads?: string[];
  /** Folder URL relative modules of `ctx.spawn` resolve against. */
  baseUrl?: string;
  /** Names its predecessors spawned, which it may spawn again (see `InitSettings.owned`). */
  owned?: string[];
}

/** A running (or starting) instance, seen from the host: what its supervisor needs, and more. */
export interface InstanceHandle extends SupervisedInstance, FigureSource {
  /** The node the instance lives in. */
  readonly node: string;
  /** Its instance id, `name#replica.incarnation`. */
  readonly instance: string;
  /** Its container's name. */
  readonly container: string;
  /** Set by the runtime; called exactly once, when the instance has ended. */
  onExit: (reason: ExitReason) => void;
  /** Starts it; resolves when it takes messages; rejects when it could not start. */
  start(): Promise<void>;
  /**
   * Graceful stop within `shutdown:`, then kill (or, with `gracefulOnly`, no kill); resolves once
   * it is gone with `true`, or with `false` when it would not stop gracefully.
   */
  stop(reason: ExitReason, gracefulOnly?: boolean): Promise<boolean>;
  /** Ends it now. */
  kill(reason: ExitReason): void;
  /** Settles once the instance is gone for good: isolate ended, pipes closed, cleanup over. */
  readonly gone: Promise<void>;
  /** The OS process id of a process instance while it lives (`undefined` in other modes). */
  readonly pid?: number;
  /** Heartbeat: sends a ping; returns ms since the last sign of life (0 for inline). */
  heartbeat(now: number): number;
  /** Handles a control envelope from its node. */
  control(env: Envelope): void;
  /** Set by the supervisor: routes, tree and events its node reports about its own children. */
  onReport: (env: Envelope) => void;
  /**
   * Its figures by container: an inline instance's own, read directly; a worker's or process's
   * from its last pong (at most one heartbeat old), its children's included.
   */
  figures(): FigureSet | null;
  // What only some modes can do is a capability, so nothing above the modes asks for a mode.
  /** Fails it because the supervisor of its children, in this isolate, gave up (inline). */
  escalated?(error: Error): void;
  /** Whether it takes messages (worker, process). */
  readonly ready?: boolean;
  /** Its link, which takes direct ports to other nodes (worker). */
  readonly portLink?: PortLink | null;
  /** `kill()` may leave its thread running (a worker spinning in a busy loop). */
  readonly outlivesKill?: boolean;
}

/**
 * Makes the handle for a launch, by mode. Its figures count in the book of the launching node
 * until it is gone, then join that container's totals there.
 */
export function createHandle(launch: Launch, routes: () => InitSettings["routes"]): InstanceHandle {
  let handle: InstanceHandle;
  switch (launch.spec.mode) {
    case "inline":
      handle = new InlineHandle(launch);
      break;
    case "worker":
      handle = new WorkerHandle(launch, routes);
      break;
    case "process":
      handle = new ProcessHandle(launch, routes);
      break;
    default:
      throw new TopologyError(`mode "${launch.spec.mode}" cannot run here`, {
        key: `containers.${launch.spec.name}.mode`,
      });
  }
  const book = metricsBook(launch.hub);
  book.track(handle);
  handle.gone.then(() => book.retire(handle));
  return handle;
}

/** Why an instance could not start: its module (TopologyError) or its factory (RemoteError). */
function startError(spec: ContainerSpec, reason: ExitReason, detail: string): Error {
  const wire = reason.error;
  if (wire && wire.kind === "remote" && wire.name !== "TopologyError") {
    return new RemoteError({ ...wire, container: spec.name });
  }
  return moduleError(spec, `${wire?.message ?? reason.message}${detail ? `\n${detail}` : ""}`);
}

function moduleError(spec: ContainerSpec, detail: string): TopologyError {
  return new TopologyError(`module ${spec.module} could not be started: ${detail}`, {
    key: `containers.${spec.name}.module`,
  });
}

// ---- inline ------------------------------------------------------------------------------------

/** An instance inside the host isolate: no sandbox, no copy of the runtime, no startup cost. */
export class InlineHandle implements InstanceHandle {
  readonly node: string;
  readonly instance: string;
  readonly container: string;
  onExit: (reason: ExitReason) => void = () => {};
  onReport: (env: Envelope) => void = () => {};
  readonly #launch: Launch;
  readonly #instance: ContainerInstance;
  #exited = false;
  readonly gone: Promise<void>;
  #markStopped!: () => void;

  constructor(launch: Launch) {
    this.#launch = launch;
    this.node = launch.hub.id;
    this.instance = launch.instance;
    this.container = launch.spec.name;
    // Cleanup is bounded by the shutdown timeout inside the instance, so this always settles.
    this.gone = new Promise((resolve) => (this.#markStopped = resolve));
    this.#instance = new ContainerInstance(launch.hub, {
      name: launch.spec.name,
      instance: launch.instance,
      config: launch.spec.config,
      shutdown: launch.spec.shutdown,
      logLevel: launch.logLevel,
      onError: launch.spec.onError,
    }, {
      exit: (reason) => this.#exit(reason),
      stopped: () => this.#markStopped(),
    }, launch.manager ?? null);
  }

  /** Whether it takes messages. */
  get running(): boolean {
    return this.#instance.state === "running";
  }

  /** Whether an error's stack points into this container's module. */
  owns(stack: string): boolean {
    return stack.includes(this.#launch.spec.module);
  }

  /** Fails the instance (an unhandled rejection traced to its module). */
  fail(error: unknown): void {
    this.#instance.fail(error);
  }

  /** Fails the instance because the supervisor of its children gave up. */
  escalated(error: Error): void {
    this.#instance.escalated(error);
  }

  async start(): Promise<void> {
    // Until the instance starts, a failure means nothing ran: the rejection reports it, and the
    // handle is gone at once (a start that waits for it to be gone must not hang).
    const notStarted = (error: unknown): never => {
      this.#exited = true;
      this.#markStopped();
      throw error;
    };
    try {
      assertUnstableHere(this.#launch.spec);
    } catch (error) {
      notStarted(error);
    }
    let mod: { default?: unknown } = { default: this.#launch.definition };
    if (this.#launch.definition === undefined) {
      try {
        mod = await import(this.#launch.spec.module);
      } catch (error) {
        notStarted(moduleError(this.#launch.spec, (error as Error).message));
      }
    }
    try {
      await this.#instance.start(mod.default, this.#launch.spec.module);
    } catch (error) {
      this.#exited = true; // a failed start is reported by the rejection, not as an exit
      this.#markStopped();
      const wire = errorToWire(error, this.#launch.spec.name);
      throw startError(
        this.#launch.spec,
        { kind: "error", message: wire.message, error: wire },
        "",
      );
    }
  }

  async stop(reason: ExitReason): Promise<boolean> {
    this.#instance.end(reason);
    await this.gone;
    return true;
  }

  kill(reason: ExitReason): void {
    // Inline code cannot be killed: stop routing to it and let its cleanup run on its own.
    this.#instance.end(reason);
  }

  heartbeat(): number {
    return 0;
  }

  figures(): FigureSet {
    return { [this.#launch.spec.name]: this.#instance.metrics.figures() };
  }

  control(): void {}

  #exit(reason: ExitReason): void {
    if (this.#exited) return;
    this.#exited = true;
    this.onExit(reason);
  }
}

// ---- shared by worker and process --------------------------------------------------------------

/** Startup, control and stop logic common to instances in another isolate. */
abstract class IsolateHandle implements InstanceHandle {
  readonly node: string;
  readonly instance: string;
  readonly container: string;
  onExit: (reason: ExitReason) => void = () => {};
  onReport: (env: Envelope) => void = () => {};
  protected readonly launch: Launch;
  protected link: Link | null = null;
  readonly #routes: () => InitSettings["routes"];
  #lastSeen = performance.now();
  /** The figures of its last pong (or exit, or stopped report). */
  #figures: FigureSet | null = null;
  #ready = false;
  #exited = false;
  #startWaiter: { resolve: () => void; reject: (error: Error) => void } | null = null;
  readonly gone: Promise<void>;
  #markGone!: () => void;
  #stoppedAck: (() => void) | null = null;

  constructor(launch: Launch, routes: () => InitSettings["routes"]) {
    this.launch = launch;
    this.node = launch.node;
    this.instance = launch.instance;
    this.container = launch.spec.name;
    this.#routes = routes;
    this.gone = new Promise((resolve) => (this.#markGone = resolve));
  }

  /** Creates the isolate and its link; the link is attached to the hub by the caller. */
  protected abstract spawn(entry: string): Link;
  /** Ends the isolate now. */
  protected abstract destroy(): void;
  /** Extra detail for a failed start (e.g. the process's stderr). */
  protected startDetail(): string {
    return "";
  }

  start(): Promise<void> {
    const { spec } = this.launch;
    const entryUrl = new URL(
      this.launch.spec.mode === "worker" ? "./_worker_entry.ts" : "./_process_entry.ts",
      import.meta.url,
    ).href;
    const worker = this.launch.spec.mode === "worker";
    const boot = worker ? "bootWorker" : "bootProcess";
    // Modules that will run in this isolate: the container and its inline descendants.
    const modules = [spec.module, ...inlineModules(spec.children)];
    // The guard goes first: sibling imports are evaluated in order, so it is in place before any
    // of the container's code runs (see _guard.ts). A worker's modules are imported only once its
    // guard is complete (its install module awaits it): what a static import reaches is resolved
    // before any code runs, and the guard decides what a worker's imports of node:process
    // resolve to. A literal import() is in the worker's module graph from the start, so it needs
    // no `read` grant, as a static import does not; a computed one would.
    // What the host posts meanwhile is kept by the guard and handed over once the worker listens.
    const guardUrl = new URL("./_guard.ts", import.meta.url).href;
    const source = `import ${JSON.stringify(guardEntry(spec))};\n` +
      `import { ${boot} } from ${JSON.stringify(entryUrl)};\n` +
      (worker ? `import { releaseMessages } from ${JSON.stringify(guardUrl)};\n` : "") +
      modules.map((m, i) =>
        worker
          ? `const m${i} = await import(${JSON.stringify(m)});\n`
          : `import * as m${i} from ${JSON.stringify(m)};\n`
      ).join("") +
      `${boot}(m0.default, ${JSON.stringify(spec.module)}, {${
        modules.map((m, i) => `${JSON.stringify(m)}: m${i}.default`).join(", ")
      }});\n` + (worker ? "releaseMessages();\n" : "");
    const entry = `data:application/javascript;base64,${btoa(source)}`;
    return new Promise<void>((resolve, reject) => {
      this.#startWaiter = { resolve, reject };
      try {
        this.link = this.spawn(entry);
      } catch (error) {
        // Nothing was started (e.g. the Worker constructor refused its options): nothing to wait
        // for either — a shutdown waiting for this handle to be gone must not hang.
        this.#startWaiter = null;
        this.#exited = true;
        this.released();
        return reject(error);
      }
      this.launch.hub.attach(this.node, this.link);
      this.link.closed.then((closed) => {
        // A broken link (e.g. garbage on a process's stdout) ends the instance; a plain end of
        // stream is the process exiting, which its exit status reports with the real reason.
        if (closed.kind === "error") {
          this.kill({ kind: "crashed", message: `link broken: ${closed.error?.message}` });
        }
      });
      const settings: InitSettings = {
        node: this.node,
        name: spec.name,
        instance: this.launch.instance,
        config: spec.config,
        shutdown: spec.shutdown,
        logLevel: this.launch.logLevel,
        routes: this.#routes(),
        spec,
        baseUrl: this.launch.baseUrl,
        reads: this.launch.reads,
        ...(this.launch.owned?.length ? { owned: this.launch.owned } : {}),
      };
      this.link.send({ k: "init", s: settings });
    });
  }

  control(env: Envelope): void {
    this.#lastSeen = performance.now();
    switch (env.k) {
      case "ready":
        this.#ready = true;
        this.#startWaiter?.resolve();
        this.#startWaiter = null;
        return;
      case "exit":
        this.#figures = this.#ownFigures(env) ?? this.#figures;
        // Its own word on why it ended: kept to a well-formed reason, and an `escalate` verdict
        // only when its own `on_error` rules have one (see `_trust.ts`).
        return this.#reportExit(sanitizeExitReason(env.reason, this.launch.spec.onError));
      case "stopped":
        this.#figures = this.#ownFigures(env) ?? this.#figures;
        this.#stoppedAck?.();
        if (!this.#ready) this.destroy();
        return;
      case "pong":
        this.#figures = this.#ownFigures(env) ?? this.#figures;
        return;
      case "subroutes":
      case "subtree":
      case "event":
        return this.onReport(env);
    }
  }

  /**
   * The figures an envelope from its isolate carries, for the containers it may speak for: its
   * own and those below it (declared children, or ones routed to its node or below).
   */
  #ownFigures(env: Envelope): FigureSet | null {
    const set = readFigureSet(env);
    if (!set) return null;
    const declared = declaredNames(this.launch.spec.children);
    const routes = this.launch.hub.routes;
    for (const name of Object.keys(set)) {
      if (name === this.container || declared.has(name)) continue;
      const entry = routes[name];
      const below = (i: { n: string }) => within(i.n, this.node);
      if (entry && (entry.instances.some(below) || entry.x?.some(below))) continue;
      delete set[name];
    }
    return set;
  }

  /** Whether it has started and takes messages. */
  get ready(): boolean {
    return this.#ready && !this.#exited;
  }

  heartbeat(now: number): number {
    if (this.#ready && !this.#exited) this.link?.send({ k: "ping" });
    return this.#ready ? now - this.#lastSeen : 0;
  }

  figures(): FigureSet | null {
    return this.#figures;
  }

  async stop(reason: ExitReason, gracefulOnly = false): Promise<boolean> {
    if (this.#exited && !this.link) {
      await this.gone;
      return true;
    }
    const acked = new Promise<void>((resolve) => (this.#stoppedAck = resolve));
    this.link?.send({ k: "stop" });
    // Its onStop hooks are bounded by `shutdown:` inside; the margin covers the trip back.
    const stopped = await settlesWithin(
      Promise.race([acked, this.gone]),
      this.launch.spec.shutdown + (gracefulOnly ? 1000 : 0),
    );
    if (!stopped && gracefulOnly) return false;
    this.kill(reason);
    await this.gone;
    return true;
  }

  kill(reason: ExitReason): void {
    this.ended(reason);
    this.destroy();
  }

  /** The instance is over (or declared over): report once, stop routing over its link. */
  protected ended(reason: ExitReason): void {
    this.#reportExit(reason);
    if (this.link) {
      this.launch.hub.detach(this.node);
      this.link = null;
    }
  }

  /** The isolate and everything it held are released: called by the subclass. */
  protected released(): void {
    this.#markGone();
  }

  #reportExit(reason: ExitReason): void {
    if (this.#exited) return;
    this.#exited = true;
    if (this.#startWaiter) {
      // It never became ready: the start fails with the reason instead of an exit being reported.
      const waiter = this.#startWaiter;
      this.#startWaiter = null;
      let detail = this.startDetail();
      if (!this.launch.hub.isHub && /Requires read access/.test(reason.message + detail)) {
        detail += `${
          detail ? "\n" : ""
        }hint: a worker nested in another container loads its modules with that container's permissions; grant the parent read access to the module's folder`;
      }
      waiter.reject(startError(this.launch.spec, reason, detail));
      this.destroy();
      return;
    }
    this.onExit(reason);
  }
}

/** A `data:` module that installs the container guard of `spec`'s isolate (see `_guard.ts`). */
function guardEntry(spec: ContainerSpec): string {
  const guard = new URL("./_guard.ts", import.meta.url).href;
  const options = { container: spec.name, mode: spec.mode, unstable: spec.unstable };
  const source = installSource(guard, JSON.stringify(options), spec.mode === "worker");
  return `data:application/javascript,${encodeURIComponent(source)}`;
}

/** Modules of the inline descendants of a container (they run in its isolate). */
function inlineModules(children: readonly ContainerSpec[]): string[] {
  const out: string[] = [];
  for (const child of children) {
    if (child.mode !== "inline") continue;
    if (!out.includes(child.module)) out.push(child.module);
    for (const m of inlineModules(child.children)) if (!out.includes(m)) out.push(m);
  }
  return out;
}

// ---- worker ------------------------------------------------------------------------------------

/** An instance in a Web Worker with `deno.permissions` exactly its grant (a soft sandbox). */
export class WorkerHandle extends IsolateHandle {
  #worker: Worker | null = null;
  readonly outlivesKill = true;

  /** The worker's link, for direct channels to other workers. */
  get portLink(): PortLink | null {
    return this.link as PortLink | null;
  }

  protected spawn(entry: string): Link {
    // It shares this process: its prompt setting (decided where the runtime starts) and its flags.
    if (this.launch.hub.isHub) {
      assertNoPrompt(this.launch.spec);
      assertWorkerOptions(this.launch.spec);
    }
    assertUnstableHere(this.launch.spec);
    const worker = new Worker(entry, {
      type: "module",
      name: this.launch.instance,
      deno: {
        permissions: toWorkerPermissions(
          withReads(this.launch.spec.permissions, this.launch.reads),
        ),
      },
    });
    this.#worker = worker;
    worker.onerror = (event) => {
      // Without preventDefault an uncaught worker error would kill the host too.
      event.preventDefault();
      this.kill({ kind: "crashed", message: `uncaught error in worker: ${event.message}` });
    };
    return new PortLink(worker);
  }

  protected destroy(): void {
    this.#worker?.terminate();
    this.#worker = null;
    this.released();
  }
}

/** A grant plus read access to extra files (the sources of nested workers). */
function withReads(grant: Permissions, reads: string[] | undefined): Permissions {
  if (!reads || reads.length === 0 || grant.read === true) return grant;
  return { ...grant, read: [...new Set([...(grant.read ?? []), ...reads])] };
}

// ---- process -----------------------------------------------------------------------------------

/** Runtimes (by hub) already told that their process containers link over stdin/stdout. */
const toldStdio = new WeakSet<Node>();

/**
 * Unstable features that change how modules resolve or load: a process container gets the host's
 * (as a worker shares them), whatever its own `unstable:` list says. Not `raw-imports`: bytes
 * imports load data, which a container gets only when its own list asks for it.
 */
const LOADING_FEATURES = new Set([
  "bare-node-builtins",
  "byonm",
  "detect-cjs",
  "lazy-dynamic-imports",
  "lockfile-v5",
  "node-globals",
  "npm-lazy-caching",
  "sloppy-imports",
  "unsafe-proto",
]);

/**
 * A process container's resolution and unstable flags: the host's resolution flags (config,
 * import map, lock, …) and loading features, `worker-options`, and the features it lists; an API
 * feature of the host's (`net`, `kv`, `raw-imports`, …) only when it lists it too.
 */
export function processFlags(unstable: readonly UnstableFeature[]): string[] {
  const host = hostResolutionFlags().filter((flag) => {
    if (!flag.startsWith("--unstable-")) return true;
    return LOADING_FEATURES.has(flag.slice("--unstable-".length).split("=")[0]);
  });
  const own = toUnstableFlags([...new Set(["worker-options" as const, ...unstable])]);
  return [...new Set([...host, ...own])];
}

/** Longest line kept from a process's stdout or stderr; longer output is cut into such lines. */
const MAX_OUTPUT_LINE = 16 * 1024;

/** An instance in a Deno subprocess run with exactly its grant's `--allow-*` flags (a hard sandbox). */
class ProcessHandle extends IsolateHandle {
  #child: Deno.ChildProcess | null = null;
  readonly #stderrTail: string[] = [];

  /** Its OS process id while the process lives. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  protected spawn(entry: string): Link {
    const { spec, hub } = this.launch;
    // Refused before anything starts, on every path (start, spawn, scale, restart, placement):
    // Deno checks a Worker's grant against its host, but nothing checks a subprocess's flags.
    assertCanRunProcess(spec.name);
    assertWithinHost(spec.name, spec.permissions);
    // The host's link to the process: a unix socket it connects back to, else stdin/stdout.
    const { socket, fallback } = openProcessLink();
    if (fallback && !toldStdio.has(hub)) {
      toldStdio.add(hub);
      this.launch.log(
        "info",
        `process containers link over stdin/stdout, not the faster unix socket: ${fallback}; ` +
          `KRAKEN_PROCESS_LINK=stdio chooses stdio without this note`,
        "runtime",
      );
    }
    const grant = withReads(spec.permissions, this.launch.reads);
    const command = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        // Resolved as the host resolves, as a worker would be (see _host_config.ts); the unstable
        // features are the container's own (`unstable:`), plus those that change how the host
        // loads modules.
        ...processFlags(this.launch.spec.unstable),
        ...toProcessFlags(socket ? socket.grant(grant) : grant),
        entry,
        ...(socket?.args ?? []),
      ],
      stdin: socket ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
      // Not the host's environment (its secrets): Deno's settings and what the grant names.
      env: processEnv(grant.env),
      clearEnv: true,
    });
    let child: Deno.ChildProcess;
    try {
      child = command.spawn();
    } catch (error) {
      socket?.abandon();
      throw error;
    }
    this.#child = child;
    // Over a socket, stdout is free: whatever the container prints there is logged too.
    const outputDone = Promise.all([
      this.#pumpLines(child.stderr),
      socket ? this.#pumpLines(child.stdout) : Promise.resolve(),
    ]);
    const link = socket ? socket.link : new StreamLink(child.stdout, child.stdin);
    socket?.connected.catch((error: Error) => {
      this.kill({ kind: "crashed", message: error.message });
    });
    child.status.then(async (status) => {
      socket?.abandon();
      // Let the last words on stderr arrive: they explain a failed start.
      await settlesWithin(outputDone, 200);
      this.#child = null;
      this.ended(
        status.signal
          ? { kind: "killed", message: `process killed by ${status.signal}` }
          : status.code === 0
          ? { kind: "normal", message: "process exited with code 0" }
          : { kind: "crashed", message: `process exited with code ${status.code}` },
      );
      await outputDone;
      link.close();
      await link.closed;
      this.released();
    });
    return link;
  }

  protected destroy(): void {
    try {
      this.#child?.kill("SIGKILL");
    } catch {
      // already gone
    }
  }

  protected override startDetail(): string {
    return this.#stderrTail.join("\n");
  }

  /** Its last pong's figures, with the process's resident memory read now (even before one). */
  override figures(): FigureSet | null {
    const name = this.launch.spec.name;
    const set = super.figures();
    const pid = this.#child?.pid;
    if (pid === undefined) return set;
    const own = set?.[name] ?? emptyFigures();
    return { ...set, [name]: { ...own, m: residentBytes(pid) } };
  }

  async #pumpLines(stream: ReadableStream<Uint8Array>): Promise<void> {
    let rest = "";
    try {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        const lines = (rest + chunk).split("\n");
        rest = lines.pop() ?? "";
        for (const line of lines) this.#line(line);
        // Output that never ends a line must not grow the host without bound: it is cut into
        // lines of at most MAX_OUTPUT_LINE characters.
        while (rest.length > MAX_OUTPUT_LINE) {
          this.#line(rest.slice(0, MAX_OUTPUT_LINE));
          rest = rest.slice(MAX_OUTPUT_LINE);
        }
      }
    } catch {
      // the process is gone
    }
    if (rest) this.#line(rest);
  }

  #line(line: string): void {
    this.#stderrTail.push(line);
    if (this.#stderrTail.length > 20) this.#stderrTail.shift();
    this.launch.log("info", line, this.launch.instance);
  }
}

/**
 * VmRSS of process `pid` in bytes, from `/proc/<pid>/status` (Linux); `null` elsewhere, without
 * read access to `/proc`, or once the process is gone.
 */
function residentBytes(pid: number): number | null {
  if (Deno.build.os !== "linux") return null;
  const path = `/proc/${pid}/status`;
  // Asked first: reading without the permission would prompt on a terminal, every heartbeat.
  if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") return null;
  try {
    const status = Deno.readTextFileSync(path);
    const kb = /^VmRSS:\s*(\d+)\s*kB/m.exec(status);
    return kb ? Number(kb[1]) * 1024 : null;
  } catch {
    return null;
  }
}
