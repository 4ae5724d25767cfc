// A bounded HTTP client for the serving tests: a few loops firing GETs back to back until told to
// stop (or a time bound), counting answers, failures and who answered.

/** What a load run saw. */
export interface LoadResult {
  ok: number;
  failures: string[];
  /** Answering instances (from the JSON body's `instance`), in order of first answer. */
  instances: string[];
}

/** A running load: `stop()` ends it and resolves with what it saw. */
export interface Load {
  /** Answers so far. */
  readonly ok: number;
  stop(): Promise<LoadResult>;
}

/**
 * Fires GETs at `url` from `concurrency` loops; `keepAlive: false` opens a connection per request.
 * Stops by itself after `maxMs` (a bound: a test never waits longer).
 */
export function startLoad(
  url: string,
  options: { keepAlive: boolean; concurrency?: number; maxMs?: number },
): Load {
  const client = Deno.createHttpClient(options.keepAlive ? {} : { poolMaxIdlePerHost: 0 });
  const result: LoadResult = { ok: 0, failures: [], instances: [] };
  let running = true;
  const timer = setTimeout(() => (running = false), options.maxMs ?? 15_000);
  const loop = async () => {
    while (running) {
      try {
        const res = await fetch(url, {
          client,
          headers: options.keepAlive ? {} : { connection: "close" },
        });
        const body = await res.text();
        if (res.status !== 200) {
          result.failures.push(`${res.status} ${body.slice(0, 200)}`);
          continue;
        }
        result.ok++;
        const instance = (JSON.parse(body) as { instance?: string }).instance;
        if (instance && !result.instances.includes(instance)) result.instances.push(instance);
      } catch (error) {
        result.failures.push(`${error} ${(error as Error).cause ?? ""}`);
      }
    }
  };
  const loops = Array.from({ length: options.concurrency ?? 4 }, loop);
  return {
    get ok() {
      return result.ok;
    },
    async stop() {
      running = false;
      clearTimeout(timer);
      await Promise.all(loops);
      client.close();
      return result;
    },
  };
}

/** Resolves once `load` has `count` more answers than now (bounded by `ms`). */
export async function answers(load: Load, count: number, ms = 5_000): Promise<void> {
  const target = load.ok + count;
  const end = performance.now() + ms;
  while (load.ok < target) {
    if (performance.now() > end) throw new Error(`fewer than ${count} answers within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
