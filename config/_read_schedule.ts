/**
 * `schedule:`, jobs on a clock: each entry says when it fires (exactly one of `cron`, with an
 * optional `timezone`, and `every`) and the request each tick sends (`to`, `entity`, `topic`,
 * `body`), and what a tick found in the past does (`missed`). The cron expression's shape is
 * checked here (pure); its values are checked by the cron parser when the topology is loaded
 * (`config/load.ts`), which this pure module does not import.
 *
 * @module
 */
import { describe } from "./_describe.ts";
import { didYouMean } from "./_suggest.ts";
import { NAME, NAME_RULE, type Path, type Reader } from "./_reader.ts";
import { DEFAULTS, TOPOLOGY_VALUES } from "./_shape.ts";
import type { ScheduleSpec } from "./model.ts";
import { MAX_ENTITY_ID_LENGTH } from "../protocol/entity_owner.ts";

/** The shortest `every:` period: cron's own resolution is one second. */
export const MIN_EVERY_MS = 1000;

/** Cron's shorthand names (`@hourly`…), which the parser takes as whole expressions. */
const NICKNAMES = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@hourly"];
/** One cron field: digits, names (`MON`, `JAN`), `*`, ranges, steps, lists, `?`, `L`, `W`, `#`. */
const FIELD = /^[0-9A-Za-z*,/?#-]+$/;

/** What the targets of schedules are checked against. */
export interface ScheduleTargets {
  /** Container names of the topology, children included. */
  names: readonly string[];
  /**
   * Whether a name outside `names` is an error: not when the runtime has peers (`transports:` or
   * `hosts:`), whose containers a schedule may address too.
   */
  strict: boolean;
}

/**
 * The `schedule:` block, in the order written (`[]` when absent).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Reader } from "./_reader.ts";
 * import { readSchedules } from "./_read_schedule.ts";
 * const read = new Reader({ baseUrl: "file:///app/" });
 * const targets = { names: ["cleaner"], strict: true };
 * const [cleanup] = readSchedules(read, {
 *   cleanup: { every: "10s", to: "cleaner", topic: "cleanup" },
 * }, targets);
 * assert.equal(cleanup.every, 10_000);
 * assert.equal(cleanup.missed, "skip");
 * assert.throws(
 *   () => readSchedules(read, { x: { every: "10s", to: "cleanr", topic: "t" } }, targets),
 *   /schedule\.x\.to: unknown container "cleanr" \(did you mean "cleaner"\?\)/,
 * );
 * ```
 */
export function readSchedules(r: Reader, input: unknown, targets: ScheduleTargets): ScheduleSpec[] {
  if (input === undefined || input === null) return [];
  const entries = r.named(input, ["schedule"], "schedule names to { cron | every, to, topic }");
  return Object.entries(entries).map(([name, raw]) =>
    readSchedule(r, name, raw, { path: ["schedule", name], targets })
  );
}

/**
 * One schedule entry (`schedule.<name>`, or `rt.schedule(name, input)`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Reader } from "./_reader.ts";
 * import { readSchedule } from "./_read_schedule.ts";
 * const read = new Reader({ baseUrl: "file:///app/" });
 * const spec = readSchedule(read, "report", {
 *   cron: "0 * * * * *", timezone: "Europe/Paris", to: "reports", topic: "run", missed: "run_once",
 * }, { path: ["report"], targets: { names: ["reports"], strict: true } });
 * assert.equal(spec.timezone, "Europe/Paris");
 * assert.throws(
 *   () => readSchedule(read, "r", { every: "1s", cron: "* * * * *", to: "reports", topic: "t" }, {
 *     path: ["r"], targets: { names: ["reports"], strict: true },
 *   }),
 *   /exactly one of cron: and every:/,
 * );
 * ```
 */
export function readSchedule(
  r: Reader,
  name: string,
  input: unknown,
  where: { path: Path; targets: ScheduleTargets },
): ScheduleSpec {
  const path = where.path;
  if (!NAME.test(name)) {
    r.fail(path, `schedule name "${name}" is not valid; expected ${NAME_RULE}`, "key");
  }
  const s = r.block(input, path, "schedule");
  if ((s.cron === undefined) === (s.every === undefined)) {
    r.fail(
      s.cron === undefined ? path : [...path, "every"],
      `expected exactly one of cron: and every: (when it fires), got ${
        s.cron === undefined ? "neither" : "both"
      }`,
    );
  }
  const spec: ScheduleSpec = {
    name,
    to: target(r, s.to, [...path, "to"], where.targets),
    topic: s.topic === undefined
      ? r.missing([...path, "topic"], "the topic of the request each tick sends, such as run")
      : r.string(s.topic, [...path, "topic"], "the topic of the request each tick sends"),
    missed: r.oneOf(
      s.missed,
      [...path, "missed"],
      TOPOLOGY_VALUES.missed,
      DEFAULTS.schedule.missed,
    ),
  };
  if (s.cron !== undefined) spec.cron = cron(r, s.cron, [...path, "cron"]);
  if (s.every !== undefined) spec.every = every(r, s.every, [...path, "every"]);
  if (s.timezone !== undefined) {
    if (s.every !== undefined) {
      r.fail(
        [...path, "timezone"],
        `timezone: says how cron: is read; every: ticks on multiples of its period since the Unix epoch, the same in every zone: expected no timezone: with every:`,
      );
    }
    spec.timezone = timezone(r, s.timezone, [...path, "timezone"]);
  }
  if (s.entity !== undefined) {
    spec.entity = r.string(s.entity, [...path, "entity"], `an entity id of container "${spec.to}"`);
    // Refused here, not at each tick: the runtime would refuse to send every one of them.
    if (spec.entity.length > MAX_ENTITY_ID_LENGTH) {
      r.fail(
        [...path, "entity"],
        `expected an entity id of at most ${MAX_ENTITY_ID_LENGTH} characters, got one of ${spec.entity.length}`,
      );
    }
  }
  if (s.body !== undefined) spec.body = s.body;
  return spec;
}

function target(r: Reader, value: unknown, path: Path, targets: ScheduleTargets): string {
  if (value === undefined) {
    r.missing(path, "the container each tick is sent to, such as to: reports");
  }
  const name = r.string(value, path, "a container name");
  if (targets.strict && !targets.names.includes(name)) {
    r.fail(
      path,
      `unknown container "${name}"${didYouMean(name, targets.names)}; expected one of ${
        targets.names.join(", ") || "the containers (there are none)"
      }`,
    );
  }
  return name;
}

/** The shape of a cron expression: 5 or 6 fields (seconds first), or a shorthand such as `@hourly`. */
function cron(r: Reader, value: unknown, path: Path): string {
  const text = r.string(value, path, `a cron expression such as "0 * * * * *" (every minute)`);
  const trimmed = text.trim();
  if (NICKNAMES.includes(trimmed.toLowerCase())) return trimmed;
  const fields = trimmed.split(/\s+/);
  if ((fields.length !== 5 && fields.length !== 6) || !fields.every((f) => FIELD.test(f))) {
    r.fail(
      path,
      `expected a cron expression of 5 fields (minute hour day month weekday) or 6 (seconds first), such as "0 * * * * *", got ${
        describe(value)
      }`,
    );
  }
  return fields.join(" ");
}

/** A period of at least {@linkcode MIN_EVERY_MS}. */
function every(r: Reader, value: unknown, path: Path): number {
  const ms = r.duration(value, path, 0);
  if (ms < MIN_EVERY_MS || !Number.isInteger(ms)) {
    r.fail(
      path,
      `expected a period of at least 1s in whole milliseconds (such as 10s or 1m), got ${
        describe(value)
      }`,
    );
  }
  return ms;
}

/** An IANA time zone this JavaScript engine knows (`Intl` refuses any other). */
function timezone(r: Reader, value: unknown, path: Path): string {
  const zone = r.string(value, path, "an IANA time zone such as Europe/Paris or UTC");
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
  } catch {
    r.fail(path, `unknown time zone "${zone}"; expected an IANA name such as Europe/Paris or UTC`);
  }
  return zone;
}
