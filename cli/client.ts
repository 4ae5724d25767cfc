/**
 * The CLI's HTTP client for the management API: one place that turns transport failures and
 * error statuses into the CLI's exit codes, and reads Server-Sent Events.
 *
 * @module
 */
import { VERSION } from "./version.ts";
import { CliError, EXIT } from "./exit.ts";
import { signRequest } from "../management/signed.ts";

/** The error body the management API answers with. */
interface ApiError {
  error?: { type?: string; message?: string; key?: string };
}

/**
 * A streamed event: its `event:` type and its parsed `data:`.
 *
 * @example
 * ```ts
 * import type { StreamEvent } from "./client.ts";
 * const event: StreamEvent = { type: "restart", data: { container: "api" } };
 * ```
 */
export interface StreamEvent {
  /** The SSE event type (`restart`, `log`, `apply`, …). */
  type: string;
  /** The JSON data. */
  data: Record<string, unknown>;
}

/**
 * Talks to one runtime's management API.
 *
 * Failures become {@linkcode CliError}s: no connection → exit 3, 401 → exit 4, 400 (bad input,
 * bad topology) → exit 2, any other error status → exit 1.
 *
 * @example Asking a running runtime for its tree
 * ```ts
 * import assert from "node:assert/strict";
 * import { Runtime } from "jsr:@kraken/kraken";
 * import { serveManagement } from "jsr:@kraken/kraken/management";
 * import { CliError } from "./exit.ts";
 * import { ManagementClient } from "./client.ts";
 *
 * const rt = await Runtime.start({ containers: {} }, { logLevel: "silent" });
 * const api = await serveManagement(rt, { listen: "127.0.0.1:0", token: "s3cret" });
 * const client = new ManagementClient(api.url, "s3cret");
 * const tree = await client.request<{ supervisor: { state: string } }>("GET", "/v1/tree");
 * assert.equal(tree.supervisor.state, "running");
 * // A wrong token is exit code 4:
 * const refused = await new ManagementClient(api.url, "nope").request("GET", "/v1/tree")
 *   .catch((error) => error);
 * assert.ok(refused instanceof CliError && refused.code === 4);
 * await api.close();
 * await rt.shutdown();
 * ```
 */
export class ManagementClient {
  /** The API's base URL. */
  readonly url: URL;
  readonly #token: string | undefined;
  readonly #hint: string | undefined;
  readonly #unreachable: string | undefined;

  /**
   * @param url Base URL of the API (`http://127.0.0.1:9090/`).
   * @param token The bearer token, if known (without one every call is refused with exit 4).
   * @param options `hint`: what to say when the token is missing (default: set --token or
   *   KRAKEN_TOKEN); `unreachable`: what to say when nothing answers at `url` (default: is
   *   "kraken start" running…).
   */
  constructor(
    url: URL,
    token: string | undefined,
    options: { hint?: string; unreachable?: string } = {},
  ) {
    this.url = url;
    this.#token = token;
    this.#hint = options.hint;
    this.#unreachable = options.unreachable;
  }

  /**
   * Calls a route and returns its JSON body.
   *
   * @param method `GET` or `POST`.
   * @param path The route, e.g. `/v1/containers/api/scale`.
   * @param body A JSON body (POST).
   * @throws {CliError} See the class description for the exit codes.
   */
  async request<T = Record<string, unknown>>(
    method: "GET" | "POST",
    path: string,
    body?: unknown,
  ): Promise<T> {
    const response = await this.#fetch(method, path, body);
    return await response.json() as T;
  }

