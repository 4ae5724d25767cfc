// The bare `inventory` worker of bench/_serve_bare.ts's http-hop baseline: takes a MessagePort
// (the first message) and answers each { id, sku } on it with { id, item }, the lookup of
// bench/_serve_work.ts.
/// <reference lib="deno.worker" />
import { lookup } from "./_serve_work.ts";

self.onmessage = (event: MessageEvent<{ port: MessagePort }>) => {
  const port = event.data.port;
  port.onmessage = (message: MessageEvent<{ id: number; sku: string }>) => {
    port.postMessage({ id: message.data.id, item: lookup(message.data.sku) });
  };
};
