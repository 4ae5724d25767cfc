// examples/showcase: `deno task demo`, its one command, runs every step to the end and shows what
// its README says: the modes, the pub/sub round trip, the sandboxes refusing, a crash restarted by
// its supervisor, a nested worker restarted inside its process, the tree, a clean shutdown.
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("examples/showcase: deno task demo runs its eight steps to the end and exits 0", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "demo"],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
    signal: AbortSignal.timeout(60_000),
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, `${text}\n${new TextDecoder().decode(out.stderr)}`);
  for (let step = 1; step <= 8; step++) {
    assert.match(text, new RegExp(`^${step}\\. `, "m"), `step ${step} missing:\n${text}`);
  }
  assert.match(text, /started "showcase": 4 containers \(\d+ instances\) in 3 modes/);
  assert.match(text, /prices\.changed: \{"discount":"25%"/);
  assert.match(text, /\/etc\/hostname denied \(NotCapable\)/);
  assert.match(text, /restart event: flaky#0\.2 started/);
  assert.match(text, /fx crashed; pricing's supervisor started fx#0\.2 in the same pid/);
  assert.match(text, /shut down every worker and process in \d+ ms; bye/);
});
