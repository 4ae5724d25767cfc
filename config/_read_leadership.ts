/**
 * `leadership:`, where the root's lease lives (a standby root, `kraken start --standby`): the
 * NATS servers with JetStream, the key-value bucket and the lease's TTL. See docs/distribution.md.
 *
 * @module
 */
import { describe } from "./_describe.ts";
import type { Reader } from "./_reader.ts";
import { natsServer } from "./_read_transports.ts";
import type { LeadershipSpec, TransportsSpec } from "./model.ts";

/** What a JetStream KV bucket name may hold. */
const BUCKET = /^[A-Za-z0-9_-]+$/;
/** The shortest lease: each renewal is a round trip to NATS, three of them within ttl − margin. */
export const MIN_LEASE_TTL = 300;
/** The lease's TTL when `ttl:` is absent, ms. */
export const DEFAULT_LEASE_TTL = 2_000;

/**
 * A `leadership:` block, `undefined` when there is none. `nats:` defaults to the servers (and the
 * credentials) of `transports.nats`; `bucket:` to `<application>_leader`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Reader } from "./_reader.ts";
 * import { readLeadership } from "./_read_leadership.ts";
 * const read = new Reader({ baseUrl: "file:///app/" });
 * assert.deepEqual(readLeadership(read, { nats: "nats://10.0.0.5:4222", ttl: "2s" }, "shop"), {
 *   servers: ["nats://10.0.0.5:4222"],
 *   bucket: "shop_leader",
 *   ttl: 2000,
 * });
 * assert.throws(() => readLeadership(read, { nats: "nats://a:4222", ttl: "10ms" }, "shop"), /300ms/);
 * ```
 */
export function readLeadership(
  r: Reader,
  input: unknown,
  appName: string,
  transports?: TransportsSpec,
): LeadershipSpec | undefined {
  if (input === undefined) return undefined;
  const path = ["leadership"];
  const l = r.block(input, path, "leadership");
  let servers: string[];
  if (l.nats === undefined) {
    if (!transports?.nats) {
      r.missing(
        [...path, "nats"],
        "the NATS servers (with JetStream, nats-server -js) the lease lives on, such as nats://10.0.0.5:4222, since transports.nats is not set",
      );
    }
    servers = transports.nats.servers;
  } else {
    const list = typeof l.nats === "string" ? l.nats.split(",").map((u) => u.trim()) : l.nats;
    if (!Array.isArray(list) || list.length === 0) {
      r.fail(
        [...path, "nats"],
        `expected a NATS server URL or a list of them, such as nats://10.0.0.5:4222, got ${
          Array.isArray(list) ? "an empty list" : describe(l.nats)
        }`,
      );
    }
    servers = list.map((v, i) =>
      natsServer(r, v, typeof l.nats === "string" ? [...path, "nats"] : [...path, "nats", i])
    );
  }
  const bucket = l.bucket === undefined ? `${appName}_leader` : l.bucket;
  if (typeof bucket !== "string" || !BUCKET.test(bucket)) {
    r.fail(
      [...path, "bucket"],
      `expected a key-value bucket name (letters, digits, "_" and "-"), got ${describe(bucket)}`,
    );
  }
  const ttl = r.duration(l.ttl, [...path, "ttl"], DEFAULT_LEASE_TTL);
  if (ttl < MIN_LEASE_TTL || ttl > 3_600_000) {
    r.fail([...path, "ttl"], `expected a duration from 300ms to 1h, got ${describe(l.ttl)}`);
  }
  return { servers, bucket, ttl };
}
