/**
 * The host agent's side of placement (`kraken node`): a runtime that runs the containers a root
 * runtime places on it, under its own supervisor, within limits it sets itself.
 *
 * What it enforces, whatever the root asks: the module is a `./` path whose real path (symbolic
 * links followed) lies inside the real path of its `--root` (or a jsr:/npm: specifier it resolves
 * itself) — code never travels over the wire; the grant, resolved here (paths against `--root`,
 * `..` collapsed, links followed; hosts normalised), lies within its `--max-permissions` compared
 * the same way (else `PermissionEscalationError` naming the kind, the item and the limit) and
 * within its own process's, and the container gets it in that resolved form. Fencing:
 * a placement carries an epoch; a later epoch replaces every earlier one, and when the root that
 * placed something has been silent for its keepalive, the agent stops what it placed (the root
 * re-places it elsewhere only after that lease), so a partitioned agent never keeps a second live
 * copy of a singleton.
 *
 * @module
 */
import { pathToFileURL } from "node:url";
import { normalizePath, pathWithin, realPath } from "../config/_canonical.ts";
import { DENO_FS } from "../config/_deno_fs.ts";
import { canonicalGrant, grantOutside, type Permissions } from "../config/permissions.ts";
import type { ContainerInput, ContainerSpec } from "../config/topology.ts";
import type { Envelope } from "../protocol/envelope.ts";
import { errorToWire, PermissionEscalationError, TopologyError } from "../protocol/errors.ts";
import { assertWithinHost } from "../config/_grant.ts";
import type { AgentOptions } from "./types.ts";

/** What the agent needs from its runtime. */
export interface AgentSite {
  /** Starts (or, when it runs, replaces without a gap) container `spec.name`. */
  run(spec: ContainerSpec): Promise<void>;
  /** Stops container `name` and removes it. */
  stop(name: string): Promise<void>;
  /**
   * Validates a container as the agent's own topology would: relative paths resolve against
   * --root, and `${VAR}` is never expanded (the agent's environment is not the root's to read).
   */
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
  /** The real path of --root (symbolic links followed), without a trailing `/`. */
  readonly #root: string;
  readonly #running = new Map<string, Running>();
  /** Placements in progress, by name: a later one waits for the earlier one. */
  #queue: Promise<void> = Promise.resolve();

