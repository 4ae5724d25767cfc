// Error bodies are plain text: Deno's coloured error output, quoted in a message (a module that
// failed in its isolate), loses its terminal escapes before it reaches a script or the CLI.
import assert from "node:assert/strict";
import { HTTPException } from "hono/http-exception";
import { errorResponse, HttpError } from "../../management/_errors.ts";
import { TopologyError } from "../../mod.ts";

Deno.test("errorResponse strips terminal escapes from the message, whatever the error", () => {
  const coloured = "could not be started: \x1b[0m\x1b[1m\x1b[31merror\x1b[0m: Module not found";
  for (const error of [new Error(coloured), new TopologyError(coloured, { key: "a.module" })]) {
    const { body } = errorResponse(error);
    assert.equal(body.error.message.includes("\x1b"), false, body.error.message);
    assert.match(body.error.message, /could not be started: error: Module not found$/);
  }
});

Deno.test("a hono HTTPException answers the one JSON error body, typed by its status", () => {
  const { status, body } = errorResponse(new HTTPException(413, { message: "too big" }));
  assert.equal(status, 413);
  assert.deepEqual(body, { error: { type: "PayloadTooLarge", message: "too big" } });
  const conflict = new HttpError(409, "Conflict", 'a container named "api" exists', "name");
  assert.ok(conflict instanceof HTTPException, "HttpError is hono's HTTPException");
  const res = conflict.getResponse();
  assert.equal(res.status, 409);
  assert.equal(res.headers.get("content-type"), "application/json");
});
