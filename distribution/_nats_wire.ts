/**
 * The NATS bridge's plumbing: the link the hub sees as node `@nats`, decoding payloads at the
 * edge, start errors that name the servers and never a credential, and the guard against socket
 * resets nats.js leaves unhandled.
 *
 * The client is nats.js v3: `@nats-io/nats-core` (the protocol, types and errors) with
 * `@nats-io/transport-node` (its TCP and TLS sockets, on Deno's `node:net`/`node:tls`). The
 * Deno-native `@nats-io/transport-deno` is published on JSR only, which this project cannot reach
 * (JSR is unreachable from its builds): on npm, the Node transport is the one that runs on Deno.
 *
 * @module
 */
import type { Authenticator, Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import type { TransportsSpec } from "../config/topology.ts";
import type { Envelope } from "../protocol/envelope.ts";
import { AuthenticationError, UnavailableError } from "../protocol/errors.ts";
import { decodeMsgpack } from "../protocol/msgpack.ts";
import type { Link, LinkClosed } from "../transports/link.ts";

/** The link the hub sees as node `@nats`: envelopes sent to it go to the bridge. */
export class NatsLink implements Link {
  onEnvelope: (envelope: Envelope) => void = () => {};
  /** What the bridge hands on was decoded from NATS payloads: trees only. */
  readonly clones = false;
  readonly closed: Promise<LinkClosed>;
  readonly #out: (envelope: Envelope) => void;
  #resolve!: (reason: LinkClosed) => void;
  #isClosed = false;

  constructor(out: (envelope: Envelope) => void) {
    this.#out = out;
    this.closed = new Promise((resolve) => (this.#resolve = resolve));
  }

  send(envelope: Envelope): void {
    if (!this.#isClosed) this.#out(envelope);
  }

  close(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#resolve({ kind: "closed" });
  }
}

/** How a NATS client logs in: the options of `connect` that carry the credentials. */
export interface NatsLogin {
  user?: string;
  pass?: string;
  token?: string;
  authenticator?: Authenticator;
}

/**
 * The login options for the credentials of `transports.nats` (user and password, token, or a
 * `.creds` file, read and parsed here), shared by the bridge and the root's lease connection.
 * @throws {AuthenticationError} The `creds` file cannot be read or is not a `.creds` file (the
 *   message names the file, never what it holds).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { natsLogin } from "./_nats_wire.ts";
 * const login = await natsLogin({ servers: [], user: "app", password: "s3cret" });
 * assert.deepEqual(login, { user: "app", pass: "s3cret" });
 * ```
 */
export async function natsLogin(n: NonNullable<TransportsSpec["nats"]>): Promise<NatsLogin> {
  const { credsAuthenticator } = await import("@nats-io/transport-node");
  let authenticator: Authenticator | undefined;
  if (n.creds) {
    let creds: Uint8Array;
    try {
      creds = await Deno.readFile(n.creds);
    } catch (error) {
      throw new AuthenticationError(
        `cannot read transports.nats.creds file "${n.creds}" (${
          (error as Error).name
        }); expected a readable NATS .creds file`,
      );
    }
    authenticator = credsAuthenticator(creds);
    try {
      // The client would parse the file only at its first login, and a bad one would then read
      // as a server that cannot be reached: parsed (and its seed used once) here instead. What
      // the parser says is not repeated: it may quote the file.
      authenticator(undefined);
    } catch {
      throw new AuthenticationError(
        `transports.nats.creds file "${n.creds}" is not a NATS .creds file; expected a user JWT ` +
          "block and a user NKey seed block, as nsc writes them",
      );
    }
  }
  return {
    ...(n.user !== undefined ? { user: n.user, pass: n.password } : {}),
    ...(n.token !== undefined ? { token: n.token } : {}),
    ...(authenticator ? { authenticator } : {}),
  };
}

/**
 * Connects to the servers of `spec.nats` with its credentials; resolves once connected.
 * @param spec The validated `transports:` block, with `nats`.
 * @param app The application's name (in the connection's name, as servers show it).
 * @param scrub An error's text with the credentials blanked out.
 * @returns The connection, and a unique token for this runtime's inbox.
 * @throws {AuthenticationError} NATS refused the credentials (the message names the servers), or
 *   the `creds` file cannot be read or is not a `.creds` file.
 * @throws {UnavailableError} No server of the list could be reached.
 */
export async function connectNats(
  spec: TransportsSpec & { nats: NonNullable<TransportsSpec["nats"]> },
  app: string,
  scrub: (error: unknown) => string,
): Promise<{ nc: NatsConnection; nuid: string }> {
  // Loaded here, on demand: an isolate that never starts a bridge (every worker and process
  // container) loads nothing of the client (tests/nats/on_demand_test.ts).
  const { connect, createInbox } = await import("@nats-io/transport-node");
  const n = spec.nats;
  const login = await natsLogin(n);
  try {
    const nc = await connect({
      servers: n.servers,
      name: `kraken ${app} ${spec.name}`,
      ...login,
      // Our own publications never come back: no echo of presence, publications or requests.
      noEcho: true,
      maxReconnectAttempts: -1,
      // Another node of the cluster is tried at once; the wait is between tries of one server.
      reconnectTimeWait: 250,
      pingInterval: Math.max(1_000, spec.keepalive),
      maxPingOut: 2,
      timeout: Math.min(5_000, Math.max(1_000, spec.keepalive)),
    });
    return { nc, nuid: createInbox("x").slice(2) };
  } catch (error) {
    socketsClosed();
    throw startError(error, n.servers.join(", "), scrub);
  }
}

/**
 * Subscribes `subject`. nats.js calls a subscription's callback with an error and an empty message
 * when the server refuses the subscription (a permissions violation; nats.js then closes it): that
 * goes to `refused`, never to `message` as if it were one.
 * @param nc The connection.
 * @param subject What to subscribe to.
 * @param options `queue`: its queue group; `message`: each message; `refused`: the server's refusal.
 * @returns The subscription.
 */
export function subscribe(
  nc: NatsConnection,
  subject: string,
  options: { queue?: string; message(msg: Msg): void; refused(error: Error): void },
): Subscription {
  return nc.subscribe(subject, {
    ...(options.queue ? { queue: options.queue } : {}),
    callback: (error, msg) => error ? options.refused(error) : options.message(msg),
  });
}

/**
 * What is logged when the server refuses a subscription of this runtime.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { refusal } from "./_nats_wire.ts";
 * assert.match(refusal("kraken.shop.c.api", "api", "denied"), /^NATS refused .* kraken\.shop\.c\.api/);
 * ```
 */
export function refusal(subject: string, queue: string | undefined, why: string): string {
  return `NATS refused this runtime's subscription to ${subject}${
    queue ? ` in queue group ${queue}` : ""
  } (${why}); check the NATS user's subscribe permissions (docs/transports.md, "Permissions")`;
}

/** What {@linkcode watch} reports of a connection. */
export interface ConnectionEvents {
  /** Lost the server (nats.js reconnects by itself). */
  down(server: string): void;
  /** Connected again. */
  up(server: string): void;
  /** An error the server reported (a refused subscription is its own callback's, not here). */
  error(error: Error): void;
  /** The connection closed because of `error`. */
  closed(error: Error): void;
}

/**
 * Reports a connection's status until it closes; resolves then. A socket lost is noted for
 * {@linkcode socketsClosed}.
 * @param nc The connection.
 * @param events What to call.
 * @returns When the connection has closed.
 */
export async function watch(nc: NatsConnection, events: ConnectionEvents): Promise<void> {
  const closed = nc.closed().then((error) => error && events.closed(error));
  (async () => {
    for await (const status of nc.status()) {
      if (status.type === "disconnect") {
        socketsClosed();
        events.down(status.server);
      } else if (status.type === "reconnect") events.up(status.server);
      else if (status.type === "error" && !refusedSubscription(status.error)) {
        events.error(status.error);
      }
    }
  })().catch(() => {});
  await closed;
}

/** Whether an error of the status stream is a refused subscription ({@linkcode subscribe}'s). */
function refusedSubscription(error: Error): boolean {
  return error.name === "PermissionViolationError" &&
    (error as Error & { operation?: string }).operation === "subscription";
}

/**
 * A NATS payload as a map, or why it is not one. Lenient: a part that cannot be decoded but whose
 * extent is known is marked, for the edge check to name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodePayload } from "./_nats_wire.ts";
 * assert.deepEqual(decodePayload(new Uint8Array([0x81, 0xa1, 0x62, 0x01])), { map: { b: 1 } });
 * assert.deepEqual(decodePayload(new Uint8Array([0x01])), { why: "not a msgpack map" });
 * ```
 */
export function decodePayload(
  data: Uint8Array,
): { map: Record<string, unknown> } | { why: string } {
  try {
    const value = decodeMsgpack(data, { lenient: true });
    if (value && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
      return { map: value as Record<string, unknown> };
    }
    return { why: "not a msgpack map" };
  } catch (error) {
    return { why: (error as Error).message };
  }
}

/** What NATS servers say when they refuse a login (nats.js v3 passes their words on). */
const REFUSALS = [
  "authorization violation",
  "authentication timeout",
  "account authentication expired",
  "user authentication expired",
  "permissions violation",
] as const;

/**
 * A connection failure as a clear error naming the servers, never a credential. nats.js v3 throws
 * error classes (`AuthorizationError`, `ConnectionError`, `TimeoutError`, …) whose names are
 * matched here, so that this file needs no import of the client.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startError } from "./_nats_wire.ts";
 * const refused = Object.assign(new Error("connection refused"), { name: "ConnectionError" });
 * const error = startError(refused, "nats://127.0.0.1:4222", String);
 * assert.equal(error.name, "UnavailableError");
 * assert.equal(error.message, "cannot connect to NATS at nats://127.0.0.1:4222 (connection refused)");
 * ```
 */
export function startError(error: unknown, where: string, scrub: (e: unknown) => string): Error {
  const name = error instanceof Error ? error.name : "";
  const said = error instanceof Error ? error.message.toLowerCase() : "";
  if (
    name === "AuthorizationError" || name === "UserAuthenticationExpiredError" ||
    name === "PermissionViolationError"
  ) {
    // The server's own words are not repeated: only which known refusal they are.
    const why = REFUSALS.find((r) => said.includes(r)) ?? "login refused";
    return new AuthenticationError(
      `NATS at ${where} refused this runtime's credentials (${why}); check transports.nats: user and password, token or creds`,
    );
  }
  if (
    (name === "ConnectionError" && said === "connection refused") || name === "TimeoutError"
  ) {
    return new UnavailableError(
      `cannot connect to NATS at ${where} (${name === "TimeoutError" ? "timeout" : said})`,
    );
  }
  return new UnavailableError(`cannot connect to NATS at ${where}: ${scrub(error)}`);
}

/**
 * An error's text with every one of `secrets` blanked out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { scrubbed } from "./_nats_wire.ts";
 * assert.equal(scrubbed(new Error("pass hunter2"), ["hunter2"]), "Error: pass ***");
 * ```
 */
export function scrubbed(error: unknown, secrets: readonly (string | undefined)[]): string {
  let text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  for (const secret of secrets) {
    if (secret) text = text.replaceAll(secret, "***");
  }
  return text;
}

/** When nats.js last let go of a socket. */
let lastSocketClose = -Infinity;
let guarding = false;

/**
 * nats.js removes its socket's listeners when it closes a connection (after a refused login, on
 * shutdown, when a server goes); a reset that arrives after that is an 'error' event nobody
 * listens to, which Deno turns into an uncaught error that would end the process. Such resets,
 * within two seconds of a close, are dropped.
 */
export function socketsClosed(): void {
  lastSocketClose = performance.now();
  if (guarding) return;
  guarding = true;
  globalThis.addEventListener("error", (event) => {
    const code = (event.error as { code?: unknown } | null)?.code;
    if (
      (code === "ECONNRESET" || code === "EPIPE") && performance.now() - lastSocketClose < 2_000
    ) {
      event.preventDefault();
    }
  });
}

/** `promise`, or nothing after `ms` (the timer is cleared either way): a bound on real I/O. */
export async function bounded(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([promise, new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}
