/**
 * What every way of applying a topology over HTTP shares (`POST /v1/apply` and the dashboard's
 * `POST /v1/dashboard/apply`): how its `dry_run` parameter is read, and one gate so that two
 * applies never run at once, whichever route asked. Shared so that the routes and the audit
 * middleware cannot disagree on what a request asked: a change read as a dry run would go
 * unrecorded.
 *
 * @module
 */
import type { Context } from "hono";
import type { TopologyInput } from "../config/topology.ts";
import { formatPlan, type Plan } from "../config/plan.ts";
import type { Runtime } from "../runtime/runtime.ts";
import { badRequest, HttpError } from "./_errors.ts";
import { TreeIndex } from "./_lookup.ts";

/**
 * A yes/no query parameter: `1`, `true` or a bare `?name` is on, absent, `0` or `false` off.
 * Anything else is refused (400 naming the parameter) rather than guessed at: a value one reader
 * took for "on" and another for "off" is how a change escapes the audit.
 *
 * @param c The request's context.
 * @param name The parameter.
 * @returns Whether it is on.
 * @throws {HttpError} 400 for any other value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Hono } from "hono";
 * import { queryFlag } from "./_apply.ts";
 * const app = new Hono().get("/", (c) => c.text(String(queryFlag(c, "dry_run"))));
 * assert.equal(await (await app.request("/?dry_run")).text(), "true");
 * assert.equal(await (await app.request("/?dry_run=0")).text(), "false");
 * assert.equal((await app.request("/?dry_run=no")).status, 400);
 * ```
 */
export function queryFlag(c: Context, name: string): boolean {
  const value = c.req.query(name);
  if (value === undefined) return false;
  if (value === "" || value === "1" || value === "true") return true;
  if (value === "0" || value === "false") return false;
  throw badRequest(
    `${name} must be 1, true, 0 or false (or a bare ?${name}), got ${JSON.stringify(value)}`,
    name,
  );
}

/** What an apply over HTTP answers. */
export interface ApplyAnswer {
  /** Whether the plan was carried out (`false` for a dry run). */
  applied: boolean;
  /** The changes, as `rt.apply` planned them. */
  plan: Plan;
  /** The plan, as the CLI prints it. */
  text: string;
}

/**
 * Runs applies for the management app, one at a time: a second one while another runs is refused
 * with 409, whichever route it came from. A dry run changes nothing and is never held back.
 *
 * @example
 * ```ts ignore
 * const applies = new ApplyGate(rt);
 * app.post("/v1/apply", async (c) => c.json(await applies.run(source, queryFlag(c, "dry_run"))));
 * ```
 */
export class ApplyGate {
  #applying = false;
  readonly #rt: Runtime;

  /** @param rt The runtime the applies change. */
  constructor(rt: Runtime) {
    this.#rt = rt;
  }

  /**
   * Plans (`dryRun`) or carries out an apply of `source`.
   *
   * @throws {HttpError} 409 while another apply runs; 503 when the runtime is not running.
   */
  async run(source: string | TopologyInput, dryRun: boolean): Promise<ApplyAnswer> {
    TreeIndex.of(this.#rt).assertRunning();
    if (dryRun) {
      const plan = await this.#rt.apply(source, { dryRun });
      return { applied: false, plan, text: formatPlan(plan) };
    }
    // Two clients applying at once is a mistake to report, not a queue to build.
    if (this.#applying) {
      throw new HttpError(409, "Conflict", "another apply is in progress; try again when it ends");
    }
    this.#applying = true;
    try {
      const plan = await this.#rt.apply(source);
      return { applied: true, plan, text: formatPlan(plan) };
    } finally {
      this.#applying = false;
    }
  }
}
