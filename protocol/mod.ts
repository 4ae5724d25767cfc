/**
 * Protocol: what crosses every link, as pure data and pure functions — no `Deno.*`, no I/O. Every
 * other folder builds on it.
 *
 * | file                | what                                                                     |
 * | ------------------- | ------------------------------------------------------------------------ |
 * | `envelope.ts`       | the envelopes (request, reply, publication, control) and routing tables   |
 * | `envelope_check.ts` | the edge rule: what an envelope from outside an isolate must be           |
 * | `envelope_pack.ts`  | plain requests and replies as tuples, for a worker's port (not exported)  |
 * | `wire_value.ts`     | the values that may cross a container boundary, one rule for both sides  |
 * | `msgpack.ts`        | the msgpack codec (decoding with a depth and object budget)              |
 * | `framing.ts`        | length-prefixed frames for byte-stream links                             |
 * | `errors.ts`         | the typed errors Kraken throws, and their wire form                      |
 * | `routes.ts`         | routing tables: node and instance ids, merging, cutting a reported table |
 * | `balancer.ts`       | choosing a replica (`round_robin`, `random`, `key_hash`)                 |
 * | `trace_context.ts`  | W3C `traceparent` / `tracestate`: parsed, formatted, checked at the edge |
 * | `entity_owner.ts`   | which replica owns an entity id (rendezvous hashing), valid entity ids   |
 *
 * @module
 */
export * from "./envelope.ts";
export * from "./envelope_check.ts";
export * from "./wire_value.ts";
export * from "./msgpack.ts";
export * from "./framing.ts";
export * from "./errors.ts";
export * from "./routes.ts";
export * from "./balancer.ts";
export * from "./trace_context.ts";
export * from "./entity_owner.ts";