  constructor(options: AgentOptions, site: AgentSite) {
    this.#options = options;
    this.#site = site;
    const root = normalizePath(options.root, "/");
    this.#root = realPath(root, DENO_FS) ?? root;
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
    // Whatever a root sends is untrusted: an envelope of the wrong shape never reaches the checks.
    if ((env.k === "place" || env.k === "unplace") && !wellFormed(env)) {
      this.#site.log("warn", `ignored a malformed ${env.k} from runtime "${peer}"`);
      if (env.k === "place" && typeof env.n === "string" && Number.isSafeInteger(env.e)) {
        this.#site.send(peer, {
          k: "placed",
          n: env.n,
          e: env.e,
          ok: false,
          x: errorToWire(
            new TopologyError(
              `a malformed placement: expected a whole epoch >= 0 and a spec map`,
              { key: env.n },
            ),
          ),
        });
      }
      return;
    }
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
  #check(name: string, placed: unknown): ContainerSpec {
    if (typeof placed !== "object" || placed === null || Array.isArray(placed)) {
      throw new TopologyError(`a placed container's spec must be a map`, { key: name });
    }
    const fields = placed as Record<string, unknown>;
    const module = this.#module(name, fields.module);
    // An agent runs placed code only in a sandbox of its own: never inline (inside the agent,
    // with every permission it holds), never with children (they would escape its checks).
    const mode = fields.mode ?? "process";
    if (mode !== "process" && mode !== "worker") {
      throw new TopologyError(
        `an agent runs a placed container as a process or a worker, not ${JSON.stringify(mode)}`,
        { key: `${name}.mode` },
      );
    }
    if (fields.children !== undefined) {
      throw new TopologyError(`a placed container has no children`, { key: `${name}.children` });
    }
    // Relative paths resolve against --root; every field is checked as in a topology.
    const spec = this.#site.validate(name, { ...fields, mode, module } as ContainerInput);
    const grant = this.#withinLimits(name, spec.permissions ?? {}, fields.permissions);
    assertWithinHost(name, grant);
    return { ...spec, permissions: grant };
  }

  /**
   * The module as a file URL: a `./` path whose real path (links followed) lies inside the real
   * path of --root, or a jsr:/npm: specifier. Anything else would run code not deployed here.
   */
  #module(name: string, module: unknown): string {
    const key = `${name}.module`;
    if (typeof module !== "string" || module === "") {
      throw new TopologyError(
        `expected a module path under this agent's root (./path) or a jsr:/npm: specifier, got ${
          JSON.stringify(module) ?? "nothing"
        }`,
        { key },
      );
    }
    if (/^(jsr|npm):/.test(module)) return module;
    if (!/^\.\.?\//.test(module)) {
      throw new TopologyError(
        `module "${module}" is not a path under this agent's root ${this.#root}; an agent runs only modules under its --root (./path) or jsr:/npm: specifiers, never an absolute path or a URL (http:, https:, data:, file:): code is not fetched or sent`,
        { key },
      );
    }
    const real = realPath(normalizePath(module, this.#root), DENO_FS);
    if (real === undefined || !pathWithin(real, this.#root)) {
      throw new TopologyError(
        `module "${module}" is ${
          real === undefined ? "a symbolic link loop" : real
        }, outside this agent's root ${this.#root}; an agent runs only modules under its --root or jsr:/npm: specifiers`,
        { key },
      );
    }
    try {
      if (!Deno.statSync(real).isFile) throw new Error("not a file");
    } catch {
      throw new TopologyError(
        `module "${module}" does not exist under this agent's root ${this.#root}`,
        { key },
      );
    }
    return pathToFileURL(real).href;
  }

  /**
   * `grant` in canonical form (real paths, normalised hosts), if it lies within --max-permissions
   * compared the same way; else a {@linkcode PermissionEscalationError} naming the kind, the item
   * as the root asked it, what it resolves to here, and the limit.
   */
  #withinLimits(name: string, grant: Permissions, asked: unknown): Permissions {
    const view = { base: this.#root, fs: DENO_FS };
    const max = this.#options.maxPermissions;
    const outside = grantOutside(grant, max, view);
    if (!outside) return canonicalGrant(grant, view);
    const { kind, value } = outside;
    // The item in the root's own words (the validated one is already resolved against --root).
    const list = (asked as Record<string, unknown> | undefined)?.[kind];
    const index = value === true ? -1 : (grant[kind] as string[]).indexOf(value);
    const raw = Array.isArray(list) && typeof list[index] === "string"
      ? list[index] as string
      : typeof list === "string" && index === 0
      ? list
      : value;
    const resolved = value === true
      ? undefined
      : outside.resolved === null
      ? "a symbolic link loop"
      : outside.resolved ?? value;
    const limit = max[kind];
    throw new PermissionEscalationError(
      name,
      kind,
      raw,
      `${resolved !== undefined && resolved !== raw ? `it is ${resolved} here, and ` : ""}${
        limit === undefined
          ? `this agent's --max-permissions grant no ${kind}`
          : `this agent's --max-permissions allow ${kind} only ${
            (limit as string[]).map((l) => `"${l}"`).join(", ")
          }`
      }`,
    );
  }
}

/** A place/unplace envelope with a name, a whole epoch and (to place) a spec map. */
function wellFormed(env: Extract<Envelope, { k: "place" | "unplace" }>): boolean {
  const e = env as { n?: unknown; e?: unknown; s?: unknown; k: string };
  if (typeof e.n !== "string" || !Number.isSafeInteger(e.e) || (e.e as number) < 0) return false;
  return e.k !== "place" ||
    (typeof e.s === "object" && e.s !== null && !Array.isArray(e.s));
}
