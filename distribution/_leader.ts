/**
 * A root runtime's leadership as `distribution.ts` uses it: connects to the NATS servers of
 * `leadership:` (with the credentials of `transports.nats`, when set), holds or waits for the
 * lease ({@linkcode Leadership} on {@linkcode kvLeaseStore}), and reports when this root leads and
 * when it must stop. Loaded only by a runtime with a `leadership:` block.
 *
 * @module
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { LeadershipSpec, TransportsSpec } from "../config/model.ts";
import { AuthenticationError, TopologyError, UnavailableError } from "../protocol/errors.ts";
import { natsLogin, scrubbed, socketsClosed, startError } from "./_nats_wire.ts";
import type { Clock } from "./_clock.ts";
import { Leadership, type LeaseHolder, type LeaseStore, parseHolder } from "./_leadership.ts";
import { kvLeaseStore, kvTableStore, OPEN_RETRY } from "./_leadership_kv.ts";
import { PlacementTable, type TableGroup, type TableRow } from "./_placement_table.ts";

/** What the root is told. */
export interface LeaderHooks {
  /** This root leads now: it may place (and fence). */
  lead(holder: LeaseHolder): void;
  /** This root must stop acting now (its lease could not be renewed, or another root holds it). */
  stepDown(error: UnavailableError): void;
  /** A line for the runtime's log. */
  log(level: "info" | "warn" | "error", message: string): void;
}

/** A root's hold on the lease: close it to hand over at once. */
export interface Leader {
  /** Whether this root leads and may act now. */
  acting(): boolean;
  /**
   * The lease group agents know its placements by: the application's name, the bucket's and the
   * random id stored in the bucket when it was first used (a later term of this group adopts
   * what an earlier one placed; another deployment's bucket of the same name is another group).
   */
  readonly group: string;
  /** The root that leads, as the lease key says (`null`: no one, or unreadable). */
  holder(): Promise<string | null>;
  /**
   * Once this root leads: reads the rows of containers `names` (its own) from the placement
   * table, and claims them for this term, before it places anything; the rows by container name.
   */
  loadTable(names: Iterable<string>): Promise<Map<string, TableRow>>;
  /** Writes what is placed now where it changed (only while this root leads). */
  syncTable(placed: ReadonlyMap<string, TableGroup[]>): void;
  /** Deletes the key if held (the standby leads at its next look), then disconnects. */
  close(): Promise<void>;
}

/**
 * The bucket of the placement table beside lease bucket `bucket`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tableBucket } from "./_leader.ts";
 * assert.equal(tableBucket("shop_leader"), "shop_leader_placement");
 * ```
 */
export function tableBucket(bucket: string): string {
  return `${bucket}_placement`;
}

/**
 * Connects and makes one attempt to lead, then keeps renewing (leader) or watching (standby).
 * Opening the buckets is tried again for `context.retryFor` ms (default 10 s): a fresh JetStream
 * cluster answers only once it elected its meta leader.
 * @throws {UnavailableError} No server of `spec.servers` could be reached, or JetStream did not
 *   answer within the retries (off, or a cluster still electing its meta leader).
 * @throws {TopologyError} The lease bucket exists with another TTL than `spec.ttl` (or the table's
 *   with one): fix the bucket or the topology, as the message says.
 * @throws {AuthenticationError} NATS refused the credentials of `transports.nats`, or its `creds`
 *   file cannot be read.
 */
