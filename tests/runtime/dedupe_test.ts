// An instance keeps the replies of retried requests (so a duplicate is answered, not run again)
// within a byte budget: a caller retrying many requests with large replies cannot make it hold
// gigabytes. Through a real runtime in a process whose heap is smaller than the replies.
import assert from "node:assert/strict";
import { DEDUPE_BYTES, RetriedRequests } from "../../runtime/_dedupe.ts";

Deno.test("400 retried requests with 512 KiB replies (200 MiB) run in a 160 MiB heap: only the newest 32 MiB of replies are kept", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--no-lock",
      "--v8-flags=--max-old-space-size=160",
      new URL("../fixtures/dedupe_host.ts", import.meta.url).pathname,
      "400",
      "512",
    ],
    stdout: "piped",
    stderr: "piped",
  });
  const { code, stdout, stderr } = await child.output();
  const err = new TextDecoder().decode(stderr);
  assert.equal(code, 0, `the runtime ended with ${code}: ${err.slice(-300)}`);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(stdout)), { answered: 400 });
});

Deno.test("kept replies are forgotten oldest first past the byte budget; a running request keeps its place; one larger than the budget is not kept", () => {
  const reply = (i: number, bytes: number) => ({
    k: "res" as const,
    i,
    d: "w1",
    f: "a#0.1",
    b: new Uint8Array(bytes),
  });
  const seen = new RetriedRequests({ maxBytes: 10_000 });
  assert.equal(seen.first("w1", 1), true);
  assert.equal(seen.first("w1", 2), true); // still running below
  seen.answered("w1", 1, reply(1, 4000));
  for (const i of [3, 4]) {
    seen.first("w1", i);
    seen.answered("w1", i, reply(i, 4000));
  }
  assert.equal(seen.reply("w1", 1), undefined, "the oldest reply went first");
  assert.equal(seen.first("w1", 2), false, "the running request is still known");
  assert.equal(seen.replies, 2);
  assert.ok(seen.bytes <= 10_000);
  seen.answered("w1", 2, reply(2, 20_000));
  assert.equal(seen.reply("w1", 2), undefined, "larger than the budget: not kept");
  assert.equal(seen.first("w1", 2), true, "…and forgotten, so a duplicate runs again");
  assert.equal(seen.replies, 2, "the others stay");
  assert.equal(DEDUPE_BYTES, 32 * 2 ** 20);
});
