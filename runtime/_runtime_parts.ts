/**
 * What a {@linkcode Runtime} needs only once it starts: topology loading, supervisors, the modes,
 * the source check, distribution, serving checks and schedules. `runtime.ts` imports this module
 * when the first runtime starts, not when it is evaluated: every worker and process container
 * imports the library (`mod.ts`, hence `runtime.ts`), and none of them starts a runtime, so its
 * isolate evaluates none of this (see docs/performance.md, start-up).
 *
 * @module
 */
export { loadTopology } from "../config/load.ts";
export { createDistribution } from "../distribution/mod.ts";
export { InlineHandle } from "./_modes.ts";
export { admitIsolate } from "./_sources.ts";
export {
  assertGrantsWithinHost,
  assertStartableHere,
  hasInline,
  validateSpawn,
} from "./_startable.ts";
export { Supervisor } from "./_supervisor.ts";
export { PeerPorts } from "./_peer_ports.ts";
export { transportsFor } from "./_transports.ts";
export { ServePorts } from "./_serve_ports.ts";
export { assertPortFree, servingWarnings } from "./_serve_check.ts";
export { Schedules } from "./_schedules.ts";
export { scheduleSite, validateScheduleHere } from "./_schedule_site.ts";
