/**
 * `kraken call NAME TOPIC [JSON]`: a request to a container from the console, through the
 * management API (`POST /v1/containers/:name/call`), and its reply printed.
 *
 * @module
 */
import { parseDuration } from "../../config/duration.ts";
import type { ParsedArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { connect } from "../connection.ts";
import { CliError, usageError } from "../exit.ts";

/** The longest wait a call may ask for, all attempts together (the API refuses more), ms. */
const MAX_WAIT_MS = 5 * 60_000;
/** The most a body may be, bytes: the API reads no more of a request. */
const MAX_BODY_BYTES = 1 << 20;
/** The API's error types that are the reply's own failure (exit 1, printed with their type). */
const REPLY_ERRORS = [
  "UnavailableError",
  "TimeoutError",
  "RemoteError",
  "UnknownTopicError",
  "FrameError",
];

/**
 * `kraken call NAME TOPIC [JSON]`.
 *
 * @example
 * ```sh
 * kraken call greeter greet '{"who":"ada"}'
 * echo '{"who":"ada"}' | kraken call greeter greet - --json
 * ```
 */
export const call: Command = {
  name: "call",
  args: "NAME TOPIC [JSON]",
  summary: "send a request to a container and print its reply",
  description: "The body is JSON (default null; - reads it from stdin); bytes are written " +
    '{"$bytes": "<base64>"} both ways and dates come back as ISO strings. The reply is printed ' +
    "as JSON (one line with --json). A reply error (UnavailableError, TimeoutError, RemoteError, " +
    "UnknownTopicError) is printed with its type and exits 1. --send sends without waiting " +
    '(prints nothing; {"ok":true} with --json).',
  api: true,
  flags: {
    timeout: {
      type: "string",
      short: "t",
      value: "DURATION",
      description: "wait this long for each attempt's reply (default 5s; at most 5m in all)",
    },
    retries: {
      type: "string",
      value: "N",
      description: "attempts after the first on a timeout (the handler still runs once)",
    },
    key: { type: "string", value: "KEY", description: "routing key (balance: key_hash)" },
    entity: {
      type: "string",
      value: "ID",
      description: "the entity of a container made by entities() (see docs/entities.md)",
    },
    send: { type: "boolean", description: "fire and forget: no reply is waited for" },
  },
  examples: [
    'kraken call greeter greet \'{"who":"ada"}\'',
    "kraken call orders list --timeout 30s --retries 2",
    "kraken call carts add '{\"item\":3}' --key user-7",
    'kraken call rooms join \'{"player":"ada"}\' --entity room-42',
    "kraken call audit note '\"deployed\"' --send",
    "jq -c .order order.json | kraken call orders place - --json",
  ],
  async run(args, io) {
    const [name, topic, text, extra] = args.positionals;
    if (!name) throw usageError("call", "missing NAME (the container)");
    if (!topic) throw usageError("call", "missing TOPIC (the handler to call)");
    if (extra !== undefined) {
      throw usageError(
        "call",
        `unexpected argument "${extra}" (the body is one JSON argument: quote it)`,
      );
    }
    const request: Record<string, unknown> = {
      topic,
      body: parseBody(text === "-" ? await readStdin() : text ?? "null"),
      ...waitFlags(args.flags),
    };
    if (typeof args.flags.key === "string") request.key = args.flags.key;
    if (typeof args.flags.entity === "string") request.entity = args.flags.entity;
    if (args.flags.send === true) request.send = true;
    const size = new TextEncoder().encode(JSON.stringify(request)).length;
    if (size > MAX_BODY_BYTES) {
      throw usageError(
        "call",
        `the request is ${size} bytes; the management API takes at most ${MAX_BODY_BYTES} (1 MiB)`,
      );
    }
    const client = await connect("call", args.flags);
    let answer: { reply?: unknown };
    try {
      answer = await client.request(
        "POST",
        `/v1/containers/${encodeURIComponent(name)}/call`,
        request,
      );
    } catch (error) {
      throw replyError(error);
    }
    if (args.flags.send === true) {
      if (io.json) io.printJson({ ok: true });
    } else if (io.json) io.printJson(answer.reply ?? null);
    else io.print(JSON.stringify(answer.reply ?? null, null, 2));
    return 0;
  },
};

/** `--timeout` and `--retries`, checked here so a mistake is said before anything is sent. */
function waitFlags(flags: ParsedArgs["flags"]): { timeout?: number; retries?: number } {
  const out: { timeout?: number; retries?: number } = {};
  const { timeout, retries, send } = flags;
  if (send === true) {
    for (const [flag, value] of [["--timeout", timeout], ["--retries", retries]]) {
      if (value !== undefined) {
        throw usageError("call", `${flag} applies to a request; --send waits for nothing`);
      }
    }
    return out;
  }
  if (timeout !== undefined) {
    const ms = parseDuration(timeout);
    if (ms === undefined || ms <= 0) {
      throw usageError(
        "call",
        `--timeout must be a duration > 0 such as 500ms, 5s or 2m, got "${timeout}"`,
      );
    }
    out.timeout = ms;
  }
  if (retries !== undefined) {
    if (typeof retries !== "string" || !/^\d+$/.test(retries)) {
      throw usageError("call", `--retries must be a whole number >= 0, got "${retries}"`);
    }
    out.retries = Number(retries);
  }
  const total = (out.timeout ?? 5000) * ((out.retries ?? 0) + 1);
  if (total > MAX_WAIT_MS) {
    throw usageError(
      "call",
      `--timeout × (--retries + 1) must be at most 5m, got ${total / 1000}s`,
    );
  }
  return out;
}

/**
 * The body, parsed; a syntax error names its line and column (`JSON.parse` does not always).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseBody } from "./call.ts";
 * assert.deepEqual(parseBody('{"a":1}'), { a: 1 });
 * assert.throws(() => parseBody('{"a":1,}'), /line 1, column 8/);
 * ```
 */
export function parseBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const at = jsonErrorPosition(text, (error as Error).message);
    const { line, column } = lineAndColumn(text, at);
    const near = text.slice(at, at + 20).replace(/\s+/g, " ");
    throw usageError(
      "call",
      `the body is not valid JSON at line ${line}, column ${column} (${
        near === "" ? "at its end" : `near ${JSON.stringify(near)}`
      }): ${
        (error as Error).message.replace(
          / in JSON at position[\s\S]*$|, "[\s\S]*" is not valid JSON$/,
          "",
        )
      }`,
    );
  }
}

