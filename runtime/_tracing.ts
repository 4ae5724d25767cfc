/**
 * Traces: each request a span, through Deno's built-in OpenTelemetry. Off unless the runtime's
 * environment turns Deno's on (`OTEL_DENO=true`), and then `@opentelemetry/api` — which resolves
 * to Deno's own tracer provider and context manager — is loaded into each isolate that runs a
 * container; off, nothing npm is loaded and the messaging path reads one `null`.
 *
 * The spans of one request: the sender's `client` span (child of whatever span is active where
 * `request()` was called), carried in the envelope as W3C `traceparent`/`tracestate` (`tc`/`ts`),
 * and the receiving instance's `server` span, child of that one, active while its handler runs —
 * so a request the handler makes is its child in turn, in whatever isolate, process or runtime
 * the next container lives. A served HTTP request starts a `server` span under its incoming
 * `traceparent` header (checked first: a malformed one starts a new trace).
 *
 * @module
 */
import type * as OtelApi from "@opentelemetry/api";
import { formatTraceParent, isTraceState, parseTraceParent } from "../protocol/trace_context.ts";

type Api = typeof OtelApi;

/** What tracing needs once on: the API and Kraken's tracer. */
interface On {
  api: Api;
  tracer: OtelApi.Tracer;
}

/** `null` while tracing is off (the only thing the messaging path reads). */
let on: On | null = null;

/** Whether tracing is on in this isolate. */
export function tracingOn(): boolean {
  return on !== null;
}

/**
 * Whether Deno's OpenTelemetry is on for this process: `OTEL_DENO` is `true` or `1` (read only
 * where this process may read it; never a prompt).
 */
export function otelEnabled(): boolean {
  try {
    if (Deno.permissions.querySync({ name: "env", variable: "OTEL_DENO" }).state !== "granted") {
      return false;
    }
    const value = Deno.env.get("OTEL_DENO")?.toLowerCase();
    return value === "true" || value === "1";
  } catch {
    return false;
  }
}

/** Turns tracing on in this isolate (loads the API once). */
export async function startTracing(): Promise<void> {
  if (on) return;
  const api: Api = await import("@opentelemetry/api");
  on = { api, tracer: api.trace.getTracer("kraken") };
}

/** The sending side of one traced request. */
export interface ClientSpan {
  /** The `traceparent` the request carries. */
  readonly tc: string;
  /** The `tracestate` it carries, when the trace has one. */
  readonly ts?: string;
  /** Ends the span (with the error, when the request failed). */
  end(error?: unknown): void;
}

/**
 * Starts the `client` span of a request to `container` (`null` while tracing is off), as a child
 * of the span active here.
 */
export function clientSpan(container: string, topic: string, node: string): ClientSpan | null {
  if (on === null) return null;
  const { api, tracer } = on;
  const span = tracer.startSpan(`${container} ${topic}`, {
    kind: api.SpanKind.CLIENT,
    attributes: { "kraken.container": container, "kraken.topic": topic, "kraken.node": node },
  }, api.context.active());
  const sc = span.spanContext();
  const state = sc.traceState?.serialize();
  return {
    tc: formatTraceParent({ traceId: sc.traceId, spanId: sc.spanId, flags: sc.traceFlags }),
    ts: state ? state : undefined,
    end: (error) => finish(on!.api, span, error),
  };
}

/**
 * The trace context a send to `container` carries: that of a `producer` span, child of the span
 * active here, ended at once (a send has no reply to wait for); `null` while tracing is off.
 */
export function producerContext(
  container: string,
  topic: string,
  node: string,
): { tc: string; ts?: string } | null {
  if (on === null) return null;
  const { api, tracer } = on;
  const span = tracer.startSpan(`${container} ${topic}`, {
    kind: api.SpanKind.PRODUCER,
    attributes: { "kraken.container": container, "kraken.topic": topic, "kraken.node": node },
  }, api.context.active());
  span.end();
  const sc = span.spanContext();
  const state = sc.traceState?.serialize();
  const tc = formatTraceParent({ traceId: sc.traceId, spanId: sc.spanId, flags: sc.traceFlags });
  return state ? { tc, ts: state } : { tc };
}

/** Who handles a traced call: for the span's name and attributes. */
export interface ServerSite {
  /** Container name. */
  container: string;
  /** Instance id. */
  instance: string;
  /** Node id. */
  node: string;
}

