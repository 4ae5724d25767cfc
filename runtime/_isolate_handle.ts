/**
 * What a worker's and a process's handles share: the entry module an isolate starts from (the
 * guard, then the container), the `init` handshake, control envelopes, heartbeats, figures and a
 * graceful stop that ends in a kill.
 *
 * @module
 */
import type { ContainerSpec } from "../config/topology.ts";
import type { Permissions } from "../config/permissions.ts";
import type { Envelope, ExitReason, InitSettings } from "../protocol/envelope.ts";
import type { Link } from "../transports/link.ts";
import { settlesWithin } from "./_timing.ts";
import { within } from "../protocol/routes.ts";
import { sanitizeExitReason } from "../supervisor/event_check.ts";
import { declaredNames } from "./_trust.ts";
import { type GuardOptions, installSource } from "./_guard.ts";
import { emptyFigures, type FigureSet, readFigureSet } from "./_metrics.ts";
import { type Usage, UsageMeter } from "./_usage.ts";
import { type InstanceHandle, type Launch, startError } from "./_handle.ts";
import { tracingOn } from "./_tracing.ts";

/** Startup, control and stop logic common to instances in another isolate. */
export abstract class IsolateHandle implements InstanceHandle {
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
  /** What its isolate says it uses (pongs' `u`). */
  readonly #meter = new UsageMeter();
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
        ...(tracingOn() ? { trace: 1 as const } : {}),
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
        if (env.u) this.#meter.read(env.u, performance.now());
        return this.#checkMemory();
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

  /** Its figures, its own memory included (see {@linkcode usage}). */
  figures(): FigureSet | null {
    const memory = this.usage().memoryBytes;
    if (memory === null) return this.#figures;
    const own = this.#figures?.[this.container] ?? emptyFigures();
    return { ...this.#figures, [this.container]: { ...own, m: memory } };
  }

  /**
   * Its memory and CPU share as its isolate last reported them: a worker's own heap and thread; a
   * process overrides the memory with its RSS, read by the host.
   */
  usage(): Usage {
    return this.#meter.usage();
  }

  /** Over its `max_memory:`: it is ended, and its supervisor restarts it like any failure. */
  #checkMemory(): void {
    const limit = this.launch.spec.maxMemory;
    if (limit === undefined || this.#exited) return;
    const used = this.usage().memoryBytes;
    if (used === null || used <= limit) return;
    const what = this.launch.spec.mode === "process" ? "resident memory" : "isolate heap";
    this.kill({
      kind: "max_memory",
      message: `${what} ${mib(used)} is over its max_memory of ${mib(limit)}`,
      used,
      limit,
    });
  }

  async stop(reason: ExitReason, gracefulOnly = false, quiet?: () => void): Promise<boolean> {
    if (this.#exited && !this.link) {
      quiet?.();
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
    // It acknowledged: one that ends itself may take a moment for what it does on its way out.
    // Its hooks are done and it serves no more: whoever waits only for that need not wait for
    // the isolate's teardown (a worker's `terminate()`, a process's exit and pipes).
    if (stopped && this.exitGrace() > 0) {
      quiet?.();
      await settlesWithin(this.gone, this.exitGrace());
    }
    this.kill(reason);
    quiet?.();
    await this.gone;
    return true;
  }

  kill(reason: ExitReason): void {
    this.ended(reason);
    this.destroy();
  }

  /**
   * How long (ms) a stopped isolate may take to end by itself once it acknowledged its stop,
   * before it is killed; 0 (the default): killed at once.
   */
  protected exitGrace(): number {
    return 0;
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

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** A `data:` module that installs the container guard of `spec`'s isolate (see `_guard.ts`). */
function guardEntry(spec: ContainerSpec): string {
  const guard = new URL("./_guard.ts", import.meta.url).href;
  const source = installSource(guard, JSON.stringify(guardOptions(spec)), spec.mode === "worker");
  return `data:application/javascript,${encodeURIComponent(source)}`;
}

/**
 * The guard options of worker or process container `spec`'s isolate (see `_guard.ts`).
 *
 * @example
 * ```ts ignore
 * guardOptions(spec); // { container: "billing", mode: "process", unstable: [], tcp: false }
 * ```
 */
export function guardOptions(spec: ContainerSpec): GuardOptions {
  // The serve: address (port 0 resolved: this is the launch spec) is where reusePort may listen.
  const serve = spec.serve ? { hostname: spec.serve.hostname, port: spec.serve.port } : undefined;
  return {
    container: spec.name,
    mode: spec.mode === "worker" ? "worker" : "process",
    unstable: spec.unstable,
    serve,
    tcp: tcpGranted(spec.permissions),
  };
}

/** Whether `grant` lets an isolate listen on TCP: `net` of all hosts, or of one that is not `unix:`/`vsock:`. */
function tcpGranted(grant: Permissions): boolean {
  const net = grant.net;
  return net === true || (net ?? []).some((item) => !/^(unix|vsock):/.test(item));
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

/** A grant plus read access to extra files (the sources of nested workers). */
export function withReads(grant: Permissions, reads: string[] | undefined): Permissions {
  if (!reads || reads.length === 0 || grant.read === true) return grant;
  return { ...grant, read: [...new Set([...(grant.read ?? []), ...reads])] };
}
