/**
 * The placement table: what the leading root placed where, kept in a store with revisions (NATS
 * JetStream key-value, `_leadership_kv.ts`) beside its lease, so that a standby taking over places
 * each container on the agent that already runs it (the agent adopts it: same process) instead of
 * wherever its own policy would choose.
 *
 * One row per remote container (key `placement.<name>` in bucket `<lease bucket>_placement`): the
 * lease term that wrote it, and its groups — for each agent, how many replicas and the epoch (a
 * whole placement is one group). Only the root leading in that term writes: every write names the
 * row's revision the writer last saw (compare-and-set), and a new leader first rewrites its
 * containers' rows under its own term, so whatever an earlier leader still sends afterwards fails
 * on the revision.
 *
 * The bucket is untrusted (anyone who may write it may put anything there): a leader reads only
 * the rows of its own containers, never lists the bucket, and a row claiming a later term is only
 * a hint — the leader asks the lease itself whether it still leads. If another root holds the
 * lease, this one stops at once; if this root still does, the row is forged (or left by a bucket
 * that was reset): it is logged once and overwritten, and its groups are never adopted.
 *
 * The decisions (a row ↔ a placement plan) are pure; {@linkcode PlacementTable} does the writing.
 *
 * @module
 */
import { spreadReplicas } from "./_spread.ts";

/** One agent's share of a container. */
export interface TableGroup {
  /** The agent's name. */
  agent: string;
  /** How many of the container's replicas run there. */
  replicas: number;
  /** The epoch of that placement. */
  epoch: number;
}

/** What the table holds of one container. */
export interface TableRow {
  /** The lease term of the root that wrote it. */
  term: number;
  /** Where it runs (empty: nowhere now). */
  groups: TableGroup[];
  /**
   * The replica count the topology of the root that wrote it gives the container (absent: not
   * in that topology, or an older row). Its groups may add up to more or fewer (a `kraken
   * scale` since): a new leader whose topology still says this keeps the groups' count.
   */
  declared?: number;
}

/** A row as stored: its bytes and its revision. */
export interface Versioned {
  value: Uint8Array;
  revision: number;
}

/** The rows' keys in the store: what {@linkcode PlacementTable} needs of it. */
export interface TableStore {
  /** One row, or `null` when it was never written. */
  read(name: string): Promise<Versioned | null>;
  /**
   * Writes row `name` if its revision is still `revision` (`null`: only if it does not exist):
   * the new revision, or `null` when someone else wrote first. Rejects when unreachable.
   */
  write(name: string, value: Uint8Array, revision: number | null): Promise<number | null>;
}

/** The key prefix of a row in the bucket. */
export const ROW_PREFIX = "placement.";
/** Most groups a row may list (one per agent): a longer one is not a row. */
const MAX_GROUPS = 1024;
/** Names of containers and agents as the topology allows them. */
const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,127}$/;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A row's bytes (JSON), as stored.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeRow } from "./_placement_table.ts";
 * const bytes = encodeRow({ term: 2, groups: [{ agent: "node-b", replicas: 1, epoch: 1 }] });
 * assert.equal(
 *   new TextDecoder().decode(bytes),
 *   '{"term":2,"groups":[{"agent":"node-b","replicas":1,"epoch":1}]}',
 * );
 * ```
 */
export function encodeRow(row: TableRow): Uint8Array {
  return encoder.encode(JSON.stringify(row));
}

/** Terms, epochs and counts above this are not a row's: epochs continue from it, by one. */
const MAX_COUNT = 2 ** 48;
const count = (v: unknown): v is number =>
  Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= MAX_COUNT;

/**
 * Parses a row; `null` when it is not one (untrusted: anyone with write access to the bucket may
 * have put it there). Groups naming one agent twice are not a row either.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeRow, parseRow } from "./_placement_table.ts";
 * const row = { term: 7, groups: [{ agent: "node-b", replicas: 2, epoch: 3 }] };
 * assert.deepEqual(parseRow(encodeRow(row)), row);
 * assert.equal(parseRow(new TextEncoder().encode('{"term":"7"}')), null);
 * ```
 */
