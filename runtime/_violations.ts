/**
 * Who said what: the instance a log line from a child node is by (a container cannot put words in
 * another's mouth), and counting what a container's isolate sent without the right to (logged,
 * bounded: it may be a flood).
 *
 * @module
 */
import type { LogLevel, RouteTable } from "../protocol/envelope.ts";
import { containerOf, within } from "../protocol/routes.ts";

/** A child node's handle, as far as speaking goes. */
interface Speaker {
  readonly container: string;
  readonly instance: string;
}

/**
 * Who a log line from node `from` is by: the instance it names when that node may speak for it
 * (its own, or one below it), else that node's own instance — a container cannot put words in
 * another's mouth (nor, on an agent, send lines to another root).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { speakerOf } from "./_violations.ts";
 * const handles = new Map([["w1", { container: "api", instance: "api#0.1" }]]);
 * const hub = { id: "host", routes: {} };
 * assert.equal(speakerOf("w1", "api#0.1", hub, handles), "api#0.1");
 * assert.equal(speakerOf("w1", "billing#0.1", hub, handles), "api#0.1");
 * ```
 */
export function speakerOf(
  from: string,
  source: string,
  hub: { readonly id: string; readonly routes: RouteTable },
  handles: ReadonlyMap<string, Speaker>,
): string {
  if (from === hub.id) return source;
  const handle = handles.get(from);
  if (!handle) return `node ${from}`;
  if (source === handle.instance) return source;
  const container = containerOf(source);
  const entry = container !== null ? hub.routes[container] : undefined;
  const below = (i: { i: string; n: string }) => i.i === source && within(i.n, from);
  if (entry && (entry.instances.some(below) || entry.x?.some(below))) return source;
  return handle.instance;
}

/**
 * Envelopes dropped per container because its isolate had no right to send them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Violations } from "./_violations.ts";
 * const lines: string[] = [];
 * let now = 0;
 * const violations = new Violations((_level, message) => lines.push(message), () => now);
 * for (let i = 0; i < 1000; i++) violations.count("api", "api#0.1", "a route for billing");
 * assert.equal(violations.counts.get("api"), 1000);
 * assert.equal(lines.length, 5, "the first five, then at most one a second");
 * now = 1_000;
 * violations.count("api", "api#0.1", "a route for billing");
 * assert.equal(lines.length, 6);
 * ```
 */
export class Violations {
  /** Drops per container. */
  readonly counts = new Map<string, number>();
  /** When each container's last line was logged (the clock's ms). */
  readonly #loggedAt = new Map<string, number>();
  readonly #log: (level: LogLevel, message: string, source: string) => void;
  readonly #now: () => number;

  /**
   * @param log Where the lines go.
   * @param now The clock (ms), for the once-a-second limit.
   */
  constructor(
    log: (level: LogLevel, message: string, source: string) => void,
    now: () => number = () => performance.now(),
  ) {
    this.#log = log;
    this.#now = now;
  }

  /** Node `from` sent something it had no right to: counted against its container. */
  fromNode(
    from: string,
    what: string,
    logged: boolean,
    handles: ReadonlyMap<string, Speaker>,
  ): void {
    const handle = handles.get(from.split("/")[0]);
    this.count(handle?.container ?? from, handle?.instance ?? `node ${from}`, what, logged);
  }

  /** Counts a violation against `container` and logs it (unless `logged` already). */
  count(container: string, instance: string, what: string, logged = false): void {
    const n = (this.counts.get(container) ?? 0) + 1;
    this.counts.set(container, n);
    // A hostile container could flood the log (and push everyone else's lines out of its history):
    // the first few, then at most one line a second per container.
    if (logged) return;
    const now = this.#now();
    if (n > 5 && now - (this.#loggedAt.get(container) ?? -Infinity) < 1_000) return;
    this.#loggedAt.set(container, now);
    this.#log(
      "warn",
      `dropped from ${instance} (it speaks only for itself): ${what}${
        n > 5 ? ` (${n} dropped so far)` : ""
      }`,
      instance.startsWith("node ") ? "runtime" : instance,
    );
  }
}
