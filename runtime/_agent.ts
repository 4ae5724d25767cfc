/**
 * The host agent's side of placement (`kraken node`): a runtime that runs the containers a root
 * runtime places on it, under its own supervisor, within limits it sets itself.
 *
 * What it enforces, whatever the root asks: the module is a path under its `--root` (or a
 * jsr:/npm: specifier it resolves itself) — code never travels over the wire; the grant lies within
 * its `--max-permissions` (else `PermissionEscalationError`) and within its own process's. Fencing:
 * a placement carries an epoch; a later epoch replaces every earlier one, and when the root that
 * placed something has been silent for its keepalive, the agent stops what it placed (the root
 * re-places it elsewhere only after that lease), so a partitioned agent never keeps a second live
 * copy of a singleton.
 *
 * @module
 */
import type { Permissions } from "../config/permissions.ts";
import { grantOutside } from "../config/permissions.ts";
import type { ContainerInput, ContainerSpec } from "../config/topology.ts";
import type { Envelope } from "../protocol/envelope.ts";
import { errorToWire, PermissionEscalationError, TopologyError } from "../protocol/errors.ts";

/** What `kraken node` was started with. */
export interface AgentOptions {
  /** Folder whose modules it may run (relative module paths resolve under it). */
  root: string;
  /** The widest grant it gives any container. */
  maxPermissions: Permissions;
  /** How long it keeps what a silent root placed before stopping it, ms (its keepalive). */
  lease?: number;
}

/** What the agent needs from its runtime. */
export interface AgentSite {
  /** Starts (or, when it runs, replaces without a gap) container `spec.name`. */
  run(spec: ContainerSpec): Promise<void>;
  /** Stops container `name` and removes it. */
  stop(name: string): Promise<void>;
  /** Validates a container as the agent's own topology would (module resolved under root). */
  validate(name: string, input: ContainerInput): ContainerSpec;
  /** Sends a control envelope to peer runtime `peer`. */
  send(peer: string, env: Envelope): boolean;
  /** Logs a line. */
  log(level: "info" | "warn" | "error", message: string): void;
}

interface Running {
  epoch: number;
  /** The runtime that placed it: its silence ends the placement (fencing). */
  by: string;
}

/** Runs what root runtimes place on this host. */
export class AgentHost {
  readonly #options: AgentOptions;
  readonly #site: AgentSite;
  readonly #rootUrl: URL;
  readonly #running = new Map<string, Running>();
  /** Placements in progress, by name: a later one waits for the earlier one. */
  #queue: Promise<void> = Promise.resolve();

  constructor(options: AgentOptions, site: AgentSite) {
    this.#options = options;
    this.#site = site;
    const root = options.root.endsWith("/") ? options.root : `${options.root}/`;
    this.#rootUrl = new URL(`file://${root}`);
  }

