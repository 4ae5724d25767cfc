/**
 * The root's lease ({@linkcode LeaseStore}) on NATS JetStream key-value (nats.js v3,
 * `@nats-io/kv`): one key in a bucket whose TTL is the lease's (nats-server 2.9 has no per-key
 * TTL: the bucket's max age expires a key not written for that long). Revisions are the stream's
 * sequence numbers, so they only grow — from one leader's term to the next.
 *
 * @module
 */
import {
  jetstream,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
} from "@nats-io/jetstream";
import { type KV, Kvm, type KvOptions } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { TopologyError } from "../protocol/errors.ts";
import { type Clock, SYSTEM_CLOCK, Timers } from "./_clock.ts";
import type { LeaseStore } from "./_leadership.ts";
import { ROW_PREFIX, type TableStore } from "./_placement_table.ts";

/**
 * How long opening (or creating) a bucket is tried again, ms: a fresh JetStream cluster answers
 * only once it has elected its meta leader, a few seconds after its nodes start.
 */
export const OPEN_RETRY = 10_000;

/** How a bucket is opened: retried for `retryFor` ms (default {@linkcode OPEN_RETRY}). */
export interface OpenOptions {
  /** How long opening is tried again before it fails, ms. */
  retryFor?: number;
  /** The clock the retries wait on (default this isolate's). */
  clock?: Clock;
}

/** The key the leading root holds. */
export const LEADER_KEY = "leader";

/**
 * The key of the table's bucket naming this lease group: a random id written once, when the
 * bucket is first used, so that two deployments with a bucket of the same name (on other
 * servers) are two groups.
 */
export const GROUP_KEY = "group";

/** JetStream's "wrong last sequence" codes: a compare-and-set lost to another writer. */
const WRONG_LAST_SEQUENCE = new Set<number>([
  JetStreamApiCodes.StreamWrongLastSequence,
  JetStreamApiCodes.StreamWrongLastSequenceUnknown,
]);

function lostRace(error: unknown): boolean {
  return error instanceof JetStreamApiError && WRONG_LAST_SEQUENCE.has(error.code);
}

function refusedOutright(error: unknown): boolean {
  // Retrying does not change a refusal of rights (nor a bucket this root must not use).
  return error instanceof TopologyError ||
    /permission|authori[sz]ation/i.test((error as Error)?.message ?? "");
}

/**
 * Opens bucket `bucket` (creating it with `config` when missing) and returns it with its TTL (its
 * max age) in ms, 0 for none; tried again with backoff (100 ms doubling to 2 s) for up to
 * `retryFor` ms while JetStream does not answer, then the last error is thrown.
 */
async function openBucket(
  js: JetStreamClient,
  bucket: string,
  config: Partial<KvOptions>,
  options: OpenOptions,
): Promise<{ kv: KV; ttl: number }> {
  const timers = new Timers(options.clock ?? SYSTEM_CLOCK);
  const until = timers.now() + (options.retryFor ?? OPEN_RETRY);
  let delay = 100;
  while (true) {
    try {
      const kv = await new Kvm(js).create(bucket, config);
      return { kv, ttl: (await kv.status()).ttl };
    } catch (error) {
      const left = until - timers.now();
      if (refusedOutright(error) || left <= 0) throw error;
      await timers.sleep(Math.min(delay, left));
      delay = Math.min(2_000, delay * 2);
    }
  }
}

/**
 * Opens (creating when missing) bucket `bucket` with TTL `ttl` ms (and `replicas` copies on a
 * JetStream cluster) on `nc`, and returns the lease key in it. Each request is bounded by
 * `timeout` ms (a root cut off from NATS finds out then); opening is tried again for
 * `retryFor` ms (default {@linkcode OPEN_RETRY}: a fresh cluster electing its meta leader).
 * @throws {TopologyError} The bucket exists with another TTL (max age) than `ttl`: a leader
 *   would count its lease by one while the server expires it by the other. It is not changed
 *   here: a root running now with the bucket's TTL counts on it, and shortening it under that
 *   root would let its key expire while it still acts (two leaders).
 *
 * @example
 * ```ts ignore
 * import { connect } from "@nats-io/transport-node";
 * const nc = await connect({ servers: ["nats://127.0.0.1:4222"] });
 * const store = await kvLeaseStore(nc, { bucket: "shop_leader", ttl: 1_000 });
 * await store.create(new TextEncoder().encode("{}"));
 * ```
 */