/**
 * Runs `call` inside a `server` span (`consumer` for a send, `k: "send"`) named after the container
 * and the message's topic `t`, child
 * of the caller's `traceparent` `tc` (with its `tracestate` `ts`) when it is a valid one, else the
 * root of a new trace; the span ends when what `call` returned settles. While tracing is off, just
 * `call()`.
 *
 * @param site The instance handling it.
 * @param request The request's topic and trace context (untrusted).
 * @param call The handler.
 * @returns What `call` returned.
 */
export function inServerSpan<T>(
  site: ServerSite,
  request: { k?: string; t: string; tc?: unknown; ts?: unknown },
  call: () => T,
): T {
  if (on === null) return call();
  const { api } = on;
  return inSpan(
    on,
    `${site.container} ${request.t}`,
    site,
    remote(api, request.tc, request.ts),
    call,
    {},
    // A send's handler consumes a message nobody waits on.
    request.k === "send" ? api.SpanKind.CONSUMER : api.SpanKind.SERVER,
  );
}

/**
 * Wraps a served container's `fetch` so each HTTP request runs inside a `server` span: a child of
 * the span Deno's own HTTP instrumentation made (where it made one), else of the request's
 * `traceparent` header when that is a valid one (with `tracestate`), else a new trace's root.
 *
 * @param site The instance serving it.
 * @param fetch The container's `fetch`.
 * @returns `fetch` itself while tracing is off; the traced one otherwise.
 */
export function tracedFetch<I>(
  site: ServerSite,
  fetch: (request: Request, info: I) => unknown,
): (request: Request, info: I) => unknown {
  const state = on;
  if (state === null) return fetch;
  const { api } = state;
  return (request, info) => {
    const active = api.context.active();
    const parent = api.trace.getSpan(active) !== undefined ? active : remote(
      api,
      request.headers.get("traceparent"),
      request.headers.get("tracestate"),
    );
    const path = URL.canParse(request.url) ? new URL(request.url).pathname : "";
    return inSpan(
      state,
      `${site.container} ${request.method}`,
      site,
      parent,
      () => fetch(request, info),
      {
        "http.request.method": request.method,
        "url.path": path,
      },
    );
  };
}

/** The context of a remote caller's span, when `tc` is a valid `traceparent`; else the root. */
function remote(api: Api, tc: unknown, ts: unknown): OtelApi.Context {
  const parent = parseTraceParent(tc);
  if (parent === null) return api.ROOT_CONTEXT;
  return api.trace.setSpanContext(api.ROOT_CONTEXT, {
    traceId: parent.traceId,
    spanId: parent.spanId,
    traceFlags: parent.flags,
    isRemote: true,
    traceState: isTraceState(ts) ? api.createTraceState(ts) : undefined,
  });
}

function inSpan<T>(
  state: On,
  name: string,
  site: ServerSite,
  parent: OtelApi.Context,
  call: () => T,
  extra: OtelApi.Attributes = {},
  kind: OtelApi.SpanKind = state.api.SpanKind.SERVER,
): T {
  const { api, tracer } = state;
  const span = tracer.startSpan(name, {
    kind,
    attributes: {
      "kraken.container": site.container,
      "kraken.instance": site.instance,
      "kraken.node": site.node,
      ...extra,
    },
  }, parent);
  let result: T;
  try {
    result = api.context.with(api.trace.setSpan(parent, span), call);
  } catch (error) {
    finish(api, span, error);
    throw error;
  }
  if (result instanceof Promise) {
    result.then(
      (value) => finish(api, span, undefined, value),
      (error) => finish(api, span, error),
    );
  } else finish(api, span, undefined, result);
  return result;
}

/** The trace id of the span active here, or `undefined` (tracing off, or no span). */
export function activeTraceId(): string | undefined {
  if (on === null) return undefined;
  const span = on.api.trace.getActiveSpan();
  return span?.spanContext().traceId;
}

function finish(api: Api, span: OtelApi.Span, error?: unknown, value?: unknown): void {
  if (value instanceof Response) {
    span.setAttribute("http.response.status_code", value.status);
    if (value.status >= 500) span.setStatus({ code: api.SpanStatusCode.ERROR });
  }
  if (error !== undefined) {
    span.setStatus({
      code: api.SpanStatusCode.ERROR,
      message: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    });
  }
  span.end();
}
