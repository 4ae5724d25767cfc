/**
 * The root's lease ({@linkcode LeaseStore}) on NATS JetStream key-value (nats.js v3,
 * `@nats-io/kv`): one key in a bucket whose TTL is the lease's (nats-server 2.9 has no per-key
 * TTL: the bucket's max age expires a key not written for that long). Revisions are the stream's
 * sequence numbers, so they only grow — from one leader's term to the next.
 *
 * @module
 */
import { jetstream, JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import type { LeaseStore } from "./_leadership.ts";
import { ROW_PREFIX, type TableStore } from "./_placement_table.ts";

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

/**
 * Opens (creating when missing) bucket `bucket` with TTL `ttl` ms (and `replicas` copies on a
 * JetStream cluster) on `nc`, and returns the lease key in it. Each request is bounded by `timeout` ms (a root cut off from NATS finds out then).
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
  options: { bucket: string; ttl: number; timeout?: number; replicas?: number },
): Promise<LeaseStore> {
  const js = jetstream(nc, { timeout: options.timeout ?? Math.max(200, options.ttl / 4) });
  const kv: KV = await new Kvm(js).create(options.bucket, {
    ttl: options.ttl,
    history: 1,
    replicas: options.replicas ?? 1,
  });
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
 * rows, read and written by name only (the
 * bucket is never listed: anyone who may write it could fill it). Each request is bounded by
 * `timeout` ms.
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
  options: { bucket: string; timeout?: number; replicas?: number },
): Promise<TableStore & { identity(): Promise<string> }> {
  const js = jetstream(nc, { timeout: options.timeout ?? 1_000 });
  const kv: KV = await new Kvm(js).create(options.bucket, {
    history: 1,
    replicas: options.replicas ?? 1,
  });
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