export async function kvLeaseStore(
  nc: NatsConnection,
  options: { bucket: string; ttl: number; timeout?: number; replicas?: number } & OpenOptions,
): Promise<LeaseStore> {
  const js = jetstream(nc, { timeout: options.timeout ?? Math.max(200, options.ttl / 4) });
  const { kv, ttl } = await openBucket(js, options.bucket, {
    ttl: options.ttl,
    history: 1,
    replicas: options.replicas ?? 1,
  }, options);
  if (ttl !== options.ttl) {
    throw new TopologyError(
      `${options.ttl} ms, but key-value bucket "${options.bucket}" exists on the NATS server with a TTL (max age) of ${
        ttl === 0 ? "none (its keys never expire)" : `${ttl} ms`
      }: the lease would be counted by one and expired by the other, and two roots could lead at once. Give every root leadership.ttl: ${
        ttl === 0 ? "<the bucket's>" : `${ttl}ms`
      }, or delete the bucket while no root runs (nats kv del ${options.bucket}) so that it is created again with ${options.ttl} ms (it is not changed here: a root running with the bucket's TTL counts on it)`,
      { key: "leadership.ttl" },
    );
  }
  return {
    async create(value) {
      try {
        return await kv.create(LEADER_KEY, value);
      } catch (error) {
        if (lostRace(error)) return null;
        throw error;
      }
    },
    async update(value, revision) {
      try {
        return await kv.update(LEADER_KEY, value, revision);
      } catch (error) {
        if (lostRace(error)) return null;
        throw error;
      }
    },
    async read() {
      const entry = await kv.get(LEADER_KEY);
      if (!entry || entry.operation !== "PUT") return null;
      return { value: entry.value, revision: entry.revision };
    },
    async remove(revision) {
      await kv.delete(LEADER_KEY, { previousSeq: revision });
    },
  };
}

/**
 * Opens (creating when missing) bucket `bucket` without a TTL for the placement table (one key
 * per container, `placement.<name>`, and the group's id, {@linkcode GROUP_KEY}) and returns its
 * rows, read and written by name only (the bucket is never listed: anyone who may write it could
 * fill it). Each request is bounded by `timeout` ms; opening is tried again for `retryFor` ms
 * (default {@linkcode OPEN_RETRY}).
 * @throws {TopologyError} The bucket exists with a TTL: rows would expire under the leader.
 *
 * @example
 * ```ts ignore
 * import { connect } from "@nats-io/transport-node";
 * const nc = await connect({ servers: ["nats://127.0.0.1:4222"] });
 * const table = await kvTableStore(nc, { bucket: "shop_leader_placement" });
 * console.log(await table.read("x"));
 * ```
 */
export async function kvTableStore(
  nc: NatsConnection,
  options: { bucket: string; timeout?: number; replicas?: number } & OpenOptions,
): Promise<TableStore & { identity(): Promise<string> }> {
  const js = jetstream(nc, { timeout: options.timeout ?? 1_000 });
  const { kv, ttl } = await openBucket(js, options.bucket, {
    history: 1,
    replicas: options.replicas ?? 1,
  }, options);
  if (ttl !== 0) {
    throw new TopologyError(
      `key-value bucket "${options.bucket}" (the placement table) exists on the NATS server with a TTL (max age) of ${ttl} ms, expected none: its rows would expire under the leading root. Delete it while no root runs (nats kv del ${options.bucket}); it is created again without one`,
      { key: "leadership.bucket" },
    );
  }
  const read = async (name: string) => {
    const entry = await kv.get(ROW_PREFIX + name);
    return entry && entry.operation === "PUT"
      ? { value: entry.value, revision: entry.revision }
      : null;
  };
  return {
    read,
    async identity() {
      // The first root to open the bucket names the group; every later one reads that name.
      const mine = new TextEncoder().encode(crypto.randomUUID());
      try {
        await kv.create(GROUP_KEY, mine);
      } catch (error) {
        if (!lostRace(error)) throw error;
      }
      const entry = await kv.get(GROUP_KEY);
      if (!entry || entry.operation !== "PUT") throw new Error(`key "${GROUP_KEY}" vanished`);
      return new TextDecoder().decode(entry.value);
    },
    async write(name, value, revision) {
      try {
        return revision === null
          ? await kv.create(ROW_PREFIX + name, value)
          : await kv.update(ROW_PREFIX + name, value, revision);
      } catch (error) {
        if (lostRace(error)) return null;
        throw error;
      }
    },
  };
}