export function parseRow(bytes: Uint8Array): TableRow | null {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(decoder.decode(bytes));
  } catch {
    return null;
  }
  if (typeof v !== "object" || v === null || !count(v.term) || !Array.isArray(v.groups)) {
    return null;
  }
  if (v.groups.length > MAX_GROUPS) return null;
  if (v.declared !== undefined && !count(v.declared)) return null;
  const groups: TableGroup[] = [];
  const seen = new Set<string>();
  for (const g of v.groups as Record<string, unknown>[]) {
    if (typeof g !== "object" || g === null) return null;
    const { agent, replicas, epoch } = g;
    if (typeof agent !== "string" || !NAME.test(agent) || seen.has(agent)) return null;
    if (!count(replicas) || replicas === 0 || !count(epoch)) return null;
    seen.add(agent);
    groups.push({ agent, replicas, epoch });
  }
  return { term: v.term, groups, ...(v.declared !== undefined ? { declared: v.declared } : {}) };
}

/**
 * How many replicas container `spec` gets under a new leader, from its `row`: the count its
 * groups add up to — a `kraken scale` on an earlier leader is state, kept like a Deployment's
 * replica count across a controller's restart — unless this root's topology gives another count
 * than the one the row was written under (the topology was edited since: it wins). `note` says
 * which won when the two differ (logged).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { replicasFromRow } from "./_placement_table.ts";
 * const row = { term: 3, groups: [{ agent: "b", replicas: 6, epoch: 2 }], declared: 4 };
 * assert.equal(replicasFromRow(row, { name: "orders", replicas: 4 }).replicas, 6); // scaled
 * assert.equal(replicasFromRow(row, { name: "orders", replicas: 8 }).replicas, 8); // edited
 * ```
 */
export function replicasFromRow(
  row: TableRow,
  spec: { name: string; replicas: number },
): { replicas: number; note?: { level: "info" | "warn"; message: string } } {
  const live = row.groups.reduce((sum, g) => sum + g.replicas, 0);
  if (row.groups.length === 0 || live === spec.replicas) return { replicas: spec.replicas };
  if (row.declared === spec.replicas) {
    return {
      replicas: live,
      note: {
        level: "info",
        message:
          `${spec.name}: keeps ${live} replicas, as the placement table says (scaled at run time on an earlier leader), not the topology's ${spec.replicas}; kraken scale changes it`,
      },
    };
  }
  return {
    replicas: spec.replicas,
    note: {
      level: "warn",
      message:
        `${spec.name}: ${spec.replicas} replicas, as this root's topology says, not the ${live} the placement table says run (${
          row.declared === undefined
            ? "that row does not say which topology count it was written under"
            : `written under a topology of ${row.declared}: the topology was edited since`
        })`,
    },
  };
}

/** What a container's placement is decided from: the part of its spec that matters here. */
export interface PlanSpec {
  replicas: number;
  /** `host:`: pinned to one agent. */
  host?: string;
  /** `placement: spread` and its constraints (absent: placed whole). */
  spread?: { hosts?: readonly string[]; maxPerHost?: number };
}

/** Where a container goes when a new leader takes over, from its row. */
export interface Plan {
  /** The last epoch the row gave: the new leader's placements continue above it. */
  epoch: number;
  /** Replicas per agent: the agents listed run it now (adopted in place when the count is theirs). */
  on: Record<string, number>;
  /**
   * Replicas per agent the row names but that is not linked now: it may still run them (its
   * hold for the lost root), so they are held, not placed elsewhere, until that hold has run out.
   */
  away: Record<string, number>;
}

