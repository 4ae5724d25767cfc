// A worker container cannot take its host's terminal raw, whichever way it tries (node:tty's
// ReadStream calls the native handle's setRawMode, not Deno.stdin.setRaw): run for real in a
// pseudo-terminal (util-linux `script`), the terminal still turns Ctrl-C into SIGINT to the host.
import assert from "node:assert/strict";
import { hasPty, terminalCommand } from "../_terminal.ts";

const HOST = new URL("../fixtures/raw_host.ts", import.meta.url).pathname;

Deno.test({
  name:
    "in a terminal, a worker granted nothing cannot make it raw (node:tty, process.stdin, Deno.stdin): Ctrl-C still stops the host",
  ignore: !hasPty,
  async fn() {
    const argv = [Deno.execPath(), "run", "-A", "--no-prompt", HOST];
    const child = terminalCommand(argv, {
      env: { NO_COLOR: "1" },
      stdin: "piped", // kept open: on end of input, script would end the session
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const stdin = child.stdin.getWriter();
    // In a raw terminal Ctrl-C is a byte: no SIGINT, and the host would wait until killed here.
    const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    let output = "";
    let interrupted = false;
    try {
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        output += chunk;
        if (!interrupted && output.includes('{"ready":true}')) {
          interrupted = true;
          await stdin.write(new TextEncoder().encode("\x03")); // Ctrl-C at the terminal
        }
      }
      await child.status;
      // The terminal echoes Ctrl-C as "^C" in front of the line the host prints next.
      const lines = output.split(/\r?\n/).filter((l) => l.includes("{")).map((l) =>
        JSON.parse(l.slice(l.indexOf("{")))
      );
      const tries = lines.find((l) => "tries" in l)?.tries as { name: string; ok: boolean }[];
      assert.ok(tries, output);
      for (const attempt of tries) {
        assert.deepEqual(attempt, { name: attempt.name, ok: false, error: "NotCapable" });
      }
      assert.equal(tries.length, 4);
      assert.deepEqual(lines.find((l) => "terminal" in l), {
        terminal: { isig: true, icanon: true },
      });
      assert.ok(lines.some((l) => l.sigint === true), `Ctrl-C did not reach the host:\n${output}`);
    } finally {
      clearTimeout(killer);
      await stdin.close().catch(() => {});
    }
  },
});