  /** What its introduction says: that it is an agent, its limits, what it runs and at which epoch. */
  joinExtra(): Partial<Extract<Envelope, { k: "join" }>> {
    return {
      a: {
        permissions: this.#options.maxPermissions as Record<string, unknown>,
        ...(this.#options.lease ? { lease: this.#options.lease } : {}),
      },
      p: [...this.#running].map(([n, r]) => ({ n, e: r.epoch, b: r.by })),
    };
  }

  /** Names of the containers placed here. */
  names(): string[] {
    return [...this.#running.keys()];
  }

  /** The runtime that placed container `name` here, if one did. */
  placerOf(name: string): string | undefined {
    return this.#running.get(name)?.by;
  }

  /** The runtimes that placed something here. */
  placers(): string[] {
    return [...new Set([...this.#running.values()].map((r) => r.by))];
  }

  /** A control envelope from peer `peer`. */
  control(peer: string, env: Envelope): void {
    if (env.k === "place") {
      this.#queue = this.#queue.then(() => this.#place(peer, env)).catch(() => {});
    } else if (env.k === "unplace") {
      // Only the runtime that placed a container may stop it (several roots may share an agent).
      if (this.#running.get(env.n)?.by !== peer) return;
      this.#queue = this.#queue.then(() => this.#unplace(env.n, env.e, "unplaced by the root"))
        .catch(() => {});
    }
  }

  /** The link with `peer` was lost: what it placed here stops (it will be placed elsewhere). */
  lost(peer: string): void {
    for (const [name, r] of this.#running) {
      if (r.by !== peer) continue;
      this.#queue = this.#queue.then(() =>
        this.#unplace(name, r.epoch, `lost the runtime "${peer}" that placed it (fenced)`)
      ).catch(() => {});
    }
  }

  async #place(peer: string, env: Extract<Envelope, { k: "place" }>): Promise<void> {
    const current = this.#running.get(env.n);
    if (current && current.by !== peer) {
      return void this.#site.send(peer, {
        k: "placed",
        n: env.n,
        e: env.e,
        ok: false,
        x: errorToWire(
          new Error(
            `this agent already runs a container named "${env.n}" for runtime "${current.by}"`,
          ),
        ),
      });
    }
    if (current && current.epoch > env.e) {
      return void this.#site.send(peer, {
        k: "placed",
        n: env.n,
        e: env.e,
        ok: false,
        x: errorToWire(new Error(`stale placement: epoch ${env.e} < ${current.epoch}`)),
      });
    }
    try {
      const spec = this.#check(env.n, env.s);
      await this.#site.run(spec);
      this.#running.set(env.n, { epoch: env.e, by: peer });
      this.#site.log("info", `running ${env.n} (epoch ${env.e}) for runtime "${peer}"`);
      this.#site.send(peer, { k: "placed", n: env.n, e: env.e, ok: true });
    } catch (error) {
      this.#site.log("warn", `refused ${env.n}: ${(error as Error).message}`);
      this.#site.send(peer, { k: "placed", n: env.n, e: env.e, ok: false, x: errorToWire(error) });
    }
  }

  async #unplace(name: string, epoch: number, why: string): Promise<void> {
    const current = this.#running.get(name);
    if (!current || current.epoch > epoch) return;
    this.#running.delete(name);
    this.#site.log("info", `stopping ${name} (epoch ${current.epoch}): ${why}`);
    await this.#site.stop(name).catch((error: Error) =>
      this.#site.log("warn", `could not stop ${name}: ${error.message}`)
    );
  }

  /** The placed spec, checked against this agent's own limits, as a spec of this runtime. */
  #check(name: string, placed: Record<string, unknown>): ContainerSpec {
    const module = String(placed.module ?? "");
    const specifier = /^(jsr|npm):/.test(module);
    if (!specifier) {
      const url = new URL(module, this.#rootUrl);
      if (!/^\.\.?\//.test(module) || !url.href.startsWith(this.#rootUrl.href)) {
        throw new TopologyError(
          `module "${module}" is outside this agent's root ${this.#rootUrl.pathname}; an agent runs only modules under its --root or jsr:/npm: specifiers`,
          { key: `${name}.module` },
        );
      }
      try {
        if (!Deno.statSync(url).isFile) throw new Error("not a file");
      } catch {
        throw new TopologyError(
          `module "${module}" does not exist under this agent's root ${this.#rootUrl.pathname}`,
          { key: `${name}.module` },
        );
      }
    }
    // An agent runs placed code only in a sandbox of its own: never inline (inside the agent,
    // with every permission it holds), never with children (they would escape its checks).
    const mode = placed.mode ?? "process";
    if (mode !== "process" && mode !== "worker") {
      throw new TopologyError(
        `an agent runs a placed container as a process or a worker, not "${String(mode)}"`,
        { key: `${name}.mode` },
      );
    }
    if (placed.children !== undefined) {
      throw new TopologyError(`a placed container has no children`, { key: `${name}.children` });
    }
    const grant = (placed.permissions ?? {}) as Permissions;
    const outside = grantOutside(grant, this.#options.maxPermissions);
    if (outside) {
      throw new PermissionEscalationError(
        name,
        outside.kind,
        outside.value,
        "this agent's --max-permissions do not include it",
      );
    }
    const input = {
      ...placed,
      mode,
      module: specifier ? module : new URL(module, this.#rootUrl).href,
    };
    return this.#site.validate(name, input as unknown as ContainerInput);
  }
}