/**
 * Where container `spec` goes under a new leader, from its `row`: on the agents that run it now,
 * as far as they are linked and the spec still allows them (pin, `hosts:`, `max_per_host:`,
 * count). A whole container keeps its agent when that is its only group; a spread one keeps each
 * group that fits, and what is missing goes where {@linkcode spreadReplicas} says. What runs on
 * an agent that is not linked is `away` (never a second copy while it may still run), and the
 * replicas placed on the linked agents leave room for it. When the row has nothing usable, `on`
 * and `away` are empty (the leader's own policy decides) and only the epoch counts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { planFromRow } from "./_placement_table.ts";
 * const row = {
 *   term: 5,
 *   groups: [{ agent: "b", replicas: 2, epoch: 4 }, { agent: "c", replicas: 3, epoch: 6 }],
 * };
 * // The spread policy alone would give b 3 and c 2: the table keeps what runs.
 * assert.deepEqual(
 *   planFromRow(row, { replicas: 5, spread: { maxPerHost: 3 } }, ["b", "c"]),
 *   { epoch: 6, on: { b: 2, c: 3 }, away: {} },
 * );
 * // Agent c is not linked: it may still run its 3, so only the 2 are placed.
 * assert.deepEqual(
 *   planFromRow(row, { replicas: 5, spread: {} }, ["b", "d"]),
 *   { epoch: 6, on: { b: 2 }, away: { c: 3 } },
 * );
 * ```
 */
export function planFromRow(
  row: TableRow,
  spec: PlanSpec,
  linked: readonly string[],
): Plan {
  const epoch = Math.max(0, ...row.groups.map((g) => g.epoch));
  const none: Plan = { epoch, on: {}, away: {} };
  if (!spec.spread) {
    // A whole container on two agents is not adopted by guess: the policy decides.
    if (row.groups.length !== 1) return none;
    const [g] = row.groups;
    if (spec.host !== undefined && spec.host !== g.agent) return none;
    return linked.includes(g.agent)
      ? { epoch, on: { [g.agent]: spec.replicas }, away: {} }
      : { epoch, on: {}, away: { [g.agent]: g.replicas } };
  }
  const away: Record<string, number> = {};
  for (const g of row.groups) if (!linked.includes(g.agent)) away[g.agent] = g.replicas;
  const held = Object.values(away).reduce((sum, n) => sum + n, 0);
  const on = spreadReplicas({
    replicas: Math.max(0, spec.replicas - held),
    agents: linked,
    current: Object.fromEntries(
      row.groups.filter((g) => linked.includes(g.agent)).map((g) => [g.agent, g.replicas]),
    ),
    hosts: spec.spread.hosts,
    maxPerHost: spec.spread.maxPerHost,
  });
  return { epoch, on, away };
}

/** How a {@linkcode PlacementTable} is set up. */
export interface TableOptions {
  /** The term this root leads in and may write now; 0 when it may not (standby, lease lost). */
  term(): number;
  /**
   * Whether the lease still names this root's term, asked of the lease key itself when a row
   * claims a later term: `true` this root leads (the row is forged), `false` another root does.
   * Rejects when the lease cannot be read (nothing is decided then).
   */
  confirm(): Promise<boolean>;
  /** Another root leads (a row of a later term, and the lease agrees): this one must stop at once. */
  stale(why: string): void;
  /** Failures of the store and refused writes, logged (never thrown). */
  log(level: "info" | "warn", message: string): void;
  /** The replica count this root's topology gives container `name`, written with its row. */
  declared?(name: string): number | undefined;
}

/** How often one row's write is tried when its revision moved under it. */
const ATTEMPTS = 3;
/** Most requests to the store in flight at once (reads and writes of all rows together). */
export const TABLE_CONCURRENCY = 8;

