/**
 * The management API: a hono app over a `Runtime` (tree, scale, restart, spawn, call, apply,
 * events, logs, Prometheus metrics), behind a bearer token or signed requests, on a bounded HTTP server.
 * An adapter: the runtime never imports it; `kraken start` and user code serve it.
 *
 * | file            | what                                                                    |
 * | --------------- | ----------------------------------------------------------------------- |
 * | `app.ts`        | every route, as a hono app (`app.request()` in tests)                    |
 * | `server.ts`     | `serveManagement`: the app on a socket                                   |
 * | `signed.ts`     | signed requests: the token never travels                                 |
 * | `prometheus.ts` | `rt.metrics()` in Prometheus text                                        |
 * | `error_body.ts` | the one JSON shape of every failure                                      |
 * | `_http.ts`, `_auth.ts`, `_streams.ts`, `_lookup.ts`, `_errors.ts` | the HTTP server, authentication (hono `bearerAuth`, signatures, a hook), SSE/NDJSON (hono `streamSSE`/`stream`), lookups, status table |
 * | `_call.ts`      | `POST /v1/containers/:name/call`: a request to a container, as JSON      |
 * | `_audit.ts`     | every change asked, with who asked, handed to `rt.audit`                 |
 *
 * @module
 */
export * from "./server.ts";
export * from "./app.ts";
export * from "./signed.ts";
export * from "./prometheus.ts";
export type * from "./error_body.ts";
