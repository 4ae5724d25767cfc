/**
 * Messages on NATS, both ways: what the bridge publishes is encoded (msgpack), checked against
 * the server's `max_payload` and, with `transports.secret`, signed (`_nats_auth.ts`); what it
 * receives is checked before anything acts on it: its signature first, then its payload as a
 * msgpack map. What is refused is counted against `@nats` and logged by the hub.
 *
 * @module
 */
import type { Msg, NatsConnection } from "@nats-io/nats-core";
import type { LogLevel } from "../protocol/envelope.ts";
import { MsgpackEncoder } from "../protocol/msgpack.ts";
import { NatsAuth, TRAILER } from "./_nats_auth.ts";
import { NATS_NODE } from "./_nats_presence.ts";
import type { Refusal } from "./_nats_serving.ts";
import { decodePayload } from "./_nats_wire.ts";
import type { Hub } from "./types.ts";

/** A message received and checked: its payload (`null`: not a msgpack map), its signer. */
export interface Opened {
  /** The payload, or `null` when it is not a msgpack map (already counted as refused). */
  map: Record<string, unknown> | null;
  /** The runtime incarnation that signed it; `null` without a secret. */
  signer: string | null;
}

/** What the messages need from their bridge. */
export interface MessagesSite {
  /** This runtime incarnation's id (16 characters): the signer of what it publishes. */
  readonly id: string;
  /** The topology's `transports.secret` (`""`: nothing is signed or checked). */
  readonly secret: string;
  /** Where refusals are counted. */
  readonly hub: Hub;
  /** The connection, once there is one. */
  connection(): NatsConnection | null;
  /** Logs a line (never with a credential: errors go through `scrub`). */
  log(level: LogLevel, message: string): void;
  /** An error's text with the credentials blanked out. */
  scrub(error: unknown): string;
}

/** Encodes, signs and publishes; checks and decodes. */
export class NatsMessages {
  readonly #site: MessagesSite;
  readonly #encoder = new MsgpackEncoder();
  readonly #auth: NatsAuth | null;

  /**
   * Messages signed and checked when the site has a secret.
   * @param site What they need from the bridge.
   */
  constructor(site: MessagesSite) {
    this.#site = site;
    this.#auth = site.secret ? new NatsAuth({ secret: site.secret, id: site.id }) : null;
  }

  /** Whether messages are signed and checked (the topology has a secret). */
  get signed(): boolean {
    return this.#auth !== null;
  }

  /**
   * Publishes `body` (msgpack) on `subject`, signed when there is a secret.
   * @returns `null` when it left, else why not: too large for the server's `max_payload` (a
   *   `FrameError`, as for a link's `max_frame`), or not encodable.
   */
  publish(subject: string, body: unknown, reply?: string): Refusal | null {
    const nc = this.#site.connection();
    if (!nc || nc.isClosed()) return null; // closing: as if lost on the way
    let data: Uint8Array;
    try {
      data = this.#encoder.encode(body, this.#auth ? TRAILER : 0);
    } catch (error) {
      this.#site.log("error", `cannot encode for NATS ${subject}: ${(error as Error).message}`);
      return {
        name: "SerializationError",
        message: (error as Error).message,
        kind: "serialization",
      };
    }
    const max = nc.info?.max_payload ?? Infinity;
    if (data.length > max) {
      const message = `${data.length} bytes exceed the NATS server's max_payload of ${max} bytes`;
      if (!reply) this.#site.log("error", `not published on ${subject}: ${message}`);
      return { name: "FrameError", message, kind: "frame" };
    }
    this.#auth?.seal(subject, reply ?? "", data);
    try {
      nc.publish(subject, data, reply ? { reply } : undefined);
    } catch (error) {
      this.#site.log("warn", `NATS publish to ${subject} failed: ${this.#site.scrub(error)}`);
    }
    return null;
  }

  /**
   * What arrived, checked: with a secret, its signature first (a message unsigned, signed with
   * another secret, replayed, or whose `o` is not its signer is refused: `undefined`); then its
   * payload as a msgpack map (`map: null` when it is not one). Refusals are counted and logged.
   * @param msg The message.
   * @param what What it should be, for the refusal (`"reply"`, `"publication"`, …).
   * @param origin Whether the payload names its runtime in `o` (all but replies).
   */
  open(msg: Msg, what: string, origin: boolean): Opened | undefined {
    const hub = this.#site.hub;
    let data = msg.data;
    let signer: string | null = null;
    if (this.#auth) {
      const checked = this.#auth.open(msg.subject, msg.reply ?? "", data);
      if ("why" in checked) {
        hub.reportRefused(NATS_NODE, `a ${what} on ${msg.subject}: ${checked.why}`);
        return undefined;
      }
      signer = checked.signer;
      data = data.subarray(0, checked.end);
    }
    const decoded = decodePayload(data);
    if (!("map" in decoded)) {
      // A map followed by 48 bytes is what a runtime with a secret sends: say so.
      const hint = !this.#auth && data.length > TRAILER &&
          "map" in decodePayload(data.subarray(0, data.length - TRAILER))
        ? " (it looks signed: do all runtimes of the application have the same transports.secret?)"
        : "";
      hub.reportRefused(NATS_NODE, `a ${what} on ${msg.subject}: ${decoded.why}${hint}`);
      return { map: null, signer };
    }
    if (origin && signer !== null && decoded.map.o !== signer) {
      const named = JSON.stringify(String(decoded.map.o).slice(0, 40));
      hub.reportRefused(
        NATS_NODE,
        `a ${what} on ${msg.subject}: it names runtime ${named} in field "o", but ${signer} signed it`,
      );
      return undefined;
    }
    return { map: decoded.map, signer };
  }

  /** Every beat: forgets signers silent too long for their messages to be taken anyway. */
  forget(): void {
    this.#auth?.forget();
  }
}
