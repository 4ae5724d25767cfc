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
 * Several roots may share an agent, and none may hold up another: placements are served per
 * container name (those of one name wait for each other, never for another name's), a start
 * that takes longer than {@linkcode START_TIMEOUT} is stopped and reported failed, and fencing
 * (a lost root) stops what that root placed at once, outside any queue. What one root placed is
 * not shown to another: its introduction lists to each root only that root's placements.
 *
 * @module
 */
import { pathToFileUrl } from "../config/_file_url.ts";
import { normalizePath, pathWithin, realPath } from "../config/_canonical.ts";
import { DENO_FS } from "../config/_deno_fs.ts";
import { canonicalGrant, grantOutside, type Permissions } from "../config/permissions.ts";
import type { ContainerInput, ContainerSpec } from "../config/topology.ts";
import type { Envelope } from "../protocol/envelope.ts";
import {
  errorToWire,
  PermissionEscalationError,
  TopologyError,
  UnavailableError,
} from "../protocol/errors.ts";
import { assertWithinHost } from "../config/_grant.ts";
import type { FileSystemView } from "../config/file_system_view.ts";
import { type Clock, SYSTEM_CLOCK, type TimerHandle, Timers } from "./_clock.ts";
import type { AgentOptions } from "./types.ts";

/**
 * How long a placed container may take to start, ms: then it is stopped and the root told that
 * the placement failed (before the root's own 30 s wait for an answer runs out).
 */
export const START_TIMEOUT = 25_000;

/** Most lost roots whose adopted placements an agent remembers, to tell them when they link. */
const MAX_REMEMBERED = 64;

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
  /**
   * Sends runtime `peer` the routes of every container running here now: a root that adopts a
   * container took none of its routes when it linked (it had not placed it then), and an adopted
   * container's routes do not change, so nothing else would tell it.
   */
  announce(peer: string): void;
  /** Logs a line. */
  log(level: "info" | "warn" | "error", message: string): void;
}

interface Running {
  epoch: number;
  /** The runtime that placed it: its silence ends the placement (fencing). */
  by: string;
  /** The lease term that root led in (a standby root): a later term of the group adopts it. */
  lease?: LeaseTerm;
  /** The checked spec it runs, as JSON: the same spec adopted keeps running as it is. */
  spec?: string;
  /**
   * Its placer's link was lost and it is held (until this clock time) for that root's standby:
   * only a held placement is ever adopted, never one whose placer is linked and leading.
   */
  heldUntil?: number;
}

type LeaseTerm = NonNullable<Extract<Envelope, { k: "place" }>["l"]>;

/**
 * How long a later term's placement waits for the agent to judge the link of a placer it still
 * counts as linked (ms): at most this, and at most the placement's hold.
 */
const ADOPT_WAIT = 5_000;

/** Whether a placement in lease term `next` may take over one made in term `held`. */
function adopts(next: LeaseTerm | undefined, held: LeaseTerm | undefined): boolean {
  return !!next && !!held && next.g === held.g && next.t > held.t;
}

/** A placement being started. */
interface Starting extends Running {
  /** Its root was lost meanwhile: it is being stopped, and is not to be recorded. */
  fenced: boolean;
}

/** Runs what root runtimes place on this host. */
export class AgentHost {
  readonly #options: AgentOptions;
  readonly #site: AgentSite;
  /** The real path of --root (symbolic links followed), without a trailing `/`. */
  readonly #root: string;
  readonly #running = new Map<string, Running>();
  readonly #starting = new Map<string, Starting>();
  /**
   * The work on each container name (placing, stopping), chained: the work on one name waits for
   * the earlier work on that name only.
   */
  readonly #queues = new Map<string, Promise<void>>();
  /**
   * Each linked root's session: marked lost (and forgotten) when its link is, so that work it
   * queued before is dropped. Held only for roots linked now, and by the work they queued.
   */
  readonly #sessions = new Map<string, { lost: boolean }>();
  /**
   * What a later lease term adopted from each lost root (by container name): that root is told
   * its placement is gone when it links again, never left believing it still runs here.
   */
  readonly #adopted = new Map<string, Map<string, { epoch: number; by: string; term: number }>>();
  readonly #timers: Timers;
  readonly #startTimeout: number;
  /** Where grant paths are resolved (the real file system, but for tests). */
  readonly #fs: FileSystemView;

