/**
 * An inline instance: in the host isolate, with no sandbox, no copy of the runtime and no startup
 * cost.
 *
 * @module
 */
import type { Envelope, ExitReason } from "../protocol/envelope.ts";
import { errorToWire } from "../protocol/errors.ts";
import { ContainerInstance } from "./_instance.ts";
import { assertUnstableHere } from "./_host_flags.ts";
import type { FigureSet } from "./_metrics.ts";
import { type InstanceHandle, type Launch, moduleError, startError } from "./_handle.ts";

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
      serve: launch.spec.serve,
      entities: launch.spec.entities,
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
