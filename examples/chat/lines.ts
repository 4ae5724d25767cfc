// The chat's line protocol, pure (no Deno.*, no I/O): what a client may send, how a line becomes a
// command, the name rules, and the two bounds every connection lives under — line length and
// lines per second. Shared by the TCP program and the WebSocket page, so both obey one rule.

/** Longest line accepted, in UTF-8 bytes; longer lines are refused, never buffered. */
export const MAX_LINE_BYTES = 4096;

/** The room every user starts in. */
export const LOBBY = "lobby";

/** A nick: a letter, then letters, digits, `_` or `-`; 1 to 24 characters. */
export const NICK_RULE = /^[A-Za-z][A-Za-z0-9_-]{0,23}$/;

/** A room: lower-case letters, digits, `_` or `-`; 1 to 32 characters (a leading `#` dropped). */
export const ROOM_RULE = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/** What one line asks for. */
export type Command =
  | { kind: "say"; text: string }
  | { kind: "nick"; nick: string }
  | { kind: "join"; room: string }
  | { kind: "rooms" }
  | { kind: "who" }
  | { kind: "quit" }
  | { kind: "help" }
  | { kind: "empty" }
  | { kind: "invalid"; reason: string };

/** The help text, one line per command. */
export const HELP = [
  "/nick NAME   change your nick (letters, digits, _ and -; starts with a letter; at most 24)",
  "/join ROOM   move to ROOM (created when first joined; lower case, digits, _ and -; at most 32)",
  "/rooms       rooms with people in them",
  "/who         who is in your room (on every replica)",
  "/quit        leave",
  "anything else is a message to your room",
];

/**
 * Removes what must not reach another user's terminal or page: control characters (an ANSI escape
 * sent to `nc` users could rewrite their screen) and bidirectional overrides (which make a line
 * read differently from what it is). Tabs and line breaks become spaces.
 */
export function cleanText(text: string): string {
  return text
    .replace(/[\t\n\r]/g, " ")
    // deno-lint-ignore no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, "")
    .trim();
}

/** A room name as typed (`#Deno`, `deno`) in its one spelling (`deno`); `undefined` if invalid. */
export function roomName(typed: string): string | undefined {
  const room = typed.replace(/^#/, "").toLowerCase();
  return ROOM_RULE.test(room) ? room : undefined;
}

/** Reads one cleaned line as a command. */
export function parseLine(line: string): Command {
  const text = cleanText(line);
  if (text === "") return { kind: "empty" };
  if (!text.startsWith("/")) return { kind: "say", text };
  const [word, ...rest] = text.split(/ +/);
  const arg = rest.join(" ");
  switch (word.toLowerCase()) {
    case "/nick":
      if (NICK_RULE.test(arg)) return { kind: "nick", nick: arg };
      return {
        kind: "invalid",
        reason: `bad nick ${JSON.stringify(arg.slice(0, 40))}: expected a letter, then letters, ` +
          "digits, _ or -, 24 characters at most",
      };
    case "/join": {
      const room = roomName(arg);
      if (room !== undefined) return { kind: "join", room };
      return {
        kind: "invalid",
        reason: `bad room ${JSON.stringify(arg.slice(0, 40))}: expected lower-case letters, ` +
          "digits, _ or -, 32 characters at most",
      };
    }
    case "/rooms":
      return { kind: "rooms" };
    case "/who":
      return { kind: "who" };
    case "/quit":
      return { kind: "quit" };
    case "/help":
      return { kind: "help" };
    default:
      return {
        kind: "invalid",
        reason: `unknown command ${JSON.stringify(word.slice(0, 40))}; try /help`,
      };
  }
}

/** One piece of input read from a byte stream: a line, or a line refused for its length. */
export type LineEvent = { line: string } | { tooLong: number };

/**
 * Cuts a byte stream into lines (`\n` or `\r\n`) holding at most `max` bytes of an unfinished line:
 * a line that grows past `max` is reported once as `tooLong` and the rest of it, up to its line
 * break, is skipped as it arrives. Memory stays under `max` plus one read, whatever a client sends.
 */
export class LineReader {
  readonly #max: number;
  readonly #decoder = new TextDecoder(); // not fatal: bad UTF-8 becomes U+FFFD
  #pending: Uint8Array = new Uint8Array(0);
  #skipping = false;

  constructor(max = MAX_LINE_BYTES) {
    this.#max = max;
  }

  /** The lines `bytes` completes, in order. */
  push(bytes: Uint8Array): LineEvent[] {
    const events: LineEvent[] = [];
    let start = 0;
    for (let end = bytes.indexOf(0x0a); end !== -1; end = bytes.indexOf(0x0a, start)) {
      const size = this.#pending.length + end - start;
      if (this.#skipping) this.#skipping = false;
      else if (size > this.#max) events.push({ tooLong: size });
      else {
        const line = concat(this.#pending, bytes.subarray(start, end));
        events.push({ line: this.#decoder.decode(line).replace(/\r$/, "") });
      }
      this.#pending = new Uint8Array(0);
      start = end + 1;
    }
    const rest = bytes.subarray(start);
    if (this.#skipping) return events;
    if (this.#pending.length + rest.length > this.#max) {
      events.push({ tooLong: this.#pending.length + rest.length });
      this.#pending = new Uint8Array(0);
      this.#skipping = true;
    } else if (rest.length > 0) {
      this.#pending = concat(this.#pending, rest);
    }
    return events;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b.slice();
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * Flood control for one connection: a token bucket of `burst` lines refilled at `perSecond`.
 * The clock is passed in, so it is tested without waiting.
 */
export class RateLimit {
  readonly #burst: number;
  readonly #perSecond: number;
  #tokens: number;
  #at: number;

  constructor(options: { burst: number; perSecond: number; now: number }) {
    this.#burst = options.burst;
    this.#perSecond = options.perSecond;
    this.#tokens = options.burst;
    this.#at = options.now;
  }

  /** Whether one more line may pass at `now` (and takes its token if so). */
  take(now: number): boolean {
    this.#tokens = Math.min(
      this.#burst,
      this.#tokens + (Math.max(0, now - this.#at) / 1000) * this.#perSecond,
    );
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
