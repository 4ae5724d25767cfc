// Command-line parsing: what each command accepts, and bad usage as exit code 2.
import assert from "node:assert/strict";
import { parseArgs } from "../../cli/args.ts";
import { CliError } from "../../cli/exit.ts";
import type { FlagSpec } from "../../cli/args.ts";

const SPEC: FlagSpec = {
  follow: { type: "boolean", short: "f", description: "" },
  tail: { type: "string", short: "n", value: "N", description: "" },
  json: { type: "boolean", description: "" },
};

Deno.test("parseArgs reads positionals and flags in any order, --x=v, -x v and --no-x", () => {
  const parsed = parseArgs(
    "logs",
    ["--json", "api", "-n", "5", "--no-follow", "--", "--tail"],
    SPEC,
  );
  assert.deepEqual(parsed, {
    positionals: ["api", "--tail"],
    flags: { json: true, tail: "5", follow: false },
  });
  assert.deepEqual(parseArgs("logs", ["--tail=0", "-f"], SPEC).flags, { tail: "0", follow: true });
  assert.deepEqual(parseArgs("scale", ["api", "-1"], SPEC).positionals, ["api", "-1"]);
});

Deno.test("parseArgs: an unknown option or a missing value is a usage error (exit 2) naming it", () => {
  for (
    const [argv, message] of [
      [
        ["--folow"],
        /unknown option --folow \(did you mean --follow\?\); expected one of --follow, --tail, --json/,
      ],
      [["--zzz"], /unknown option --zzz; expected one of --follow/],
      [["--tail"], /--tail needs a value \(N\)/],
      [["--json=yes"], /--json takes no value/],
      [["--no-tail"], /unknown option --no-tail/],
    ] as const
  ) {
    assert.throws(() => parseArgs("logs", [...argv], SPEC), (error: unknown) => {
      assert.ok(error instanceof CliError);
      assert.equal(error.code, 2);
      assert.match(error.message, message);
      assert.match(error.message, /see "kraken logs --help"/);
      return true;
    });
  }
});
