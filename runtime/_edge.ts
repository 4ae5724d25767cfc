/**
 * What a node does with input refused at its edges (see `protocol/envelope_check.ts` for the rule)
 * and with what a node sent that it had no right to: the answer it owes, if any, a count per
 * offending node, and a log line at most once a second.
 *
 * @module
 */
import type { Envelope } from "../protocol/envelope.ts";
import type { CheckOptions, Edge } from "../protocol/envelope_check.ts";
import { within } from "../protocol/routes.ts";
import type { Link } from "../transports/link.ts";

/** An answer to a refused envelope: `back` over the link it came on, or `route`d like a reply. */
export interface RefusalAnswer {
  /** `back`: to the sender of a refused request; `route`: to the requester a refused reply was for. */
  via: "back" | "route";
  /** The error reply. */
  env: Extract<Envelope, { k: "err" }>;
}

/**
 * The answer owed for an envelope refused from node `from`: a request gets a FrameError saying
 * why (unless it names a sender that is not behind that link: answering it would reach someone
 * else); a reply becomes a FrameError for the request it answers, so its requester learns now
 * rather than at its timeout. Anything else (or anything without a usable id) gets none.
 *
 * @param env What was refused (untrusted).
 * @param from The node it came from.
 * @param edge The kind of link it came over.
 * @param problem Why it was refused.
 * @returns The answer, or `null`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { refusalAnswer } from "./_edge.ts";
 * const answer = refusalAnswer({ k: "req", i: 4, s: "w1", t: "x" }, "w1", "child", "too deep");
 * assert.equal(answer?.via, "back");
 * assert.equal(answer?.env.e.message, 'request "x" refused: too deep');
 * assert.equal(refusalAnswer({ k: "req", i: 4, s: "host", t: "x" }, "w1", "child", "?"), null);
 * ```
 */
export function refusalAnswer(
  env: unknown,
  from: string,
  edge: Edge,
  problem: string,
): RefusalAnswer | null {
  const e = env as Record<string, unknown> | null;
  if (typeof e !== "object" || e === null || !Number.isSafeInteger(e.i)) return null;
  const i = e.i as number;
  // A request is answered on behalf of the instance it was addressed to (its requester takes an
  // answer from no other); a reply keeps the name it claimed (the node checks that name is behind
  // the link it came on).
  if (e.k === "req" && typeof e.s === "string" && (edge === "peer" || within(e.s, from))) {
    const message = `request ${typeof e.t === "string" ? `"${e.t}" ` : ""}refused: ${problem}`;
    return { via: "back", env: frameError(i, e.s, e.to, message) };
  }
  if ((e.k === "res" || e.k === "err") && typeof e.d === "string") {
    return { via: "route", env: frameError(i, e.d, e.f, `reply refused: ${problem}`) };
  }
  return null;
}

/** The `FrameError` reply for request `i` of node `d`, from (or on behalf of) instance `f`. */
function frameError(
  i: number,
  d: string,
  f: unknown,
  message: string,
): Extract<Envelope, { k: "err" }> {
  return {
    k: "err",
    i,
    d,
    f: typeof f === "string" ? f : "",
    e: { name: "FrameError", message, kind: "frame" },
  };
}

/** Counts refusals; says when one is worth a log line (at most one a second, with the count since). */
export class RefusalCounter {
  #count = 0;
  #loggedAt = -Infinity;
  #loggedCount = 0;
  readonly #now: () => number;

  /** @param now The clock (ms). */
  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /** Refusals so far. */
  get count(): number {
    return this.#count;
  }

  /**
   * Counts one refusal from `from`.
   * @returns The line to log, or `null` when one was logged less than a second ago.
   */
  note(from: string, problem: string): string | null {
    this.#count++;
    const now = this.#now();
    if (now - this.#loggedAt < 1_000) return null;
    const more = this.#count - this.#loggedCount - 1;
    this.#loggedAt = now;
    this.#loggedCount = this.#count;
    return `refused input from ${from}: ${problem}${
      more > 0 ? ` (and ${more} more refused since the last report)` : ""
    }`;
  }
}

/**
 * The edge check's options for what comes over `link` from node `from`: whether its values came
 * by structured clone, were decoded from bytes, or were decoded with the wire rule enforced.
 */
export function checksFor(
  link: Link,
  from?: string,
): { checked: CheckOptions; unchecked: CheckOptions } {
  return {
    checked: { from, values: "checked" },
    unchecked: { from, values: link.clones ? "clone" : "tree" },
  };
}

/** The node owner's hook for violations (`NodeHooks.onViolation`). */
export interface ViolationHook {
  /** When present, a violation is the owner's to log. */
  onViolation?(from: string, what: string, logged: boolean): void;
}

/**
 * One node's count of refused input and violations, per offending node.
 *
 * @example Counted per node, logged at most once a second
 * ```ts
 * import assert from "node:assert/strict";
 * import { EdgeGuard } from "./_edge.ts";
 *
 * const lines: string[] = [];
 * const guard = new EdgeGuard((line) => lines.push(line), {});
 * guard.refusal("w1", "too deep");
 * guard.violation("w1", "a forged sender");
 * assert.equal(guard.refused, 2);
 * assert.equal(guard.violations.get("w1"), 2);
 * assert.deepEqual(lines, ["refused input from w1: too deep"]);
 * ```
 */
export class EdgeGuard {
  readonly #refusals = new RefusalCounter();
  readonly #violations = new Map<string, number>();
  readonly #log: (line: string) => void;
  readonly #hook: ViolationHook;

  /**
   * @param log Logs a warning line as the node.
   * @param hook The node owner's hook.
   */
  constructor(log: (line: string) => void, hook: ViolationHook) {
    this.#log = log;
    this.#hook = hook;
  }

  /** Envelopes and frames refused so far. */
  get refused(): number {
    return this.#refusals.count;
  }

  /** How many envelopes each node sent that were dropped as violations or refused. */
  get violations(): ReadonlyMap<string, number> {
    return this.#violations;
  }

  /** Input from node `from` broke the edge rule: counted, logged (rate-limited), reported. */
  refusal(from: string, problem: string): void {
    const line = this.#refusals.note(from, problem);
    if (line !== null) this.#log(line);
    this.#count(from);
    this.#hook.onViolation?.(from, problem, true);
  }

  /** Node `from` sent what it had no right to: counted, and reported (or logged, rate-limited). */
  violation(from: string, what: string): void {
    this.#count(from);
    const line = this.#refusals.note(from, what);
    if (this.#hook.onViolation) this.#hook.onViolation(from, what, false);
    else if (line !== null) this.#log(line);
  }

  #count(from: string): void {
    this.#violations.set(from, (this.#violations.get(from) ?? 0) + 1);
  }
}
