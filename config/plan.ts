/**
 * Plans: what it takes to go from the topology a runtime runs to an edited one, as pure data.
 *
 * `planTopology(current, next)` compares the two container by container (nested children
 * included) and says, for each, whether it is added, removed, scaled, replaced (a new incarnation
 * starts beside the old one, traffic switches, the old one drains and stops) or updated in place
 * (no restart). What a running application cannot change (its name, its links to other runtimes)
 * is listed in `refused` and left as it is. Nothing here does I/O: the runtime applies a plan.
 *
 * @example What `kraken reload` shows before it applies an edited topology
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatPlan, planTopology } from "./plan.ts";
 * import { validateTopology } from "./topology.ts";
 * const base = { baseUrl: "file:///app/" };
 * const running = validateTopology({
 *   containers: { api: { module: "./api.ts" }, cache: { module: "./cache.ts" } },
 * }, base);
 * const edited = validateTopology({
 *   containers: { api: { module: "./api.ts", replicas: 3 }, db: { module: "./db.ts" } },
 * }, base);
 * const plan = planTopology(running, edited);
 * assert.deepEqual(plan.steps.map((s) => `${s.op} ${s.name}`), ["scale api", "add db", "remove cache"]);
 * console.log(formatPlan(plan));
 * ```
 *
 * @module
 */
import type { ContainerSpec, Mode, ScheduleSpec, Topology } from "./topology.ts";
import type { SupervisorSpec } from "../supervisor/spec.ts";

/** One change of a plan. */
export type PlanStep =
  /** A container that was not there: started in topology order. */
  | { op: "add"; name: string; parent: string | null; mode: Mode; replicas: number }
  /** A container no longer in the topology: stopped (gracefully, then killed) and removed. */
  | { op: "remove"; name: string; parent: string | null }
  /** A different number of replicas: new ones start, surplus ones stop (last first). */
  | { op: "scale"; name: string; parent: string | null; from: number; to: number }
  /**
   * What an instance was started with changed (module, mode, permissions, unstable, config, its
   * children or its own supervisor when they live in its isolate): new incarnations start beside
   * the old ones, traffic switches to them, then the old ones drain their in-flight work and stop.
   */
  | { op: "replace"; name: string; parent: string | null; changes: string[] }
  /** Only what the supervisor uses changed (restart, shutdown, keepalive, buffer, balance, on_error). */
  | { op: "update"; name: string; parent: string | null; changes: string[] }
  /** A supervisor's flags changed: the root (`name: null`) or an inline container's. */
  | { op: "supervisor"; name: string | null; changes: string[] };

/**
 * A change to `schedule:`, applied after the containers' steps. A schedule left unchanged keeps
 * its state (its last tick is not fired again); a `replan`ned one starts afresh from the moment
 * it is applied (its next tick is computed anew, ticks before it are not fired).
 */
export type ScheduleStep =
  | { op: "add"; name: string; when: string; to: string }
  | { op: "remove"; name: string }
  | { op: "replan"; name: string; changes: string[] };

/** What applying a topology would do. */
export interface Plan {
  /** The changes, in the order they are applied. */
  steps: PlanStep[];
  /** Changes to `schedule:` (absent or empty: none). */
  schedules?: ScheduleStep[];
  /** Containers left exactly as they are. */
  unchanged: string[];
  /** Differences a running application cannot take (they need a restart of the runtime). */
  refused: string[];
}

/** Fields that only the supervisor reads: changed in place. */
const IN_PLACE = ["restart", "shutdown", "keepalive", "buffer", "balance", "onError"] as const;
/** Fields an instance is started with: a change needs a new incarnation. */
const AT_START = [
  "module",
  "mode",
  "permissions",
  "unstable",
  "config",
  "host",
  "runsAs",
  "serve",
  "maxMemory",
  "entities",
] as const;

/**
 * The plan that turns `current` into `next`.
 *
 * Order: supervisor flags, then additions, replacements, scaling and in-place updates in `next`'s
 * order (so a new container exists before one that needs it is replaced), then removals in
 * reverse order of `current`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { planTopology } from "./plan.ts";
 * import { validateTopology } from "./topology.ts";
 * const base = { baseUrl: "file:///app/" };
 * const a = validateTopology({ containers: { api: { module: "./api.ts" } } }, base);
 * const b = validateTopology({ containers: { api: { module: "./api.ts", replicas: 3 } } }, base);
 * assert.equal(planTopology(a, b).steps[0].op, "scale");
 * ```
 */
