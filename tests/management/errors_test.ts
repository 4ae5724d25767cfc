// Error bodies are plain text: Deno's coloured error output, quoted in a message (a module that
// failed in its isolate), loses its terminal escapes before it reaches a script or the CLI.
import assert from "node:assert/strict";
import { errorResponse } from "../../management/_errors.ts";
import { TopologyError } from "../../mod.ts";

Deno.test("errorResponse strips terminal escapes from the message, whatever the error", () => {
  const coloured = "could not be started: \x1b[0m\x1b[1m\x1b[31merror\x1b[0m: Module not found";
  for (const error of [new Error(coloured), new TopologyError(coloured, { key: "a.module" })]) {
    const { body } = errorResponse(error);
    assert.equal(body.error.message.includes("\x1b"), false, body.error.message);
    assert.match(body.error.message, /could not be started: error: Module not found$/);
  }
});
