// The idle-WebSocket client of bench/serve.ts, run as its own process: opens `count` WebSockets
// to ws://127.0.0.1:PORT/ (at most `concurrency` handshakes at once), prints one JSON line
// (`WsHoldResult`) once all are open or failed, keeps them open and idle until its stdin ends,
// then closes them.
//
//   deno run -A bench/_ws_hold.ts '{"port":9000,"count":10000,"concurrency":200}'

/** What the client is told (one JSON argument). */
export interface WsHoldOptions {
  port: number;
  count: number;
  concurrency: number;
  /** How long one handshake may take, ms (default 10 000). */
  timeoutMs?: number;
}

/** What the client reports once every socket is open or failed. */
export interface WsHoldResult {
  open: number;
  errors: number;
  /** ms from the first handshake until the last settled. */
  ms: number;
  firstError?: string;
}

/** Opens the sockets; resolves with the result and the sockets held open. */
export async function wsHold(
  options: WsHoldOptions,
): Promise<{ result: WsHoldResult; sockets: WebSocket[] }> {
  const sockets: WebSocket[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let started = 0;
  const t0 = performance.now();

  function openOne(): Promise<void> {
    return new Promise((resolve) => {
      const socket = new WebSocket(`ws://127.0.0.1:${options.port}/`);
      const timer = setTimeout(() => settle("handshake timed out"), options.timeoutMs ?? 10_000);
      function settle(error?: string) {
        clearTimeout(timer);
        socket.onopen = socket.onerror = null;
        if (error === undefined) sockets.push(socket);
        else {
          errors++;
          firstError ??= error;
          socket.close();
        }
        resolve();
      }
      socket.onopen = () => settle();
      socket.onerror = (e) => settle(e instanceof ErrorEvent ? e.message : "error");
    });
  }

  async function lane(): Promise<void> {
    while (started < options.count) {
      started++;
      await openOne();
    }
  }

  await Promise.all(Array.from({ length: options.concurrency }, lane));
  const result: WsHoldResult = {
    open: sockets.length,
    errors,
    ms: performance.now() - t0,
    ...(firstError ? { firstError } : {}),
  };
  return { result, sockets };
}

if (import.meta.main) {
  const { result, sockets } = await wsHold(JSON.parse(Deno.args[0]) as WsHoldOptions);
  console.log(JSON.stringify(result));
  for await (const _ of Deno.stdin.readable) {
    // held until the bench closes our stdin
  }
  const closed = sockets.map((s) =>
    new Promise<void>((resolve) => {
      if (s.readyState === WebSocket.CLOSED) return resolve();
      s.onclose = () => resolve();
      s.close(1000);
    })
  );
  // Bounded: a server that never answers the close must not hold the bench.
  await Promise.race([Promise.all(closed), new Promise((r) => setTimeout(r, 5_000))]);
  Deno.exit(0);
}