export function planTopology(current: Topology, next: Topology): Plan {
  const plan: Plan = { steps: [], unchanged: [], refused: [] };
  if (current.name !== next.name) {
    plan.refused.push(`name: "${current.name}" → "${next.name}" (restart the runtime to rename)`);
  }
  if (canonical(current.transports) !== canonical(next.transports)) {
    plan.refused.push("transports: links to other runtimes change only with a restart");
  }
  if (canonical(current.hosts) !== canonical(next.hosts)) {
    plan.refused.push("hosts: links to other runtimes change only with a restart");
  }
  if ((current.placement ?? "spread") !== (next.placement ?? "spread")) {
    plan.refused.push("placement: the policy for remote containers changes only with a restart");
  }
  if (canonical(current.management) !== canonical(next.management)) {
    plan.refused.push("management: the API's address and token change only with a restart");
  }
  const rootChanges = supervisorChanges(current.supervisor, next.supervisor);
  if (rootChanges.length > 0) {
    plan.steps.push({ op: "supervisor", name: null, changes: rootChanges });
  }
  diffLevel(current.containers, next.containers, null, plan);
  const schedules = diffSchedules(current.schedules ?? [], next.schedules ?? []);
  if (schedules.length > 0) plan.schedules = schedules;
  return plan;
}

/** Schedules added, changed (with the fields that changed) and removed, by name. */
function diffSchedules(current: readonly ScheduleSpec[], next: readonly ScheduleSpec[]) {
  const steps: ScheduleStep[] = [];
  const before = new Map(current.map((s) => [s.name, s]));
  for (const spec of next) {
    const old = before.get(spec.name);
    if (!old) {
      const when = spec.cron !== undefined
        ? `cron "${spec.cron}"${spec.timezone ? ` ${spec.timezone}` : ""}`
        : `every ${spec.every}ms`;
      steps.push({ op: "add", name: spec.name, when, to: `${spec.to}.${spec.topic}` });
      continue;
    }
    const fields = new Set([...Object.keys(old), ...Object.keys(spec)]) as Set<keyof ScheduleSpec>;
    const changes = [...fields].filter((f) => canonical(old[f]) !== canonical(spec[f])).sort();
    if (changes.length > 0) steps.push({ op: "replan", name: spec.name, changes });
  }
  const after = new Set(next.map((s) => s.name));
  for (const spec of current) {
    if (!after.has(spec.name)) steps.push({ op: "remove", name: spec.name });
  }
  return steps;
}

/** Compares the containers one supervisor has (`parent`'s children, or the root's). */
function diffLevel(
  current: readonly ContainerSpec[],
  next: readonly ContainerSpec[],
  parent: string | null,
  plan: Plan,
): void {
  const before = new Map(current.map((c) => [c.name, c]));
  const after = new Set(next.map((c) => c.name));
  const removals: PlanStep[] = [];
  for (const spec of current.toReversed()) {
    if (!after.has(spec.name)) removals.push({ op: "remove", name: spec.name, parent });
  }
  for (const spec of next) {
    const old = before.get(spec.name);
    if (!old) {
      plan.steps.push({
        op: "add",
        name: spec.name,
        parent,
        mode: spec.mode,
        replicas: spec.replicas,
      });
      continue;
    }
    diffContainer(old, spec, parent, plan);
  }
  plan.steps.push(...removals);
}

