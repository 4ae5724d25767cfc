// HTTP clients for the example tests: one that keeps its connection alive (fetch with its own
// client, closed at the end) and one that opens a new connection per request (a raw HTTP/1.1
// request with `connection: close`), both bounded in time.

export { freePort } from "../_helpers.ts";

/** A status, a parsed JSON body and the headers of one response. */
export interface Answer<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

/**
 * fetch over a kept-alive connection pool of its own; `close()` ends it. Every request ends by
 * `deadline` (a `performance.now()` time), so a test's loops of requests end by then too.
 */
export class KeepAliveClient {
  readonly #client = Deno.createHttpClient({});

  constructor(readonly base: string, readonly deadline = Infinity) {}

  /** One request, its JSON body read; fails after `ms` (default 10 s) or at the deadline. */
  async request<T = unknown>(
    path: string,
    init: { method?: string; json?: unknown; ms?: number } = {},
  ): Promise<Answer<T>> {
    const ms = Math.min(init.ms ?? 10_000, this.deadline - performance.now());
    if (ms <= 0) throw new Error(`the test's deadline passed before ${path}`);
    const response = await fetch(`${this.base}${path}`, {
      client: this.#client,
      method: init.method ?? (init.json === undefined ? "GET" : "POST"),
      headers: init.json === undefined ? {} : { "content-type": "application/json" },
      body: init.json === undefined ? undefined : JSON.stringify(init.json),
      signal: AbortSignal.timeout(ms),
    });
    const text = await response.text();
    return {
      status: response.status,
      body: (text ? JSON.parse(text) : undefined) as T,
      headers: response.headers,
    };
  }

  close(): void {
    this.#client.close();
  }
}

/**
 * GET `path` on a connection of its own, closed after the answer (`connection: close`): every
 * call is a new TCP connection, so the kernel picks a listening replica each time. Returns the
 * status and the `x-served-by` header; fails after `ms`.
 */
export async function getOnNewConnection(
  port: number,
  path: string,
  ms = 10_000,
): Promise<{ status: number; servedBy: string | undefined }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch {
      // closed already
    }
  }, ms);
  try {
    await conn.write(
      new TextEncoder().encode(
        `GET ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nconnection: close\r\n\r\n`,
      ),
    );
    let text = "";
    for await (const chunk of conn.readable.pipeThrough(new TextDecoderStream())) text += chunk;
    const head = text.slice(0, text.indexOf("\r\n\r\n"));
    const status = Number(head.match(/^HTTP\/1\.1 (\d{3})/)?.[1]);
    if (!status) {
      throw new Error(`no HTTP answer on GET ${path}: ${JSON.stringify(text.slice(0, 200))}`);
    }
    return { status, servedBy: head.match(/^x-served-by: (.*)$/im)?.[1]?.trim() };
  } finally {
    clearTimeout(timer);
    try {
      conn.close(); // reading to the end closed it already, unless the request failed midway
    } catch {
      // closed already
    }
  }
}
