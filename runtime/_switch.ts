/**
 * Per-sender order across the switch from the hub to a direct port. A pair of workers gets its
 * direct channel only after the hub has relayed something between them (`_peer_ports.ts`), so a
 * sender's earlier messages may still be on their way through the hub when its first direct ones
 * arrive: taken at once, those would overtake them.
 *
 * So each side, on getting its port, first sends the hub a `switch` marker naming the other node
 * (behind everything it sent that node through the hub: one upstream link keeps order), then
 * sends directly. The hub relays the marker on its link to the other node, behind everything it
 * relayed there before. The receiving side holds what arrives over the new port until the marker
 * comes, then delivers what it held, in order, and from there on takes the port as it comes.
 *
 * What is held is bounded: past {@linkcode SWITCH_HOLD_LIMIT} envelopes from one sender, further
 * ones are dropped and reported (the sender's requests then end at their deadline). A sender that
 * dies before its marker arrives takes what was held for it along (`down`, or its port closing).
 *
 * @module
 */
import type { Envelope } from "../protocol/envelope.ts";

/** The most envelopes held from one sender while its switch marker is on its way through the hub. */
export const SWITCH_HOLD_LIMIT = 65_536;

/**
 * The direct ports whose sender's switch marker has not come yet, and what arrived over each.
 *
 * @example What arrives before the marker waits for it, and goes on behind it
 * ```ts
 * import assert from "node:assert/strict";
 * import { SwitchHold } from "./_switch.ts";
 * const hold = new SwitchHold(2);
 * hold.open("w2");
 * const m3 = { k: "send", to: "b#0.1", t: "n", b: 3 } as const;
 * assert.equal(hold.hold("w2", m3), "held");
 * assert.equal(hold.hold("w1", m3), "pass"); // no port from w1 waiting
 * assert.equal(hold.hold("w2", m3), "held");
 * assert.equal(hold.hold("w2", m3), "full");
 * assert.deepEqual(hold.release("w2"), [m3, m3]);
 * assert.equal(hold.hold("w2", m3), "pass");
 * assert.equal(hold.release("w2"), undefined); // a second marker does nothing
 * ```
 */
export class SwitchHold {
  readonly #limit: number;
  readonly #waiting = new Map<string, Envelope[]>();

  /**
   * Holds up to `limit` envelopes per sender.
   *
   * @param limit The most envelopes held per sender.
   */
  constructor(limit = SWITCH_HOLD_LIMIT) {
    this.#limit = limit;
  }

  /** Whether any port waits for its marker (checked first: the usual answer is no). */
  get size(): number {
    return this.#waiting.size;
  }

  /** The direct port from node `node` is open; its marker has not come. */
  open(node: string): void {
    this.#waiting.set(node, []);
  }

  /**
   * An envelope arrived over the direct port from `node`: `pass` to handle it now, `held` when it
   * waits for the marker, `full` when it was dropped (the sender is past the limit).
   */
  hold(node: string, env: Envelope): "pass" | "held" | "full" {
    const held = this.#waiting.get(node);
    if (held === undefined) return "pass";
    if (held.length >= this.#limit) return "full";
    held.push(env);
    return "held";
  }

  /** Node `node`'s marker came: what it held, in arrival order (undefined: none was waiting). */
  release(node: string): Envelope[] | undefined {
    const held = this.#waiting.get(node);
    this.#waiting.delete(node);
    return held;
  }

  /** Node `node` is gone or its port closed: what it held is dropped with it. */
  drop(node: string): void {
    this.#waiting.delete(node);
  }
}
