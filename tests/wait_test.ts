// The bounded waits every test uses: each ends, and one that runs out of time names what it waited
// for — a regression fails its test instead of hanging CI.
import assert from "node:assert/strict";
import { readToEnd, readUntil, untilClosed, waitUntil, within } from "./_wait.ts";

/** A text stream that says `chunks` and then stays open (or ends, with `end`). */
function speaking(chunks: string[], end = false): ReadableStream<string> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      if (end) controller.close();
    },
  });
}

Deno.test("readUntil returns the text once it holds what was waited for", async () => {
  const reader = speaking(["http://127.0.0.1", ":9090/\nmore"]).getReader();
  const text = await readUntil(reader, (t) => t.includes("\n"), 1000, "the URL");
  assert.equal(text, "http://127.0.0.1:9090/\nmore");
  await reader.cancel();
});

Deno.test("readUntil fails naming what it waited for when the stream stays silent", async () => {
  const reader = speaking(["partial"]).getReader();
  await assert.rejects(
    readUntil(reader, (t) => t.includes("\n"), 50, "the listener's URL"),
    /timed out after 50 ms waiting for the listener's URL; read so far: "partial"/,
  );
});

Deno.test("readUntil fails at once when the stream ends before what it waited for", async () => {
  const reader = speaking(["no newline"], true).getReader();
  const started = performance.now();
  await assert.rejects(
    readUntil(reader, (t) => t.includes("\n"), 10_000, "the listener's URL"),
    /the stream ended before the listener's URL; read so far: "no newline"/,
  );
  assert.ok(performance.now() - started < 1000, "no waiting for the bound once the stream ended");
});

Deno.test("readToEnd returns every chunk, and fails naming what it waited for when the stream stays open", async () => {
  assert.deepEqual(await readToEnd(speaking(["a", "b"], true).getReader(), 1000, "the end"), [
    "a",
    "b",
  ]);
  await assert.rejects(
    readToEnd(speaking(["a"]).getReader(), 50, "the stream to end"),
    /timed out after 50 ms waiting for the stream to end/,
  );
});

Deno.test("untilClosed returns when the peer closes, and fails naming what it waited for when the peer holds on", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) accepted.push(conn);
  })();
  try {
    const closing = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    await waitUntil(() => accepted.length === 1, 1000, "the first connection");
    accepted[0].close();
    await untilClosed(closing, 1000, "the listener to close");
    closing.close();

    const held = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    await assert.rejects(
      untilClosed(held, 50, "the listener to close the connection"),
      /timed out after 50 ms waiting for the listener to close the connection/,
    );
  } finally {
    listener.close();
    await accepting;
    for (const conn of accepted.slice(1)) conn.close();
  }
});

Deno.test("within and waitUntil fail naming what they waited for", async () => {
  assert.equal(await within(Promise.resolve(7), 1000, "seven"), 7);
  await assert.rejects(
    within(new Promise(() => {}), 50, "a reply"),
    /timed out after 50 ms waiting for a reply/,
  );
  await assert.rejects(
    waitUntil(() => false, 50, "a peer to link"),
    /timed out after 50 ms waiting for a peer to link/,
  );
});
