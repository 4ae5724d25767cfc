/**
 * Distribution: one application over several runtimes. Everything a runtime does beyond its own
 * isolates lives in this folder, behind one small interface the runtime builds once
 * ({@linkcode createDistribution} → {@linkcode Distribution}):
 *
 * | file                 | what                                                                  |
 * | -------------------- | --------------------------------------------------------------------- |
 * | `distribution.ts`    | the one object: wires the parts below to the runtime's hub and hooks  |
 * | `_federation.ts`     | direct links to peer runtimes (`transports:` + `hosts:`), redials     |
 * | `_peers.ts`          | peers on the clock (unreachable, away, gone), and their name claims   |
 * | `_nats.ts`           | the bridge to NATS (`transports.nats`), loaded only when used         |
 * | `_nats_presence.ts`  | runtimes seen over NATS on the clock: away, gone                      |
 * | `_nats_serving.ts`   | requests from other runtimes served here over NATS                    |
 * | `_nats_wire.ts`      | the `@nats` link, connecting, payload decoding, credential scrubbing  |
 * | `_nats_messages.ts`  | what the bridge publishes and receives: encoded, signed, checked      |
 * | `_nats_auth.ts`      | signatures of NATS messages with `transports.secret`, replays         |
 * | `_throttle.ts`       | at once while rare, at most once per interval while frequent          |
 * | `_placement.ts`      | a root placing `mode: remote` containers on host agents, leases        |
 * | `_spread_placement.ts` | `placement: spread`: a group of a container's replicas per agent    |
 * | `_spread.ts`         | the pure decision of how many replicas go on which agent, rebalancing |
 * | `_placed_spec.ts`    | the spec an agent is given, and when a lost agent's placements move   |
 * | `_leadership.ts`     | a root's lease (leader or standby) on a store with revisions           |
 * | `_leader.ts`         | the lease and placement table on NATS, as `distribution.ts` uses them  |
 * | `_placement_table.ts` | what the leader placed where, in KV: a new leader places it there again |
 * | `_peer_routes.ts`   | a peer's announced routes, cut to what it may announce                 |
 * | `_relay.ts`          | what a root relays to each agent of the others'; own group first       |
 * | `_agent.ts`          | a host agent (`kraken node`) running what roots place on it, fencing   |
 * | `_clock.ts`          | the injected clock every timed decision here runs on                  |
 * | `types.ts`           | the shapes shared with the runtime                                    |
 *
 * Layering: distribution imports `protocol/`, `transports/`, `config/` and `supervisor/` (for
 * types and the clock); the runtime imports distribution, never the other way round. Where it
 * needs the runtime's hub node it asks for the small {@linkcode Hub} interface the node
 * satisfies; what it needs of the runtime's supervisors comes through
 * {@linkcode DistributionSite} hooks. Route-table rules it shares with the runtime (merging,
 * cutting a reported table to what its sender may announce, choosing a replica) live in
 * `protocol/routes.ts` and `protocol/balancer.ts`, and the host-grant check in
 * `config/_grant.ts`.
 *
 * @module
 */
export { createDistribution } from "./distribution.ts";
export type {
  AgentOptions,
  Distribution,
  DistributionOptions,
  DistributionSite,
  DistributionSnapshot,
  Forwarded,
  Hub,
  InstanceUsage,
  PeerSnapshot,
  PlacementSnapshot,
  RemoteContainer,
} from "./types.ts";