function diffContainer(old: ContainerSpec, spec: ContainerSpec, parent: string | null, plan: Plan) {
  const name = spec.name;
  const atStart: string[] = [];
  for (const field of AT_START) {
    if (canonical(old[field]) === canonical(spec[field])) continue;
    atStart.push(
      field === "mode"
        ? `mode: ${old.mode} → ${spec.mode}`
        : field === "module"
        ? `module: ${old.module} → ${spec.module}`
        : field,
    );
  }
  // Children and their supervisor live in the container's own isolate unless it is inline: then
  // a change to them is a change to the container.
  const ownSupervisor = supervisorChanges(old.supervisor, spec.supervisor);
  const inlineBoth = old.mode === "inline" && spec.mode === "inline";
  if (!inlineBoth) {
    if (ownSupervisor.length > 0) atStart.push(`supervisor (${ownSupervisor.join(", ")})`);
    if (canonical(old.children) !== canonical(spec.children)) atStart.push("children");
  }
  const inPlace = IN_PLACE.filter((f) => canonical(old[f]) !== canonical(spec[f])).map((f) =>
    f === "onError"
      ? "on_error"
      : typeof spec[f] === "object"
      ? f
      : `${f}: ${String(old[f])} → ${String(spec[f])}`
  );
  if (atStart.length > 0) {
    // A replacement starts `spec.replicas` new instances: no separate scale or update.
    const extra = old.replicas !== spec.replicas
      ? [`replicas: ${old.replicas} → ${spec.replicas}`]
      : [];
    plan.steps.push({
      op: "replace",
      name,
      parent,
      changes: [...atStart, ...extra, ...inPlace],
    });
    return;
  }
  let changed = false;
  if (old.replicas !== spec.replicas) {
    plan.steps.push({ op: "scale", name, parent, from: old.replicas, to: spec.replicas });
    changed = true;
  }
  if (inPlace.length > 0) {
    plan.steps.push({ op: "update", name, parent, changes: inPlace });
    changed = true;
  }
  if (inlineBoth) {
    if (ownSupervisor.length > 0) {
      plan.steps.push({ op: "supervisor", name, changes: ownSupervisor });
      changed = true;
    }
    // Its children are planned by their own names (those unchanged are listed as such).
    diffLevel(old.children, spec.children, name, plan);
  }
  if (!changed) plan.unchanged.push(name);
}

function supervisorChanges(a: SupervisorSpec, b: SupervisorSpec): string[] {
  const out: string[] = [];
  if (a.strategy !== b.strategy) out.push(`strategy: ${a.strategy} → ${b.strategy}`);
  if (a.intensity !== b.intensity) out.push(`intensity: ${a.intensity} → ${b.intensity}`);
  if (a.period !== b.period) out.push(`period: ${a.period}ms → ${b.period}ms`);
  if (canonical(a.backoff) !== canonical(b.backoff)) out.push("backoff");
  return out;
}

/** A stable text form for comparing plain data (object keys sorted). */
function canonical(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v) =>
      v && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
        : v,
  ) ?? "undefined";
}

/**
 * A plan as lines for people: `+` add, `-` remove, `~` replace, `↕` scale, `=` update in place,
 * `!` what will not be applied.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatPlan } from "./plan.ts";
 * const text = formatPlan({
 *   steps: [{ op: "scale", name: "api", parent: null, from: 1, to: 3 }],
 *   unchanged: ["db"],
 *   refused: [],
 * });
 * assert.ok(text.startsWith("↕ scale api: 1 → 3 replicas"));
 * ```
 */
export function formatPlan(plan: Plan): string {
  const lines = plan.steps.map((step) => {
    const under = "parent" in step && step.parent ? ` (under ${step.parent})` : "";
    switch (step.op) {
      case "add":
        return `+ add ${step.name}${under}: ${step.mode}, ${step.replicas} replica${
          step.replicas === 1 ? "" : "s"
        }`;
      case "remove":
        return `- remove ${step.name}${under}`;
      case "scale":
        return `↕ scale ${step.name}${under}: ${step.from} → ${step.to} replicas`;
      case "replace":
        return `~ replace ${step.name}${under}: ${step.changes.join("; ")}`;
      case "update":
        return `= update ${step.name}${under} in place: ${step.changes.join("; ")}`;
      case "supervisor":
        return `= supervisor ${step.name ?? "root"}: ${step.changes.join("; ")}`;
    }
  });
  for (const step of plan.schedules ?? []) {
    lines.push(
      step.op === "add"
        ? `+ schedule ${step.name}: ${step.when} → ${step.to}`
        : step.op === "remove"
        ? `- unschedule ${step.name}`
        : `~ replan schedule ${step.name}: ${
          step.changes.join(", ")
        } (its next tick is computed anew)`,
    );
  }
  for (const refused of plan.refused) lines.push(`! not applied: ${refused}`);
  if (lines.length === 0) lines.push("nothing to change");
  if (plan.unchanged.length > 0) lines.push(`  unchanged: ${plan.unchanged.join(", ")}`);
  return lines.join("\n");
}
