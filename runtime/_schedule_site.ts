/**
 * What the scheduler (`_schedules.ts`) runs on in a runtime: the wall clock and its timers, the
 * cron parser (loaded on demand), and the delivery of a tick as a request from the hub. Also the
 * check of a schedule given in code (`rt.schedule`), the same as an entry of `schedule:`.
 *
 * @module
 */
import { cronNextRun } from "../config/cron.ts";
import type { ScheduleInput, ScheduleSpec, Topology } from "../config/topology.ts";
import { validateSchedule } from "../config/topology.ts";
import type { LogLevel } from "../protocol/envelope.ts";
import type { RequestOptions } from "./container.ts";
import { everyTick } from "./_schedule_plan.ts";
import type { ScheduleSite } from "./_schedules.ts";
import type { ScheduleEvent } from "./types.ts";

/**
 * How a tick is delivered: a request whose retries reuse its id, so an instance that already ran
 * it answers a retry from its kept reply instead of running the handler again; it waits while its
 * target restarts (`hold`), within one minute in all.
 */
export const TICK_DELIVERY: Readonly<RequestOptions> = Object.freeze({
  timeout: 10_000,
  retries: 5,
  totalTimeout: 60_000,
  hold: true,
});

/** The hub, as the scheduler sends from it. */
interface Hub {
  request(
    name: string,
    topic: string,
    body: unknown,
    options: RequestOptions & { tick: string },
    entity?: string,
  ): Promise<unknown>;
}

/**
 * The scheduler's site in a runtime: real time, and ticks sent from `hub`.
 *
 * @example
 * ```ts ignore
 * const schedules = new Schedules(scheduleSite({ hub, emit, log }));
 * ```
 */
export function scheduleSite(parts: {
  hub: Hub;
  emit: (event: ScheduleEvent) => void;
  log: (level: LogLevel, message: string) => void;
}): ScheduleSite {
  return {
    clock: {
      now: () => Date.now(),
      setTimer: (fire, ms) => setTimeout(fire, ms),
      clearTimer: (timer) => clearTimeout(timer as number),
    },
    nextTick: (spec) =>
      spec.every !== undefined
        ? Promise.resolve(everyTick(spec.every))
        : cronNextRun(spec.cron!, { timezone: spec.timezone, key: `schedule.${spec.name}.cron` }),
    deliver: (spec, tick) => {
      // Sent from the hub with the tick id, which the handler sees as `meta.tick`; to an entity,
      // it goes to the replica owning the id (chosen anew on each retry, so a tick whose owner
      // died reaches the new one), which activates the entity if it is not active.
      return parts.hub.request(
        spec.to,
        spec.topic,
        spec.body,
        { ...TICK_DELIVERY, tick },
        spec.entity,
      );
    },
    emit: parts.emit,
    log: parts.log,
  };
}

/**
 * A schedule given in code, checked as an entry of `schedule:` would be: its target among the
 * containers (unless the runtime has peers, whose containers it may address), its cron expression
 * read by the parser.
 *
 * @throws {TopologyError} Naming the key and the bad value.
 */
export async function validateScheduleHere(
  name: string,
  input: ScheduleInput,
  where: { baseUrl: string; topology: Topology; names: readonly string[] },
): Promise<ScheduleSpec> {
  const { topology } = where;
  const peers = topology.transports !== undefined || Object.keys(topology.hosts).length > 0;
  const spec = validateSchedule(name, input, {
    baseUrl: where.baseUrl,
    env: (variable) => Deno.env.get(variable),
    ...(peers ? {} : { containers: [...new Set([...where.names, ...allNames(topology)])] }),
  });
  if (spec.cron !== undefined) {
    await cronNextRun(spec.cron, { timezone: spec.timezone, key: `${name}.cron` });
  }
  return spec;
}

function allNames(topology: Topology): string[] {
  const walk = (specs: Topology["containers"]): string[] =>
    specs.flatMap((s) => [s.name, ...walk(s.children)]);
  return walk(topology.containers);
}
