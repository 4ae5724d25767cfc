/**
 * Carrying out a plan (`config/plan.ts`) on a running application, step by step, in the plan's
 * order: supervisor flags, additions, replacements, scaling and in-place updates, removals. Local
 * containers change under their supervisor; remote ones are placed again or unplaced. Progress is
 * reported as `apply` events and log lines; the first step that fails stops the apply.
 *
 * @module
 */
import type { Plan, PlanStep } from "../config/plan.ts";
import type { ContainerSpec, Topology } from "../config/topology.ts";
import type { Distribution } from "../distribution/mod.ts";
import type { LogLevel } from "../protocol/envelope.ts";
import type { Supervisor } from "./_supervisor.ts";
import type { RuntimeEvents } from "./types.ts";

/** What applying needs from the runtime. */
export interface ApplySite {
  /** The root supervisor. */
  readonly root: Supervisor;
  /** Places and unplaces remote containers. */
  readonly distribution: Pick<Distribution, "place" | "unplace">;
  /** The supervisor (root, or an inline container's) that has child `name`; throws if none. */
  owner(name: string): Supervisor;
  /** The supervisor of inline container `parent`'s children; throws if it has none here. */
  supervisorOf(parent: string): Supervisor;
  /** The spec of remote container `name`, if it is one. */
  remoteSpec(name: string): ContainerSpec | undefined;
  /** Throws unless the runtime is running. */
  assertRunning(): void;
  /** Reports progress. */
  emit(event: RuntimeEvents["apply"]): void;
  /** Logs a line as `runtime`. */
  log(level: LogLevel, message: string): void;
}

/**
 * Applies `plan` (toward topology `next`), reporting `start`, each `step`, or `failed` (then
 * throws); the caller reports `done` once what runs is recorded.
 */
export async function applyPlan(plan: Plan, next: Topology, site: ApplySite): Promise<void> {
  site.emit({ phase: "start", plan });
  for (const refused of plan.refused) site.log("warn", `apply: not applied: ${refused}`);
  const applied = new Set<PlanStep>();
  try {
    for (const step of plan.steps) {
      site.assertRunning();
      await applyStep(step, next, site);
      applied.add(step);
      site.emit({ phase: "step", plan, step });
      site.log("info", `apply: ${describeStep(step)}`);
    }
    settleOrder(next.containers, site.root);
  } catch (error) {
    const failed = plan.steps.find((s) => !applied.has(s));
    site.emit({ phase: "failed", plan, step: failed, error: (error as Error).message });
    site.log(
      "error",
      `apply stopped${failed ? ` at "${describeStep(failed)}"` : ""}: ${(error as Error).message}`,
    );
    throw error;
  }
}

async function applyStep(step: PlanStep, next: Topology, site: ApplySite): Promise<void> {
  const spec = step.name === null ? undefined : findSpec(next.containers, step.name);
  if (step.name !== null && (spec?.mode === "remote" || site.remoteSpec(step.name))) {
    // Remote containers are placed, not supervised here: a change is a new placement (same
    // agent unless host: moved it), a removal stops it on its agent.
    if (step.op === "remove") await site.distribution.unplace(step.name);
    else if (spec?.mode === "remote") {
      // The new copy first, then the old one goes: no moment without a route.
      await site.distribution.place(spec);
      if (site.root.find(step.name)) await site.owner(step.name).remove(step.name);
    } else {
      await site.root.spawn(spec!);
      await site.distribution.unplace(step.name);
    }
    return;
  }
  switch (step.op) {
    case "supervisor":
      if (step.name === null) site.root.setFlags(next.supervisor);
      else site.owner(step.name).update(spec!);
      break;
    case "add": {
      const supervisor = step.parent ? site.supervisorOf(step.parent) : site.root;
      await supervisor.spawn(spec!);
      break;
    }
    case "remove":
      await site.owner(step.name).remove(step.name);
      break;
    case "scale":
      await site.owner(step.name).scale(step.name, step.to);
      break;
    case "replace":
      await site.owner(step.name).replace(spec!);
      break;
    case "update":
      site.owner(step.name).update(spec!);
      break;
  }
}

/** After an apply: start order as written, and inline parents restart with their new children. */
function settleOrder(specs: readonly ContainerSpec[], supervisor: Supervisor): void {
  supervisor.reorder(specs.map((s) => s.name));
  for (const spec of specs) {
    if (spec.mode !== "inline" || !supervisor.has(spec.name)) continue;
    supervisor.update(spec);
    if (spec.children.length === 0) continue;
    let sub: Supervisor | undefined;
    try {
      sub = supervisor.childSupervisor(spec.name);
    } catch {
      continue; // restarting: it starts its children from its (updated) spec
    }
    if (sub) settleOrder(spec.children, sub);
  }
}

/** Container `name` anywhere in `specs` (nested children included). */
function findSpec(specs: readonly ContainerSpec[], name: string): ContainerSpec | undefined {
  for (const spec of specs) {
    if (spec.name === name) return spec;
    const found = findSpec(spec.children, name);
    if (found) return found;
  }
  return undefined;
}

/**
 * One plan step in a log line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeStep } from "./_apply.ts";
 * const step = { op: "scale" as const, name: "api", parent: null, from: 1, to: 3 };
 * assert.equal(describeStep(step), "scaled api 1 → 3");
 * ```
 */
export function describeStep(step: PlanStep): string {
  switch (step.op) {
    case "add":
      return `added ${step.name} (${step.mode}, ${step.replicas} replica${
        step.replicas === 1 ? "" : "s"
      })`;
    case "remove":
      return `removed ${step.name}`;
    case "scale":
      return `scaled ${step.name} ${step.from} → ${step.to}`;
    case "replace":
      return `replaced ${step.name} (${step.changes.join("; ")})`;
    case "update":
      return `updated ${step.name} in place (${step.changes.join("; ")})`;
    case "supervisor":
      return `supervisor ${step.name ?? "root"}: ${step.changes.join("; ")}`;
  }
}
