/**
 * Exit codes of the `kraken` command, and the error that carries one. Scripts may rely on them:
 *
 * | code | meaning                                                                  |
 * | ---- | ------------------------------------------------------------------------ |
 * | 0    | done                                                                     |
 * | 1    | the operation failed (unknown container, refused, …) or the app failed   |
 * | 2    | bad usage or a bad topology (nothing was changed)                        |
 * | 3    | cannot reach the runtime's management API                                |
 * | 4    | unauthorized: missing or wrong token                                     |
 *
 * @module
 */

/**
 * Every exit code, by meaning.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EXIT } from "./exit.ts";
 * assert.equal(EXIT.unreachable, 3);
 * assert.equal(EXIT.unauthorized, 4);
 * ```
 */
export const EXIT = Object.freeze(
  {
    ok: 0,
    failed: 1,
    usage: 2,
    unreachable: 3,
    unauthorized: 4,
  } as const,
);

/**
 * One of the values of {@linkcode EXIT}.
 *
 * @example
 * ```ts
 * import type { ExitCode } from "./exit.ts";
 * const code: ExitCode = 2;
 * ```
 */
export type ExitCode = typeof EXIT[keyof typeof EXIT];

/**
 * A failure the CLI reports as one line on stderr and an exit code.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CliError, EXIT } from "./exit.ts";
 * const error = new CliError(EXIT.usage, "scale: N must be a whole number >= 0, got \"x\"");
 * assert.equal(error.code, 2);
 * ```
 */
export class CliError extends Error {
  /** The exit code. */
  readonly code: ExitCode;
  /** Extra detail printed by `--json` (e.g. the API's error body). */
  readonly detail?: Record<string, unknown>;

  /**
   * @param code The exit code.
   * @param message One line saying what went wrong and what to do.
   * @param detail Machine-readable detail.
   */
  constructor(code: ExitCode, message: string, detail?: Record<string, unknown>) {
    super(message);
    this.name = "CliError";
    this.code = code;
    this.detail = detail;
  }
}

/**
 * A usage error (exit 2) for `command`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { usageError } from "./exit.ts";
 * assert.equal(usageError("scale", "missing NAME").code, 2);
 * ```
 */
export function usageError(command: string, message: string): CliError {
  return new CliError(EXIT.usage, `${command}: ${message} (see "kraken ${command} --help")`);
}
