// Raw baseline for worker mode: a bare Web Worker echoing each message as it came (one message,
// or one array of messages when the host batches), one postMessage per message received.
/// <reference lib="deno.worker" />
self.onmessage = (event: MessageEvent) => {
  self.postMessage(event.data);
};