/**
 * Where `JSON.parse` stopped in `text`: the position it names, or else the end of the longest
 * prefix that could still start a JSON text (V8 says "Unexpected token 'x'" without one).
 */
function jsonErrorPosition(text: string, message: string): number {
  const named = / at position (\d+)/.exec(message);
  if (named) return Number(named[1]);
  const viable = (n: number) => {
    try {
      JSON.parse(text.slice(0, n));
      return true;
    } catch (error) {
      // Cut short, a prefix fails at its end: "Unexpected end", or a position at its length.
      const message = (error as Error).message;
      const at = / at position (\d+)/.exec(message);
      return /^Unexpected end of JSON input/.test(message) || (at !== null && Number(at[1]) >= n);
    }
  };
  // A prefix that can still become JSON stays so when shortened: bisect for the last such.
  let low = 0;
  let high = text.length;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (viable(mid)) low = mid;
    else high = mid - 1;
  }
  return low;
}

function lineAndColumn(text: string, at: number): { line: number; column: number } {
  const before = text.slice(0, at).split("\n");
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

/** Standard input as text, refused past what the API would read. */
async function readStdin(): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of Deno.stdin.readable) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      throw usageError("call", `the body on stdin is over ${MAX_BODY_BYTES} bytes (1 MiB)`);
    }
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw usageError("call", "the body on stdin is not UTF-8 text");
  }
}

/** A reply error from the API, said with its type: `RemoteError: container "x" threw …`. */
function replyError(error: unknown): unknown {
  if (!(error instanceof CliError)) return error;
  const type = (error.detail?.error as { type?: unknown } | undefined)?.type;
  if (typeof type !== "string" || !REPLY_ERRORS.includes(type)) return error;
  return new CliError(error.code, `${type}: ${error.message}`, error.detail);
}
