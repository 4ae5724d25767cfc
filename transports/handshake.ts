/**
 * Mutual authentication of a link on a shared secret, before any envelope: an HMAC-SHA256
 * challenge-response in which **both** sides prove they hold the secret, each proof bound to a
 * fresh nonce chosen by the other side — so a captured handshake replayed later fails.
 *
 * ```
 * listener → dialer   hello   { v, nonce: Ns }                       (Ns: 32 random bytes)
 * dialer → listener   prove   { nonce: Nc, proof: HMAC(secret, "kraken/dialer" | Ns | Nc) }
 * listener → dialer   welcome { proof: HMAC(secret, "kraken/listener" | Nc | Ns) }
 *                  or denied  { reason }                              (then the link closes)
 * ```
 *
 * Pure: no I/O, no clock; the nonce source can be injected. Proofs are compared in constant time.
 * The secret never appears in a message, an error or a log line.
 *
 * @module
 */
import { AuthenticationError } from "../protocol/errors.ts";

/** Version of the handshake; a peer speaking another one is refused. */
export const HANDSHAKE_VERSION = 1;
/** Bytes in a nonce. */
export const NONCE_BYTES = 32;

/** A handshake message (first item of a handshake frame is 0, envelope batches start with 1). */
export type HandshakeMessage =
  | { k: "hello"; v: number; nonce: Uint8Array }
  | { k: "prove"; nonce: Uint8Array; proof: Uint8Array }
  | { k: "welcome"; proof: Uint8Array }
  | { k: "denied"; reason: string };

/** Fills a buffer with random bytes (inject for tests). */
export type RandomSource = (bytes: Uint8Array) => Uint8Array;

const encoder = new TextEncoder();

async function hmac(secret: string, label: string, a: Uint8Array, b: Uint8Array) {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const labelBytes = encoder.encode(label);
  const data = new Uint8Array(labelBytes.length + a.length + b.length);
  data.set(labelBytes, 0);
  data.set(a, labelBytes.length);
  data.set(b, labelBytes.length + a.length);
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, data));
}

/**
 * Compares two byte arrays in time that depends only on their lengths.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { constantTimeEqual } from "./handshake.ts";
 * assert.equal(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2])), true);
 * assert.equal(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3])), false);
 * ```
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

function isBytes(value: unknown, length: number): value is Uint8Array {
  return value instanceof Uint8Array && value.length === length;
}

function checkSecret(secret: string): void {
  if (typeof secret !== "string" || secret.length === 0) {
    throw new AuthenticationError("no secret configured: links need a non-empty `secret`");
  }
}

/**
 * The listening side of a handshake.
 *
 * @example
 * ```ts
 * import { DialerHandshake, ListenerHandshake } from "./handshake.ts";
 * const listener = new ListenerHandshake("s3cret");
 * const dialer = new DialerHandshake("s3cret");
 * const prove = await dialer.answer(listener.hello());
 * const welcome = await listener.check(prove);
 * await dialer.verify(welcome); // both sides now know the other holds the secret
 * ```
 */
export class ListenerHandshake {
  readonly #secret: string;
  readonly #nonce: Uint8Array;
  #state: "new" | "sent" | "done" = "new";

  /**
   * @param secret The shared secret.
   * @param random Nonce source (default `crypto.getRandomValues`).
   */
  constructor(secret: string, random: RandomSource = (b) => crypto.getRandomValues(b)) {
    checkSecret(secret);
    this.#secret = secret;
    this.#nonce = random(new Uint8Array(NONCE_BYTES));
  }

  /** The challenge to send first. */
  hello(): HandshakeMessage {
    this.#state = "sent";
    return { k: "hello", v: HANDSHAKE_VERSION, nonce: this.#nonce };
  }

  /**
   * Checks the dialer's proof.
   * @returns `welcome` with this side's proof.
   * @throws {AuthenticationError} A wrong, malformed or out-of-order message (send `denied`).
   */
  async check(message: unknown): Promise<HandshakeMessage> {
    if (this.#state !== "sent") throw new AuthenticationError("handshake message out of order");
    this.#state = "done";
    const m = message as { k?: unknown; nonce?: unknown; proof?: unknown };
    if (typeof m !== "object" || m === null || m.k !== "prove") {
      throw new AuthenticationError("expected the peer's proof, got something else");
    }
    if (!isBytes(m.nonce, NONCE_BYTES) || !isBytes(m.proof, 32)) {
      throw new AuthenticationError("malformed proof");
    }
    const expected = await hmac(this.#secret, "kraken/dialer", this.#nonce, m.nonce);
    if (!constantTimeEqual(expected, m.proof)) {
      throw new AuthenticationError("the peer does not hold the secret (wrong proof)");
    }
    return {
      k: "welcome",
      proof: await hmac(this.#secret, "kraken/listener", m.nonce, this.#nonce),
    };
  }
}

/** The dialing side of a handshake (see {@linkcode ListenerHandshake} for an example). */
export class DialerHandshake {
  readonly #secret: string;
  readonly #nonce: Uint8Array;
  #listenerNonce: Uint8Array | null = null;

  /**
   * @param secret The shared secret.
   * @param random Nonce source (default `crypto.getRandomValues`).
   */
  constructor(secret: string, random: RandomSource = (b) => crypto.getRandomValues(b)) {
    checkSecret(secret);
    this.#secret = secret;
    this.#nonce = random(new Uint8Array(NONCE_BYTES));
  }

  /**
   * Answers the listener's challenge.
   * @throws {AuthenticationError} Not a hello, or another handshake version.
   */
  async answer(message: unknown): Promise<HandshakeMessage> {
    if (this.#listenerNonce) throw new AuthenticationError("handshake message out of order");
    const m = message as { k?: unknown; v?: unknown; nonce?: unknown };
    if (typeof m !== "object" || m === null || m.k !== "hello") {
      throw new AuthenticationError("expected the listener's hello, got something else");
    }
    if (m.v !== HANDSHAKE_VERSION) {
      throw new AuthenticationError(
        `the listener speaks handshake version ${String(m.v)}, this side ${HANDSHAKE_VERSION}`,
      );
    }
    if (!isBytes(m.nonce, NONCE_BYTES)) throw new AuthenticationError("malformed hello");
    this.#listenerNonce = m.nonce;
    return {
      k: "prove",
      nonce: this.#nonce,
      proof: await hmac(this.#secret, "kraken/dialer", m.nonce, this.#nonce),
    };
  }

  /**
   * Checks the listener's proof: a listener without the secret cannot produce it.
   * @throws {AuthenticationError} Denied, wrong proof, or out of order.
   */
  async verify(message: unknown): Promise<void> {
    if (!this.#listenerNonce) throw new AuthenticationError("handshake message out of order");
    const m = message as { k?: unknown; proof?: unknown; reason?: unknown };
    if (typeof m === "object" && m !== null && m.k === "denied") {
      throw new AuthenticationError(`the listener refused this link: ${String(m.reason)}`);
    }
    if (typeof m !== "object" || m === null || m.k !== "welcome" || !isBytes(m.proof, 32)) {
      throw new AuthenticationError("expected the listener's proof, got something else");
    }
    const expected = await hmac(this.#secret, "kraken/listener", this.#nonce, this.#listenerNonce);
    if (!constantTimeEqual(expected, m.proof)) {
      throw new AuthenticationError("the listener does not hold the secret (wrong proof)");
    }
  }
}