  /**
   * Reads an SSE route, calling `onEvent` per event, until the server ends the stream or
   * `options.signal` aborts (then it returns normally). `options.onOpen` is called once the
   * server has accepted the stream.
   *
   * @throws {CliError} As {@linkcode ManagementClient.request}, also if the connection drops.
   */
  async stream(
    path: string,
    onEvent: (event: StreamEvent) => void,
    options: { signal?: AbortSignal; onOpen?: () => void } = {},
  ): Promise<void> {
    const { signal } = options;
    let response: Response;
    try {
      response = await this.#fetch("GET", path, undefined, signal);
    } catch (error) {
      if (signal?.aborted) return;
      throw error;
    }
    options.onOpen?.();
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    const stop = () => reader.cancel().catch(() => {});
    signal?.addEventListener("abort", stop, { once: true });
    let buffer = "";
    try {
      while (true) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf("\n\n")) !== -1) {
          const event = parseSse(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          if (event) onEvent(event);
        }
      }
    } catch (error) {
      if (signal?.aborted) return;
      throw new CliError(
        EXIT.unreachable,
        `lost the connection to ${this.url.origin}: ${(error as Error).message}`,
      );
    } finally {
      signal?.removeEventListener("abort", stop);
    }
  }

  async #fetch(
    method: string,
    path: string,
    body: unknown,
    signal?: AbortSignal,
  ): Promise<Response> {
    const url = new URL(path.replace(/^\//, ""), this.url);
    const bytes = body === undefined ? undefined : new TextEncoder().encode(JSON.stringify(body));
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        signal,
        headers: {
          // Signed, never the token itself: whoever answers at this address learns nothing it
          // could use beyond replaying this one request (see management/signed.ts).
          ...(this.#token
            ? {
              authorization: signRequest(this.#token, {
                method,
                path: `${url.pathname}${url.search}`,
                body: bytes,
              }),
            }
            : {}),
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          // The runtime's audit log says a change came from the CLI.
          "user-agent": `kraken-cli/${VERSION}`,
        },
        body: bytes,
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new CliError(
        EXIT.unreachable,
        `cannot reach the runtime at ${this.url.origin} (${why(error)}); ${
          this.#unreachable ??
            'is "kraken start" running with a management: block? Set --url or KRAKEN_URL.'
        }`,
      );
    }
    if (response.ok) return response;
    const text = await response.text();
    let parsed: ApiError = {};
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: probably not a Kraken runtime at that address
    }
    const message = parsed.error?.message ?? `${response.status} ${response.statusText}`;
    const detail = { status: response.status, ...parsed };
    if (response.status === 401) {
      throw new CliError(
        EXIT.unauthorized,
        this.#token
          ? `unauthorized: ${message}`
          : `unauthorized: no token given; ${this.#hint ?? "set --token or KRAKEN_TOKEN"}`,
        detail,
      );
    }
    throw new CliError(response.status === 400 ? EXIT.usage : EXIT.failed, message, detail);
  }
}

/**
 * Why a fetch failed, in a few words: `fetch failed` hides it in the cause
 * (`… tcp connect error: Connection refused (os error 111)` → `connection refused`).
 */
function why(error: unknown): string {
  const cause = (error as { cause?: unknown })?.cause;
  const text = cause instanceof Error ? cause.message : (error as Error)?.message ?? String(error);
  const last = text.split(": ").pop()!.replace(/\s*\(os error \d+\)$/, "").trim();
  return last === "" ? String(error) : last.charAt(0).toLowerCase() + last.slice(1);
}

/**
 * Parses one SSE block (`event:`/`data:` lines); comments and blocks without data give `null`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSse } from "./client.ts";
 * const event = parseSse('id: 1\nevent: restart\ndata: {"container":"api"}');
 * assert.equal(event?.type, "restart");
 * assert.equal(event.data.container, "api");
 * assert.equal(parseSse(": keep-alive"), null);
 * ```
 */
export function parseSse(block: string): StreamEvent | null {
  let type = "message";
  const data: string[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") type = value;
    else if (field === "data") data.push(value);
  }
  if (data.length === 0) return null;
  try {
    return { type, data: JSON.parse(data.join("\n")) };
  } catch {
    return { type, data: { text: data.join("\n") } };
  }
}
