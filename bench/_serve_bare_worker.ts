// The bare serving worker of bench/_serve_bare.ts's http-worker baseline: Deno.serve inside a
// worker (the thread a worker container serves on, without Kraken), listening on the port of its
// first message and posting back the port it listens on.
/// <reference lib="deno.worker" />
import { lookup } from "./_serve_work.ts";

self.onmessage = (event: MessageEvent<{ listen: number }>) => {
  Deno.serve(
    {
      port: event.data.listen,
      hostname: "0.0.0.0",
      onListen: (addr) => self.postMessage(addr.port),
    },
    () => Response.json(lookup("A-100")),
  );
};
