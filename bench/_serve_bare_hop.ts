// The bare serving worker of bench/_serve_bare.ts's http-hop baseline: takes a MessagePort to
// the inventory worker and the port to listen on (the first message), serves HTTP answering
// each request with the item asked of the inventory worker (one postMessage each way), and posts
// the port it listens on back to its host. The same threads and crossings as Kraken's hop setup
// (a serving worker asking a worker container over their direct port), without Kraken.
/// <reference lib="deno.worker" />

self.onmessage = (event: MessageEvent<{ port: MessagePort; listen: number }>) => {
  const { port, listen } = event.data;
  const waiting = new Map<number, (item: unknown) => void>();
  let next = 0;
  port.onmessage = (message: MessageEvent<{ id: number; item: unknown }>) => {
    waiting.get(message.data.id)?.(message.data.item);
    waiting.delete(message.data.id);
  };
  Deno.serve(
    { port: listen, hostname: "0.0.0.0", onListen: (addr) => self.postMessage(addr.port) },
    async () => {
      const id = next++;
      const item = await new Promise((resolve) => {
        waiting.set(id, resolve);
        port.postMessage({ id, sku: "A-100" });
      });
      return Response.json(item);
    },
  );
};
