/**
 * The HTTP answer to an error that escaped a serving container's `fetch`: the status says which
 * side failed, the JSON body says what, never how (no stack).
 *
 * @module
 */

/** The status of each error class a request into the application may end with. */
const STATUS: Readonly<Record<string, number>> = Object.freeze({
  UnavailableError: 503,
  TimeoutError: 504,
  RemoteError: 502,
});

/**
 * The response a serving container answers with when its `fetch` throws: `UnavailableError` (no
 * live instance of a container it asked) → 503, `TimeoutError` → 504, `RemoteError` (the other
 * container's handler threw) → 502, anything else → 500, with the JSON body
 * `{ "error": <class name>, "message": <message> }`. The class is told by its `name`, so an error
 * that crossed from another isolate maps the same. A hono app catches errors itself: hand them to
 * this from its `onError`.
 *
 * @param error What was thrown.
 * @returns A JSON response (`content-type: application/json`).
 *
 * @example A hono app whose errors map like a plain fetch's
 * ```ts
 * import assert from "node:assert/strict";
 * import { httpErrorResponse, UnavailableError } from "jsr:@kraken/kraken/container";
 * import { Hono } from "hono";
 *
 * const app = new Hono();
 * app.get("/stock", () => {
 *   throw new UnavailableError('no live instance of "inventory"');
 * });
 * app.onError((err) => httpErrorResponse(err));
 *
 * const res = await app.fetch(new Request("http://localhost/stock"));
 * assert.equal(res.status, 503);
 * assert.deepEqual(await res.json(), {
 *   error: "UnavailableError",
 *   message: 'no live instance of "inventory"',
 * });
 * ```
 */
export function httpErrorResponse(error: unknown): Response {
  const name = error instanceof Error ? error.name : "Error";
  const message = error instanceof Error ? error.message : String(error);
  return Response.json({ error: name, message }, { status: STATUS[name] ?? 500 });
}