export async function startLeader(
  spec: LeadershipSpec,
  context: {
    name: string;
    app?: string;
    nats?: TransportsSpec["nats"];
    clock?: Clock;
    retryFor?: number;
    /** The replica count this root's topology gives container `name` (written with its row). */
    declared?: (name: string) => number | undefined;
  },
  hooks: LeaderHooks,
): Promise<Leader> {
  const creds = context.nats;
  // The same login as transports.nats (user and password, token or creds file).
  const login = creds ? await natsLogin(creds) : {};
  const open = async (role: string): Promise<NatsConnection> => {
    try {
      return await connect({
        servers: spec.servers,
        name: `kraken ${role} ${context.name}`,
        ...login,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 100,
        // A dead server is noticed well within the lease: the client moves to another node.
        pingInterval: Math.max(250, spec.ttl / 4),
        maxPingOut: 2,
        timeout: Math.max(1_000, spec.ttl),
      });
    } catch (error) {
      // nats.js let go of the socket: a reset arriving now must not end the process.
      socketsClosed();
      // Refused credentials read as such (AuthenticationError), never quoting them.
      const failure = startError(
        error,
        spec.servers.join(", "),
        (e) => scrubbed(e, [creds?.password, creds?.token]),
      );
      const message = `leadership.nats: ${failure.message}`;
      throw failure instanceof AuthenticationError
        ? new AuthenticationError(message)
        : new UnavailableError(message);
    }
  };
  const nc = await open("leadership");
  // The table on a connection of its own: however many rows it writes, a renewal of the lease
  // never waits behind them (a late renewal would end this root's leadership).
  let tableNc: NatsConnection;
  try {
    tableNc = await open("placement table");
  } catch (error) {
    await nc.close().catch(() => {});
    throw error;
  }
  let leadership: Leadership;
  let store: LeaseStore;
  let table: PlacementTable;
  let group: string;
  try {
    // One copy per server named, up to JetStream's 5: a cluster's lease survives a node.
    const replicas = Math.min(5, spec.servers.length);
    const retry = { clock: context.clock, retryFor: context.retryFor ?? OPEN_RETRY };
    store = await kvLeaseStore(nc, { bucket: spec.bucket, ttl: spec.ttl, replicas, ...retry });
    // Beside the lease, without its TTL: the table outlives the root that wrote it.
    const rows = await kvTableStore(tableNc, {
      bucket: tableBucket(spec.bucket),
      replicas,
      timeout: Math.max(200, spec.ttl / 4),
      ...retry,
    });
    group = `${context.app ?? ""}/${spec.bucket}/${await rows.identity()}`;
    table = new PlacementTable(
      rows,
      {
        term: () => leadership.acting() ? leadership.holder?.term ?? 0 : 0,
        // A row of a later term is a hint only: the lease key itself says who leads.
        confirm: () => leadership.confirm(),
        stale: (why) => leadership.resign(why),
        log: (level, message) => hooks.log(level, message),
        declared: context.declared,
      },
    );
    leadership = new Leadership(store, {
      name: context.name,
      ttl: spec.ttl,
      onLead: (holder) => {
        hooks.log("info", `leads (lease "${spec.bucket}", term ${holder.term})`);
        hooks.lead(holder);
      },
      onStepDown: (why) => {
        hooks.log("error", `stops acting as the root: ${why}`);
        hooks.stepDown(
          new UnavailableError(
            `this root lost its lease in bucket "${spec.bucket}": ${why}; it stopped so that the standby leads`,
          ),
        );
      },
      onError: (error) => hooks.log("warn", `leadership: ${error.message}`),
    }, context.clock);
    await leadership.start();
  } catch (error) {
    await nc.close().catch(() => {});
    await tableNc.close().catch(() => {});
    if (error instanceof TopologyError) throw error;
    throw new UnavailableError(
      `leadership: cannot use key-value bucket "${spec.bucket}" on ${
        spec.servers.join(", ")
      }, tried for ${(context.retryFor ?? OPEN_RETRY) / 1000} s: ${
        (error as Error).message
      }. Likely causes: JetStream is off (start nats-server with -js, or jetstream {} in its config), or a JetStream cluster is still electing its meta leader (a majority of its nodes must be up and routed to each other: see each node's log for "JetStream cluster new metadata leader")`,
    );
  }
  return {
    group,
    acting: () => leadership.acting(),
    loadTable: (names) => table.load(names),
    syncTable: (placed) => void table.sync(placed),
    async holder() {
      const held = await store.read().catch(() => null);
      return held ? parseHolder(held.value)?.root ?? null : null;
    },
    async close() {
      await leadership.close();
      await Promise.all([nc.close().catch(() => {}), tableNc.close().catch(() => {})]);
      socketsClosed();
    },
  };
}
