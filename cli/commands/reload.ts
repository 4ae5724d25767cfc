/**
 * `kraken reload [FILE]`: show the plan that takes the running topology to an edited file, ask,
 * then apply it while printing each step as it is done.
 *
 * @module
 */
import { resolve } from "node:path";
import { formatPlan, type Plan, type PlanStep } from "../../config/plan.ts";
import type { Command, Io } from "../command.ts";
import { connect } from "../connection.ts";
import { CliError, EXIT, usageError } from "../exit.ts";
import type { ManagementClient } from "../client.ts";
import { formatDuration } from "../output.ts";

/** What `POST /v1/apply` answers. */
interface ApplyResult {
  applied: boolean;
  plan: Plan;
  text: string;
}

/**
 * `kraken reload [FILE] [--yes] [--dry-run]`.
 *
 * @example
 * ```sh
 * kraken reload            # shows the plan for ./kraken.yaml, asks y/N
 * kraken reload --yes      # in scripts
 * ```
 */
export const reload: Command = {
  name: "reload",
  args: "[FILE]",
  summary: "show the plan for an edited topology (default ./kraken.yaml), then apply it",
  description: "The running topology is compared with FILE: containers are added, removed, " +
    "scaled, replaced (new incarnation first, traffic switched, the old one drained) or updated " +
    "in place; unchanged ones are untouched. Asks before applying unless --yes; without a " +
    "terminal to ask on, it refuses (exit 2). The runtime reads FILE itself, so FILE must be on " +
    "its machine.",
  api: true,
  flags: {
    yes: { type: "boolean", short: "y", description: "apply without asking" },
    "dry-run": { type: "boolean", description: "only print the plan" },
  },
  examples: ["kraken reload", "kraken reload deploy/kraken.yaml --yes", "kraken reload --dry-run"],
  async run({ positionals, flags }, io) {
    if (positionals.length > 1) {
      throw usageError("reload", `unexpected argument "${positionals[1]}"`);
    }
    const file = positionals[0] ?? "./kraken.yaml";
    const path = resolve(file);
    try {
      await Deno.stat(path);
    } catch {
      throw new CliError(EXIT.usage, `reload: cannot read ${file}: no such file`);
    }
    const client = await connect("reload", flags, file);
    const planned = await client.request<ApplyResult>("POST", "/v1/apply?dry_run=1", { path });
    // Schedules added, replanned or removed are changes too, even when no container changes.
    const changes = planned.plan.steps.length + (planned.plan.schedules?.length ?? 0);
    const refused = planned.plan.refused;
    if (!io.json) {
      io.print(
        changes === 0 && refused.length === 0
          ? "nothing to change"
          : `plan for ${file}:\n${indent(planned.text)}`,
      );
    }
    if (flags["dry-run"] === true) {
      if (io.json) io.printJson(planned);
      return 0;
    }
    if (changes === 0) {
      if (refused.length > 0) throw notApplied(refused, planned);
      if (io.json) io.printJson(planned);
      return 0;
    }
    if (flags.yes !== true) {
      if (!Deno.stdin.isTerminal()) {
        throw new CliError(
          EXIT.usage,
          "reload: refusing to apply without confirmation: stdin is not a terminal; pass --yes",
        );
      }
      if (!await confirm(`apply ${changes} change${changes === 1 ? "" : "s"}? [y/N] `)) {
        if (io.json) io.printJson({ ...planned, applied: false });
        else io.error("not applied");
        return 1;
      }
    }
    const started = performance.now();
    const applied = await withProgress(
      client,
      io,
      () => client.request<ApplyResult>("POST", "/v1/apply", { path }),
    );
    if (applied.plan.refused.length > 0 && !io.json) {
      io.print(`applied ${countChanges(applied.plan)} in ${elapsed(started)}`);
    }
    if (applied.plan.refused.length > 0) throw notApplied(applied.plan.refused, applied);
    if (io.json) io.printJson(applied);
    else {
      io.print(io.out.green(`applied ${countChanges(applied.plan)} in ${elapsed(started)}`));
    }
    return 0;
  },
};

/**
 * What the file asks that a running runtime cannot take (its name, its links): the rest is
 * applied, but the runtime does not match the file, so the command fails (exit 1) and says so.
 */
function notApplied(refused: readonly string[], result: ApplyResult): CliError {
  return new CliError(
    EXIT.failed,
    `reload: not applied: ${refused.join("; ")}`,
    { ...result },
  );
}

/** `1 change`, `3 changes`: the plan's steps and its schedule changes. */
function countChanges(plan: ApplyResult["plan"]): string {
  const n = plan.steps.length + (plan.schedules?.length ?? 0);
  return `${n} change${n === 1 ? "" : "s"}`;
}

function elapsed(since: number): string {
  return formatDuration(performance.now() - since);
}

function indent(text: string): string {
  return text.split("\n").map((line) => `  ${line}`).join("\n");
}

/** Asks on the terminal; only `y` or `yes` says yes. */
async function confirm(question: string): Promise<boolean> {
  await Deno.stderr.write(new TextEncoder().encode(question));
  const buffer = new Uint8Array(1024);
  const n = await Deno.stdin.read(buffer);
  const answer = n === null ? "" : new TextDecoder().decode(buffer.subarray(0, n)).trim();
  return /^y(es)?$/i.test(answer);
}

/**
 * Runs `apply` while printing each step as it is done (stderr; nothing with --json): container
 * steps live, from the runtime's `apply` step events on `GET /v1/events` (opened before the apply
 * so none is missed); then, from the applied plan, every step the stream did not show. Schedule
 * steps have no event of their own (the runtime sets the schedules after the containers' steps),
 * and a step event still in flight when the answer comes is cut off with the stream.
 */
async function withProgress(
  client: ManagementClient,
  io: Io,
  apply: () => Promise<ApplyResult>,
): Promise<ApplyResult> {
  if (io.json) return await apply();
  const tick = (line: string) => io.error(`  ${io.err.green("✓")} ${line}`);
  // How many times each step's line was ticked (a plan may in principle say a line twice).
  const ticked = new Map<string, number>();
  const stop = new AbortController();
  const { promise: opened, resolve: open } = Promise.withResolvers<void>();
  const events = client.stream("/v1/events?types=apply", (event) => {
    const step = event.data.step as PlanStep | undefined;
    if (event.data.phase === "step" && step) {
      const line = describeStep(step);
      ticked.set(line, (ticked.get(line) ?? 0) + 1);
      tick(line);
    }
  }, { signal: stop.signal, onOpen: open }).catch(() => {
    // Progress is a nicety: a lost stream must not fail the apply.
  }).finally(open);
  await opened;
  let applied: ApplyResult;
  try {
    applied = await apply();
  } finally {
    stop.abort();
    await events;
  }
  for (const line of stepLines(applied.plan)) {
    const seen = ticked.get(line) ?? 0;
    if (seen > 0) ticked.set(line, seen - 1);
    else tick(line);
  }
  return applied;
}

/** One container step as the plan prints it (its first line). */
function describeStep(step: PlanStep): string {
  return formatPlan({ steps: [step], unchanged: [], refused: [] }).split("\n")[0];
}

/** Every step of a plan, container steps then schedule steps, each as the plan prints it. */
function stepLines(plan: Plan): string[] {
  return [
    ...plan.steps.map(describeStep),
    ...(plan.schedules ?? []).map((schedule) =>
      formatPlan({ steps: [], schedules: [schedule], unchanged: [], refused: [] }).split("\n")[0]
    ),
  ];
}