/** Runs at most `limit` tasks at once, the others in the order they came. */
class Gate {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(limit: number) {
    this.#free = limit;
  }
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

/**
 * The leading root's writer of the table: {@linkcode PlacementTable.load} once when it leads
 * (reads its containers' rows and rewrites them under its term), then {@linkcode PlacementTable.sync} with
 * what is placed whenever that changes (only rows that differ are written, one write at a time
 * per row, the latest state winning).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PlacementTable, parseRow, type TableStore, type Versioned } from "./_placement_table.ts";
 * const rows = new Map<string, Versioned>();
 * let revision = 0;
 * const store: TableStore = {
 *   read: (name) => Promise.resolve(rows.get(name) ?? null),
 *   write(name, value, r) {
 *     if ((rows.get(name)?.revision ?? null) !== r) return Promise.resolve(null);
 *     rows.set(name, { value, revision: ++revision });
 *     return Promise.resolve(revision);
 *   },
 * };
 * const table = new PlacementTable(store, {
 *   term: () => 9,
 *   confirm: () => Promise.resolve(true),
 *   stale() {},
 *   log() {},
 * });
 * await table.load(["x"]);
 * await table.sync(new Map([["x", [{ agent: "b", replicas: 2, epoch: 1 }]]]));
 * assert.deepEqual(parseRow(rows.get("x")!.value), {
 *   term: 9,
 *   groups: [{ agent: "b", replicas: 2, epoch: 1 }],
 * });
 * ```
 */
export class PlacementTable {
  readonly #store: TableStore;
  readonly #options: TableOptions;
  /** Each row's revision as this root last wrote or read it. */
  readonly #revisions = new Map<string, number>();
  /** What was last written (or is being written) of each row, as JSON of its groups. */
  readonly #written = new Map<string, string>();
  /** The groups still to write per row (the latest only), and the write under way. */
  readonly #pending = new Map<string, TableGroup[]>();
  readonly #writing = new Map<string, Promise<void>>();
  #loaded = false;
  /** A write was refused for want of the lease (said once). */
  #refused = false;
  /** Told it is stale: another root leads; it writes nothing more. */
  #stale = false;
  /** Rows found claiming a later term while this root led (forged): logged once each. */
  readonly #forged = new Set<string>();
  /** Bounds the requests in flight: a flood of rows never crowds the store (nor the lease). */
  readonly #gate = new Gate(TABLE_CONCURRENCY);

  constructor(store: TableStore, options: TableOptions) {
    this.#store = store;
    this.#options = options;
  }

