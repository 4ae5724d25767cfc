// A tiny OTLP/HTTP (JSON) receiver for tests: what Deno's built-in OpenTelemetry exports, as spans.

/** One exported span, as OTLP/JSON has it (ids in hex). */
export interface ExportedSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  kind: number;
  attributes: Record<string, unknown>;
}

/** OTLP span kinds. */
export const SPAN_KIND = { server: 2, client: 3, producer: 4, consumer: 5 } as const;

interface OtlpAttribute {
  key: string;
  value: Record<string, unknown>;
}

/** Listens on 127.0.0.1:`port`, keeps every span posted to /v1/traces. */
export class OtlpReceiver {
  readonly spans: ExportedSpan[] = [];
  readonly #server: Deno.HttpServer;

  constructor(port: number) {
    this.#server = Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, async (request) => {
      const body = await request.json();
      if (new URL(request.url).pathname === "/v1/traces") {
        for (const rs of body.resourceSpans ?? []) {
          for (const ss of rs.scopeSpans ?? []) {
            for (const span of ss.spans ?? []) {
              const attributes: Record<string, unknown> = {};
              for (const a of (span.attributes ?? []) as OtlpAttribute[]) {
                attributes[a.key] = Object.values(a.value)[0];
              }
              this.spans.push({
                name: span.name,
                traceId: span.traceId,
                spanId: span.spanId,
                parentSpanId: span.parentSpanId || undefined,
                kind: span.kind,
                attributes,
              });
            }
          }
        }
      }
      return Response.json({});
    });
  }

  /** The environment that points Deno's OpenTelemetry at this receiver. */
  static env(port: number): Record<string, string> {
    return {
      OTEL_DENO: "true",
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_SERVICE_NAME: "kraken-test",
    };
  }

  /** The first span named `name`, if any arrived. */
  named(name: string): ExportedSpan | undefined {
    return this.spans.find((s) => s.name === name);
  }

  async close(): Promise<void> {
    await this.#server.shutdown();
  }
}
