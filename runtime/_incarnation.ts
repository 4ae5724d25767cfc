/**
 * One start of one replica, as a supervisor's runner sees it: the mode's instance handle and,
 * for an inline container, the supervisor of its children — which runs in this isolate and lives
 * and dies with it: the children start before the container's factory runs and stop after its
 * `onStop` hooks (or as soon as it ended on its own).
 *
 * @module
 */
import type { ContainerSpec } from "../config/topology.ts";
import type { ExitReason } from "../protocol/envelope.ts";
import type { SupervisorGaveUpError } from "../protocol/errors.ts";
import type { SupervisedInstance } from "../supervisor/instance.ts";
import type { InstanceHandle } from "./_modes.ts";

/** What an incarnation needs of the supervisor of its children. */
export interface ChildrenSupervisor {
  /** Starts the declared children, in order. */
  start(specs: readonly ContainerSpec[]): Promise<void>;
  /** Stops every child in reverse order. */
  stopAll(message: string): Promise<void>;
  /** Called once when it gives up. */
  onGiveUp: (error: SupervisorGaveUpError) => void;
}

/** How an incarnation is made. */
export interface IncarnationOptions<C extends ChildrenSupervisor> {
  /** The container. */
  spec: ContainerSpec;
  /** `name#replica.incarnation`. */
  instance: string;
  /** The node it lives in. */
  node: string;
  /**
   * Checks what its isolate will load before anything of it starts (a worker or process: see
   * `_sources.ts`); a rejection fails the start.
   */
  admit?(): Promise<void>;
  /** Creates its handle (once its children, if any, run, and it was admitted). */
  createHandle(): InstanceHandle;
  /** Creates the supervisor of its children. */
  supervisor(): C;
  /** Its handle reported its end (before its supervisor hears of it). */
  ended?(handle: InstanceHandle): void;
  /** It was killed for being unresponsive, and its handle may outlive a kill (a spinning thread). */
  leaked?(): void;
}

/** One start of one replica: its handle and, inline, the supervisor of its children. */
export class Incarnation<C extends ChildrenSupervisor> implements SupervisedInstance {
  /** The container, as started (updated in place by `update`: it reads the new shutdown). */
  readonly spec: ContainerSpec;
  /** `name#replica.incarnation`. */
  readonly instance: string;
  /** The node it lives in. */
  readonly node: string;
  /** Set by the runner. */
  onExit: (reason: ExitReason) => void = () => {};
  /** Its handle, once created. */
  handle: InstanceHandle | null = null;
  /** The supervisor of its children in this isolate, while it has one. */
  children: C | null = null;
  readonly gone: Promise<void>;
  readonly #options: IncarnationOptions<C>;
  #markGone!: () => void;
  #cancelled = false;
  #childrenDown: Promise<void> | null = null;

  constructor(options: IncarnationOptions<C>) {
    this.#options = options;
    this.spec = options.spec;
    this.instance = options.instance;
    this.node = options.node;
    this.gone = new Promise((resolve) => (this.#markGone = resolve));
  }

  /** The supervisor of its children (created on first use: `ctx.spawn`, declared children). */
  supervisor(): C {
    if (!this.children) {
      const children = this.#options.supervisor();
      // The container fails with its children's supervisor's give-up: its own supervisor decides.
      children.onGiveUp = (error) => this.handle?.escalated?.(error);
      this.children = children;
    }
    return this.children;
  }

  async start(): Promise<void> {
    const { spec } = this;
    if (spec.mode === "inline" && spec.children.length > 0) {
      try {
        await this.supervisor().start(spec.children);
      } catch (error) {
        await this.#stopChildren("its parent could not start");
        this.#markGone();
        throw error;
      }
      if (this.#cancelled) return; // stopped while its children started (they were stopped)
    }
    if (this.#options.admit) {
      try {
        await this.#options.admit();
      } catch (error) {
        this.#markGone();
        throw error;
      }
      if (this.#cancelled) return; // stopped while it was being checked: nothing started
    }
    const handle = this.#options.createHandle();
    this.handle = handle;
    handle.onExit = (reason) => {
      // An exit is reported as soon as the instance starts stopping, so that its supervisor acts
      // at once; but a graceful stop still runs handlers in flight (a draining HTTP request)
      // that send requests over its direct links. Its node is forgotten (links dropped) once its
      // isolate is gone, not before: a sibling dropping the link earlier loses those requests.
      handle.gone.then(() => this.#options.ended?.(handle));
      this.onExit(reason);
    };
    try {
      await handle.start();
    } catch (error) {
      // A start cancelled by a stop: the stop takes the children down.
      if (!this.#cancelled) await this.#stopChildren("its parent could not start");
      handle.gone.then(() => this.#markGone());
      throw error;
    }
  }

  async stop(reason: ExitReason, gracefulOnly = false, quiet?: () => void): Promise<boolean> {
    this.#cancelled = true;
    const handle = this.handle;
    const message = `its parent stopped: ${reason.message}`;
    // Its children live until its own hooks are done, then stop in reverse order; it is quiet
    // once they are too, while its isolate may still be tearing down.
    const early = quiet && (() => void this.#stopChildren(message).then(quiet, quiet));
    const done = handle ? await handle.stop(reason, gracefulOnly, early) : true;
    await this.#stopChildren(message);
    if (done) {
      await handle?.gone;
      this.#markGone();
    }
    return done;
  }

  kill(reason: ExitReason): void {
    this.#cancelled = true;
    const handle = this.handle;
    if (reason.kind === "unresponsive" && handle?.outlivesKill) this.#options.leaked?.();
    handle?.kill(reason);
    (async () => {
      await handle?.gone;
      await this.#stopChildren(`its parent stopped: ${reason.message}`);
      this.#markGone();
    })();
  }

  heartbeat(now: number): number {
    return this.handle?.heartbeat(now) ?? 0;
  }

  async release(): Promise<void> {
    await this.#stopChildren(`its parent ${this.instance} exited`);
    const handle = this.handle;
    if (handle) handle.gone.then(() => this.#markGone());
    else this.#markGone();
  }

  /** Stops its children once, whoever asks first (their message is the one they see). */
  #stopChildren(message: string): Promise<void> {
    if (!this.#childrenDown) {
      const children = this.children;
      this.children = null;
      this.#childrenDown = children ? children.stopAll(message) : Promise.resolve();
    }
    return this.#childrenDown;
  }
}
