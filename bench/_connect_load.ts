// The connection-rate client of bench/serve.ts, run as its own process: `concurrency` loops each
// open a TCP connection, wait for the server to close it (the server accepts and closes), close
// their end and start again, for a warm-up then a fixed measured duration. It prints one JSON line
// (`ConnectLoadResult`) and exits.
//
//   deno run -A bench/_connect_load.ts '{"port":9000,"concurrency":32,"warmupMs":300,"durationMs":2000}'
//
// Connections go to 127.0.0.1 … 127.0.0.16 in turn (the server listens on 0.0.0.0): loopback
// 4-tuples left in TIME_WAIT by the server's close would otherwise use up the ~28k ephemeral
// ports of one destination within seconds at these rates.

/** What the client is told (one JSON argument). */
export interface ConnectLoadOptions {
  port: number;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
}

/** What one run measured (its one stdout line). */
export interface ConnectLoadResult {
  /** Connections accepted and closed by the server inside the measured window. */
  ok: number;
  /** Failures inside the window: refused or reset connections, data where none was expected. */
  errors: number;
  /** ok per second over the measured window. */
  perSecond: number;
  firstError?: string;
}

const ADDRESSES = 16;

/** Runs the connection loops described by `options` and returns what they measured. */
export async function connectLoad(options: ConnectLoadOptions): Promise<ConnectLoadResult> {
  const from = performance.now() + options.warmupMs;
  const until = from + options.durationMs;
  let ok = 0;
  let errors = 0;
  let firstError: string | undefined;
  let next = 0;
  const buf = new Uint8Array(64);

  async function loop(): Promise<void> {
    while (performance.now() < until) {
      const hostname = `127.0.0.${1 + (next++ % ADDRESSES)}`;
      const started = performance.now();
      let conn: Deno.TcpConn | undefined;
      try {
        conn = await Deno.connect({ hostname, port: options.port });
        const n = await conn.read(buf);
        if (n !== null) throw new Error(`the server sent ${n} bytes; expected it to close`);
        if (started >= from && performance.now() <= until) ok++;
      } catch (error) {
        if (started >= from && performance.now() <= until) {
          errors++;
          firstError ??= error instanceof Error ? error.message : String(error);
        }
        await new Promise((resolve) => setTimeout(resolve, 5)); // no spinning on a refusal
      } finally {
        try {
          conn?.close();
        } catch {
          // already closed
        }
      }
    }
  }

  await Promise.all(Array.from({ length: options.concurrency }, loop));
  return {
    ok,
    errors,
    perSecond: ok / (options.durationMs / 1000),
    ...(firstError ? { firstError } : {}),
  };
}

if (import.meta.main) {
  console.log(JSON.stringify(await connectLoad(JSON.parse(Deno.args[0]) as ConnectLoadOptions)));
}