  /**
   * Reads the rows of containers `names` (this root's own; never the whole bucket) and rewrites
   * each under this root's term (after which a write by an earlier leader fails on its
   * revision). Resolves the rows as they were, by container name (none when the store could not
   * be read: logged); nothing is written before it resolved. A row claiming a later term is
   * checked against the lease (see the module's notes).
   */
  async load(names: Iterable<string>): Promise<Map<string, TableRow>> {
    const term = this.#options.term();
    const out = new Map<string, TableRow>();
    if (term === 0) return out;
    const wanted = [...new Set(names)].filter((name) => NAME.test(name));
    let stored: (Versioned | null)[];
    try {
      stored = await Promise.all(
        wanted.map((name) => this.#gate.run(() => this.#store.read(name))),
      );
    } catch (error) {
      // Unread: this leader places by its own policy, and writes what it places.
      this.#options.log("warn", `placement table: not read: ${(error as Error).message}`);
      this.#loaded = true;
      return out;
    }
    const claims: Promise<void>[] = [];
    for (const [i, name] of wanted.entries()) {
      const current = stored[i];
      if (!current) continue;
      const row = parseRow(current.value);
      if (!row) {
        this.#options.log("warn", `placement table: row "${name}" is not a row; ignored`);
        this.#revisions.set(name, current.revision);
        continue;
      }
      if (row.term > term) {
        let leads: boolean;
        try {
          leads = await this.#stillLeads(name, row.term, term);
        } catch (error) {
          // Undecided (the lease unreadable): not adopted; its next write asks again.
          this.#options.log("warn", `placement table: ${(error as Error).message}`);
          continue;
        }
        if (!leads) return new Map();
        // Forged: never adopted; claimed empty under this term (sync writes what is placed).
        this.#revisions.set(name, current.revision);
        claims.push(this.#write(name, []));
        continue;
      }
      this.#revisions.set(name, current.revision);
      if (row.groups.length === 0) continue;
      out.set(name, row);
      // Claimed under this term (the same groups): an earlier leader's next write fails.
      this.#written.set(name, JSON.stringify(row.groups));
      claims.push(this.#write(name, row.groups, row.declared));
    }
    await Promise.all(claims);
    if (this.#stale) return new Map();
    this.#loaded = true;
    return out;
  }

  /**
   * Writes what is placed now (`placed`: groups by container name; a name absent that was
   * written before is written empty). Resolves once every write it started is done.
   */
  sync(placed: ReadonlyMap<string, TableGroup[]>): Promise<void> {
    if (!this.#loaded) return Promise.resolve();
    const work: Promise<void>[] = [];
    const names = new Set([...placed.keys(), ...this.#written.keys()]);
    for (const name of names) {
      const groups = placed.get(name) ?? [];
      const json = JSON.stringify(groups);
      if ((this.#written.get(name) ?? "[]") === json) continue;
      this.#written.set(name, json);
      this.#pending.set(name, groups);
      work.push(this.#drain(name));
    }
    return Promise.all(work).then(() => {});
  }

  /** Writes row `name`'s pending groups, one write at a time, until none is pending. */
  #drain(name: string): Promise<void> {
    const running = this.#writing.get(name);
    if (running) return running;
    const run = (async () => {
      try {
        for (let groups = this.#take(name); groups; groups = this.#take(name)) {
          await this.#write(name, groups);
        }
      } finally {
        this.#writing.delete(name);
      }
    })();
    this.#writing.set(name, run);
    return run;
  }

  #take(name: string): TableGroup[] | undefined {
    const groups = this.#pending.get(name);
    this.#pending.delete(name);
    return groups;
  }

  async #write(
    name: string,
    groups: TableGroup[],
    declared = this.#options.declared?.(name),
  ): Promise<void> {
    const term = this.#options.term();
    if (this.#stale) return;
    if (term === 0) {
      // Expected after a step-down (the root stops): said once.
      if (!this.#refused) {
        this.#options.log(
          "warn",
          `placement table: not written (${name}): this root does not lead`,
        );
      }
      this.#refused = true;
      this.#written.delete(name);
      return;
    }
    const value = encodeRow({ term, groups, ...(declared !== undefined ? { declared } : {}) });
    try {
      for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
        if (!this.#revisions.has(name)) {
          const current = await this.#gate.run(() => this.#store.read(name));
          const row = current && parseRow(current.value);
          // A later term: another root leads (stop), or the row is forged (overwrite it).
          if (row && row.term > term && !await this.#stillLeads(name, row.term, term)) return;
          if (this.#stale) return;
          if (current) this.#revisions.set(name, current.revision);
        }
        const revision = await this.#gate.run(() =>
          this.#store.write(name, value, this.#revisions.get(name) ?? null)
        );
        if (revision !== null) return void this.#revisions.set(name, revision);
        // Someone wrote it since: read again (a later term there ends this root's acting).
        this.#revisions.delete(name);
      }
      this.#options.log("warn", `placement table: row "${name}" kept changing; not written`);
    } catch (error) {
      // Unwritten: the next change of that row tries again.
      this.#written.delete(name);
      this.#options.log("warn", `placement table: ${(error as Error).message}`);
    }
  }

  /**
   * Row `name` claims term `theirs`, later than this root's `ours`: whether this root still
   * leads, as the lease key says. If not, it is stale (told once). If so, the row is forged or
   * left over: logged once, to be overwritten. Rejects when the lease cannot be read.
   */
  async #stillLeads(name: string, theirs: number, ours: number): Promise<boolean> {
    if (this.#stale) return false;
    if (!await this.#options.confirm()) {
      this.#staleRow(name, theirs, ours);
      return false;
    }
    if (!this.#forged.has(name)) {
      this.#forged.add(name);
      this.#options.log(
        "warn",
        `placement table: row "${name}" claims term ${theirs}, after this root's term ${ours}, but the lease says this root leads: forged or left over (who may write the bucket?); overwritten, not adopted`,
      );
    }
    return true;
  }

  #staleRow(name: string, theirs: number, ours: number): void {
    if (this.#stale) return;
    this.#stale = true;
    this.#options.stale(
      `the placement table's row "${name}" was written in term ${theirs}, after this root's term ${ours}`,
    );
  }
}
