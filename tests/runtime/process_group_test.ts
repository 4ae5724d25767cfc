// Ctrl-C at a terminal sends SIGINT to the whole foreground process group. The host handles it by
// shutting down gracefully; its process containers must not take it as their own end.
import assert from "node:assert/strict";
import { FIXTURES, readUntil, within } from "../_helpers.ts";

Deno.test("Ctrl-C at a terminal (SIGINT to the host's process group) lets a process container finish its request and stop gracefully", async () => {
  // Its own process group and session, as a job a shell runs in the foreground.
  const host = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-prompt", new URL("interrupted_host.ts", FIXTURES).pathname],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
    detached: true,
  }).spawn();
  const reader = host.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    let text = await readUntil(reader, (t) => t.includes('"asked"'), 30_000, "the request sent");
    const { pid } = JSON.parse(text.split("\n")[0]);
    assert.notEqual(pid, host.pid, "the container runs in its own process");
    Deno.kill(-host.pid, "SIGINT"); // the group: the host and every process it started in it
    text = await readUntil(reader, (t) => t.includes('"answer"'), 20_000, "the host's report");
    const report = JSON.parse(text.trim().split("\n").at(-1)!);
    assert.deepEqual(report.answer, { reply: 1500 }, "the request in flight was answered");
    assert.deepEqual(
      report.exits.filter((e: string) => !/: normal/.test(e)),
      [],
      "the instance stopped normally, not killed by the signal",
    );
    assert.equal((await within(host.status, 10_000, "the host to exit")).code, 0);
  } finally {
    try {
      Deno.kill(-host.pid, "SIGKILL");
    } catch {
      // the group is gone, as it should be
    }
    await host.status;
    await reader.cancel().catch(() => {});
  }
});
