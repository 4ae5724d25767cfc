/**
 * Text from containers made safe for a terminal. A log line's message and source come from
 * container code (or a peer, or an agent): printed raw, a newline would start a forged log line
 * ("ERROR [billing#0.1] …"), and an escape sequence would drive the terminal (set its title, write
 * the clipboard with OSC 52, hide text). Pure.
 *
 * @module
 */

/** What continues a message on the next line: never a timestamp, so never a line of its own. */
const CONTINUATION = "\n    │ ";

/**
 * `text` with every control character shown, not obeyed: a newline continues the message on an
 * indented line, a tab stays, and any other C0 or C1 control character, DEL, and the Unicode
 * line/paragraph separators and bidirectional overrides become `\xNN` / `\u{NNNN}`.
 *
 * @param text What a container (or peer) wrote.
 * @returns The same text, safe to print on a terminal as part of one log entry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { printable } from "./_printable.ts";
 * assert.equal(printable("ok\x1b]0;pwned\x07"), "ok\\x1b]0;pwned\\x07");
 * assert.equal(printable("a\nERROR [x] b"), "a\n    │ ERROR [x] b");
 * assert.equal(printable("tab\tand ü"), "tab\tand ü");
 * ```
 */
export function printable(text: string): string {
  // deno-lint-ignore no-control-regex
  if (!/[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/.test(text)) {
    return text;
  }
  let out = "";
  for (const char of text.replace(/\r\n/g, "\n")) {
    const code = char.codePointAt(0)!;
    if (char === "\n") out += CONTINUATION;
    else if (char === "\t") out += char;
    else if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) {
      out += `\\x${code.toString(16).padStart(2, "0")}`;
    } else if (
      code === 0x2028 || code === 0x2029 || (code >= 0x202a && code <= 0x202e) ||
      (code >= 0x2066 && code <= 0x2069)
    ) out += `\\u{${code.toString(16)}}`;
    else out += char;
  }
  return out;
}
