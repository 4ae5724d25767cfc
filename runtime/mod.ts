/**
 * The runtime: containers at work. `Runtime` starts a topology, routes messages to containers by
 * name, supervises them (with `supervisor/`'s machine), changes them live and shuts them down; the
 * same node router runs in the host and in every worker and process. Public API in `runtime.ts`,
 * `container.ts`, `entities.ts`, `types.ts`, `snapshots.ts` and `metrics.ts`; everything
 * `_`-private is how.
 *
 * | files                                   | what                                                    |
 * | --------------------------------------- | ------------------------------------------------------- |
 * | `runtime.ts`, `types.ts`                | the `Runtime`: start, ref, scale, apply, tree, shutdown  |
 * | `_runtime_parts.ts`                     | what a runtime loads only when it starts (a container's isolate never does) |
 * | `container.ts`                          | `container()`, the context and refs a container gets     |
 * | `entities.ts`, `_entity_host.ts`, `_entity_store.ts` | `entities()`: virtual actors in a container's replicas, their mailboxes, passivation, stores |
 * | `_node.ts`, `_route_book.ts`, `_failover.ts`, `_held.ts`, `_topics.ts`, `_pending.ts`, `_turn_clock.ts`, `_suspicion.ts` | the node router: routes, requests and retries, restart buffers, publish/subscribe, deadlines and their clock, suspect peer links |
 * | `_instance.ts`, `_timers.ts`, `_dedupe.ts` | one incarnation: handlers, its timers, retried replies |
 * | `_modes.ts`, `_handle.ts`, `_inline_handle.ts`, `_isolate_handle.ts`, `_worker_handle.ts`, `_process_handle.ts`, `_incarnation.ts` | inline, worker and process: starting, watching, ending |
 * | `_worker_entry.ts`, `_process_entry.ts`, `_boot.ts`, `_boot_children.ts`, `_guard*.ts` | inside a worker or process: the guard, the boot, its own children |
 * | `_supervisor.ts`, `_supervisor_view.ts` | a supervisor at work in an isolate, its routes and tree  |
 * | `_trust.ts`, `_claims.ts`, `_edge.ts`, `_violations.ts` | what a child may say, and what is refused |
 * | `_sources.ts`, `_graph.ts`, `_host_config.ts`, `_host_flags.ts`, `_process_link.ts`, `_process_env.ts`, `_startable.ts` | what may start where, and how a process is linked and resolved |
 * | `http_errors.ts`, `_serve.ts`, `_serving_entry.ts`, `_serve_ports.ts`, `_serve_check.ts` | serving a port: the listener in each isolate (loaded by a serving instance only), port 0, what it takes, error → status |
 * | `_apply.ts`, `_tree.ts`, `_events.ts`, `_metrics.ts`, `_usage.ts`, `_topic_metrics.ts`, `_remote_metrics.ts`, `_route_pace.ts`, `_transports.ts`, `_placed.ts` | live changes, the tree, events, figures, each isolate's memory and CPU |
 * | `_schedule_plan.ts`, `_schedules.ts`, `_schedule_site.ts` | schedules: which tick fires (pure), the timers and state, the delivery of a tick |
 * | `audit.ts`                              | who asked for which change (`rt.audit`, `audit` events)   |
 * | `_tracing.ts`                           | traces: client and server spans through Deno's OpenTelemetry, W3C context on requests |
 *
 * @module
 */
export * from "./runtime.ts";
export * from "./container.ts";
export * from "./entities.ts";
export type * from "./snapshots.ts";
export type * from "./metrics.ts";
export * from "./http_errors.ts";