  /**
   * @param options What `kraken node` was started with.
   * @param site The runtime it runs placed containers in.
   * @param using The clock, how long a start may take (default {@linkcode START_TIMEOUT}), and the
   *   file system grant paths are resolved on (default the real one).
   */
  constructor(
    options: AgentOptions,
    site: AgentSite,
    using: { clock?: Clock; startTimeout?: number; fs?: FileSystemView } = {},
  ) {
    this.#options = options;
    this.#site = site;
    this.#timers = new Timers(using.clock ?? SYSTEM_CLOCK);
    this.#startTimeout = using.startTimeout ?? START_TIMEOUT;
    this.#fs = using.fs ?? DENO_FS;
    const root = normalizePath(options.root, "/");
    this.#root = realPath(root, DENO_FS) ?? root;
  }

  /**
   * What its introduction to runtime `peer` says: that it is an agent, its lease, and what it
   * runs for that runtime, at which epoch. Not its limits, nor what other runtimes placed here:
   * a root needs neither (the agent checks the limits itself).
   */
  joinExtra(peer: string): Partial<Extract<Envelope, { k: "join" }>> {
    return {
      a: this.#options.lease ? { lease: this.#options.lease } : {},
      p: [...this.#running].filter(([, r]) => r.by === peer).map(([n, r]) => ({
        n,
        e: r.epoch,
        b: r.by,
      })),
    };
  }

  /**
   * Runtime `peer` linked (again): if a later term adopted what it had placed here while it was
   * away, it is told now (a refused `placed` for that epoch, naming the adopter).
   */
  joined(peer: string): void {
    const taken = this.#adopted.get(peer);
    if (!taken) return;
    this.#adopted.delete(peer);
    for (const [name, t] of taken) {
      this.#site.send(peer, {
        k: "placed",
        n: name,
        e: t.epoch,
        ok: false,
        x: errorToWire(
          new UnavailableError(
            `container "${name}" (epoch ${t.epoch}) no longer runs on this agent for runtime "${peer}": runtime "${t.by}" adopted it in lease term ${t.term} while "${peer}" was unreachable`,
          ),
        ),
      });
    }
  }

  /** Names of the containers placed here. */
  names(): string[] {
    return [...this.#running.keys()];
  }

  /** Whether container `name` was placed here (running, or starting). */
  runs(name: string): boolean {
    return this.#running.has(name) || this.#starting.has(name);
  }

  /** Stops the start timers (the runtime shuts down). */
  close(): void {
    this.#timers.clear();
  }

  /** The runtime that placed container `name` here, if one did. */
  placerOf(name: string): string | undefined {
    return this.#running.get(name)?.by;
  }

  /** The runtime that placed container `name` here, running or still starting. */
  placedBy(name: string): string | undefined {
    return this.#placerOf(name);
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
    let session = this.#sessions.get(peer);
    if (!session) this.#sessions.set(peer, session = { lost: false });
    const fresh = () => !session.lost;
    if (env.k === "place") {
      this.#enqueue(env.n, () => fresh() ? this.#place(peer, env) : undefined);
    } else if (env.k === "unplace") {
      // Only the runtime that placed a container may stop it (several roots may share an agent).
      if (this.#placerOf(env.n) !== peer) return;
      this.#enqueue(env.n, () => {
        if (this.#running.get(env.n)?.by !== peer) return;
        return this.#unplace(env.n, env.e, "unplaced by the root");
      });
    }
  }

  /**
   * The link with `peer` was lost: what it placed here stops at once, whatever else is queued or
   * starting (it will be placed elsewhere once its lease has run out); what it queued is dropped.
   */
  lost(peer: string): void {
    const session = this.#sessions.get(peer);
    if (session) session.lost = true;
    this.#sessions.delete(peer);
    const why = `lost the runtime "${peer}" that placed it (fenced)`;
    for (const [name, r] of [...this.#running]) {
      if (r.by !== peer) continue;
      if (r.lease && r.lease.w > 0) {
        // A root with a standby: what it placed keeps running until the standby takes over (a
        // later term of its lease group adopts it), or is fenced once that cannot have happened.
        this.#site.log(
          "info",
          `holding ${name} (epoch ${r.epoch}) for up to ${r.lease.w} ms: lost the runtime "${peer}" that placed it, whose standby may adopt it`,
        );
        r.heldUntil = this.#timers.now() + r.lease.w;
        this.#timers.after(r.lease.w, () => {
          if (this.#running.get(name) !== r) return;
          this.#running.delete(name);
          this.#fence(name, r.epoch, `${why}; no standby adopted it`);
        });
        continue;
      }
      this.#running.delete(name);
      this.#fence(name, r.epoch, why);
    }
    for (const [name, s] of this.#starting) {
      if (s.by !== peer || s.fenced) continue;
      s.fenced = true;
      this.#fence(name, s.epoch, why);
    }
  }

  /** Remembers (bounded) that `from`'s container `name` was adopted, to tell `from` if it links. */
  #noteAdopted(from: string, name: string, what: { epoch: number; by: string; term: number }) {
    const taken = this.#adopted.get(from) ?? new Map();
    taken.set(name, what);
    this.#adopted.delete(from);
    this.#adopted.set(from, taken);
    // The oldest root's first: only so many lost roots are remembered.
    if (this.#adopted.size > MAX_REMEMBERED) {
      this.#adopted.delete(this.#adopted.keys().next().value!);
    }
  }

  /** Whether `r` is held for a standby: its placer's link is lost, and the hold not run out. */
  #held(r: Running): boolean {
    return r.heldUntil !== undefined && !this.#sessions.has(r.by) &&
      this.#timers.now() < r.heldUntil;
  }

  /** The runtime that placed `name` (running or starting), if any. */
  #placerOf(name: string): string | undefined {
    return this.#running.get(name)?.by ?? this.#starting.get(name)?.by;
  }

  /** Runs `work` on container `name` once the earlier work on that name is done. */
  #enqueue(name: string, work: () => Promise<void> | void): void {
    const tail = (this.#queues.get(name) ?? Promise.resolve()).then(work).catch(() => {});
    this.#queues.set(name, tail);
    tail.then(() => {
      if (this.#queues.get(name) === tail) this.#queues.delete(name);
    });
  }

  /** Stops `name` now; later work on that name waits for the stop. */
  #fence(name: string, epoch: number, why: string): void {
    this.#site.log("info", `stopping ${name} (epoch ${epoch}): ${why}`);
    const stopped = this.#site.stop(name).catch((error: Error) =>
      this.#site.log("warn", `could not stop ${name}: ${error.message}`)
    );
    this.#enqueue(name, () => stopped);
  }

  async #place(peer: string, env: Extract<Envelope, { k: "place" }>): Promise<void> {
    const current = this.#running.get(env.n);
    // A later term of the same lease group takes over what a lost root placed (no fencing), and
    // only while it is held: a placer linked now still leads (a term pushed up by anyone who
    // holds the secret and a bucket of that name must not take a live root's container).
    let later = !!current && current.by !== peer && adopts(env.l, current.lease);
    if (current && later && !this.#held(current)) {
      // The placer may be lost without this agent knowing yet (cut off or frozen: its silence
      // has not run the keepalive out here, while its lease already expired in NATS and its
      // standby leads). Wait for its link to be judged, within the hold the placement asked for:
      // a placer still linked after that is alive, and the later term is refused below.
      const until = this.#timers.now() + Math.min(current.lease?.w ?? 0, ADOPT_WAIT);
      while (this.#sessions.has(current.by) && this.#timers.now() < until) {
        await new Promise<void>((resolve) => this.#timers.after(50, resolve));
      }
      // Fenced or replaced meanwhile: judged afresh.
      if (this.#running.get(env.n) !== current) return this.#place(peer, env);
      later = adopts(env.l, current.lease);
    }
    // The same root restarted (killed, then started again under its name within the hold) and
    // leading in a later term of the group: its own held placement, adopted as a standby's would be.
    const again = !!current && current.by === peer && adopts(env.l, current.lease) &&
      current.heldUntil !== undefined && this.#timers.now() < current.heldUntil;
    const adopting = (later && !!current && this.#held(current)) || again;
    if (later && !adopting) {
      this.#site.log(
        "warn",
        `refused to let runtime "${peer}" (term ${env.l!.t}) adopt ${env.n}: runtime "${
          current!.by
        }" that placed it is linked`,
      );
      return void this.#site.send(peer, {
        k: "placed",
        n: env.n,
        e: env.e,
        ok: false,
        x: errorToWire(
          new UnavailableError(
            `container "${env.n}" runs on this agent for runtime "${
              current!.by
            }", which is linked: a later lease term (${
              env.l!.t
            }) adopts only what a lost root placed, within its hold`,
          ),
        ),
      });
    }
    if (current && current.by !== peer && !adopting) {
      return void this.#site.send(peer, {
        k: "placed",
        n: env.n,
        e: env.e,
        ok: false,
        x: errorToWire(
          new UnavailableError(
            `this agent already runs a container named "${env.n}" for runtime "${current.by}"`,
          ),
        ),
      });
    }
    if (current && !adopting && current.epoch > env.e) {
      return void this.#site.send(peer, {
        k: "placed",
        n: env.n,
        e: env.e,
        ok: false,
        x: errorToWire(new Error(`stale placement: epoch ${env.e} < ${current.epoch}`)),
      });
    }
    // Adopted: no longer the lost root's (its hold ends), the new root's once it runs.
    if (adopting) {
      this.#running.delete(env.n);
      if (!again) {
        this.#noteAdopted(current!.by, env.n, { epoch: current!.epoch, by: peer, term: env.l!.t });
      }
    }
    const starting: Starting = { epoch: env.e, by: peer, fenced: false };
    try {
      const spec = this.#check(env.n, env.s);
      const json = JSON.stringify(spec);
      if (adopting && current!.spec === json) {
        // What the lost root placed, as the new one places it: it keeps running, not restarted.
        this.#running.set(env.n, { epoch: env.e, by: peer, lease: env.l, spec: json });
        this.#site.log(
          "info",
          `adopted ${env.n} (epoch ${env.e}) for runtime "${peer}" from "${current!.by}" (term ${
            env.l!.t
          }): it keeps running`,
        );
        // Its routes first: the root takes them while placing, so it serves once it is told ok.
        this.#site.announce(peer);
        return void this.#site.send(peer, { k: "placed", n: env.n, e: env.e, ok: true });
      }
      this.#starting.set(env.n, starting);
      const run = this.#site.run(spec);
      const started = await this.#within(run, this.#startTimeout);
      if (starting.fenced) return; // its root was lost meanwhile: being stopped
      if (!started) {
        // Too slow: stopped (with any earlier epoch of it), and the root is told it failed.
        this.#running.delete(env.n);
        starting.fenced = true;
        this.#site.log("info", `stopping ${env.n} (epoch ${env.e}): its start timed out`);
        await Promise.allSettled([this.#site.stop(env.n), run]);
        throw new UnavailableError(
          `container "${env.n}" did not start within ${this.#startTimeout} ms on this agent; it was stopped`,
        );
      }
      this.#running.set(env.n, {
        epoch: env.e,
        by: peer,
        ...(env.l ? { lease: env.l, spec: json } : {}),
      });
      this.#site.log("info", `running ${env.n} (epoch ${env.e}) for runtime "${peer}"`);
      this.#site.send(peer, { k: "placed", n: env.n, e: env.e, ok: true });
    } catch (error) {
      // (A start its root's loss stopped is nobody's to hear of.)
      if (starting.fenced && !(error instanceof UnavailableError)) return;
      this.#site.log("warn", `refused ${env.n}: ${(error as Error).message}`);
      this.#site.send(peer, { k: "placed", n: env.n, e: env.e, ok: false, x: errorToWire(error) });
    } finally {
      if (this.#starting.get(env.n) === starting) this.#starting.delete(env.n);
    }
  }

  /** Whether `work` settles within `ms` (it rejects as it would). */
  async #within(work: Promise<void>, ms: number): Promise<boolean> {
    let timer: TimerHandle | undefined;
    const late = new Promise<false>((resolve) => {
      timer = this.#timers.after(ms, () => resolve(false));
    });
    try {
      return await Promise.race([work.then(() => true as const), late]);
    } finally {
      this.#timers.cancel(timer);
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
    const written = normalizePath(module, this.#root);
    const real = realPath(written, DENO_FS);
    if (real === undefined || !pathWithin(real, this.#root)) {
      // Where a link inside the root points is not said: the agent's disk is not the root's.
      const what = real === undefined
        ? "is a symbolic link loop"
        : real === written
        ? `is ${real}, outside this agent's root`
        : "leads out of this agent's root through a symbolic link";
      throw new TopologyError(
        `module "${module}" ${what} (${this.#root}); an agent runs only modules under its --root or jsr:/npm: specifiers`,
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
    return pathToFileUrl(real).href;
  }

  /**
   * What a refusal says item `raw` resolved to: a host, a path under --root, or the path as the
   * root wrote it (`..` collapsed), as is; where a symbolic link leads elsewhere on this host,
   * only that it does (the agent's disk is not the root's to map).
   */
  #whereItLeads(raw: string, resolved: string): string {
    const unix = (item: string) => item.startsWith("unix:") ? item.slice(5) : item;
    const path = unix(resolved);
    if (!path.startsWith("/") || pathWithin(path, this.#root)) return `it is ${resolved} here`;
    if (normalizePath(unix(raw), this.#root) === path) return `it is ${resolved} here`;
    return "it leads out of this agent's root through a symbolic link";
  }

  /**
   * `grant` in canonical form (real paths, normalised hosts), if it lies within --max-permissions
   * compared the same way; else a {@linkcode PermissionEscalationError} naming the kind, the item
   * as the root asked it, what it resolves to here, and the limit.
   */
  #withinLimits(name: string, grant: Permissions, asked: unknown): Permissions {
    // Each link is read once per placement, however many items share it (both passes below).
    const view = { base: this.#root, fs: memoized(this.#fs) };
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
      `${
        resolved !== undefined && resolved !== raw
          ? `${this.#whereItLeads(String(raw), resolved)}, and `
          : ""
      }${
        limit === undefined
          ? `this agent's --max-permissions grant no ${kind}`
          : `this agent's --max-permissions allow ${kind} only ${
            (limit as string[]).map((l) => `"${l}"`).join(", ")
          }`
      }`,
    );
  }
}

/** A file system view that asks `fs` once per path (for the span of one check). */
function memoized(fs: FileSystemView): FileSystemView {
  const links = new Map<string, string | null | undefined>();
  return {
    readLink(path) {
      if (!links.has(path)) links.set(path, fs.readLink(path));
      return links.get(path);
    },
    which: fs.which && ((name) => fs.which!(name)),
  };
}

/** A place/unplace envelope with a name, a whole epoch and (to place) a spec map. */
function wellFormed(env: Extract<Envelope, { k: "place" | "unplace" }>): boolean {
  const e = env as { n?: unknown; e?: unknown; s?: unknown; k: string };
  if (typeof e.n !== "string" || !Number.isSafeInteger(e.e) || (e.e as number) < 0) return false;
  // A lease term, when given, is compared: a group name and whole numbers, nothing else.
  const l = (env as { l?: unknown }).l as Record<string, unknown> | undefined;
  if (
    l !== undefined &&
    (typeof l !== "object" || l === null || typeof l.g !== "string" || l.g.length > 512 ||
      !Number.isSafeInteger(l.t) || !Number.isSafeInteger(l.w) || (l.w as number) < 0)
  ) return false;
  return e.k !== "place" ||
    (typeof e.s === "object" && e.s !== null && !Array.isArray(e.s));
}
