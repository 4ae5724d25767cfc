/**
 * The dashboard's script, shipped as a string (served as `/dashboard/app.js`): plain DOM, no
 * library, no network but its own origin. It signs in with the token once (`POST /session`; the
 * cookie is HttpOnly, so the script never sees it, and the session's key is kept in the origin's
 * storage), then follows three SSE streams read with `fetch`: the tree and metrics
 * (`/v1/dashboard/stream`), the events (`/v1/events`) and the logs (`/v1/logs`). Every text that
 * comes from the runtime is put in the page with `textContent`, never as HTML: container names,
 * log lines and replies are untrusted.
 *
 * Its parts share one function scope, in this order: `_client_session.ts` (helpers, sign-in, the
 * streams), `_client_panels.ts` (tree, container, timeline, logs, topology), then the start.
 *
 * @module
 */
import { SESSION_JS, START_JS } from "./_client_session.ts";
import { PANELS_JS } from "./_client_panels.ts";

/**
 * The script's source.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PAGE_JS } from "./client.ts";
 * assert.doesNotThrow(() => new Function(PAGE_JS)); // parses
 * ```
 */
export const PAGE_JS: string = `"use strict";
(function () {
${SESSION_JS}
${PANELS_JS}
${START_JS}
})();
`;
