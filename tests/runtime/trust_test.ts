// A container granted nothing writes raw envelopes on its own link to the host (a worker's
// postMessage; a process's stdout on the stdio link) and tries to speak for others. Each attempt
// is dropped at the hub, logged and counted against it; the rest of the application sees nothing.
import assert from "node:assert/strict";
import { type ForgeryResult, runForgery } from "../fixtures/forgery_scenario.ts";
import { runTickForgery, type TickForgeryResult } from "../fixtures/tick_forgery_scenario.ts";

function assertHeld(result: ForgeryResult): void {
  assert.deepEqual(result.victimAnswers, ["victim#0.1"], "claiming its name steals no traffic");
  assert.equal(result.slowReply, 300, "forged replies never settle the host's requests");
  assert.equal(result.slowAfterSpoof, 300, "a request in the host's name is not relayed");
  assert.deepEqual(result.treeInstancesOfVictim, ["victim#0.1"]);
  assert.equal(result.victimRestartsInTree, 0, "a forged subtree does not reach the tree");
  assert.equal(result.restartEventsForVictim, 0, "a forged event is not emitted");
  assert.equal(result.victimErrors, 0, "forged figures are not added to the victim's");
  assert.deepEqual(
    result.logSources,
    [result.forgerInstance],
    "a log line in the victim's name is the forger's",
  );
  assert.ok(result.forgerViolations >= 4, `violations counted: ${result.forgerViolations}`);
  assert.equal(result.runtimeRunning, true, "a claimed 'escalate' does not bring the root down");
  assert.equal(result.forgerRestarted, true, "it is an ordinary failure: the forger restarts");
}

Deno.test("a worker cannot claim routes, forge replies or requests, cut a node off or speak for another", async () => {
  assertHeld(await runForgery("worker"));
});

Deno.test("a process on the stdio link cannot do so by writing frames to its stdout", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--no-lock",
      new URL("../fixtures/forgery_scenario.ts", import.meta.url).pathname,
      "process",
    ],
    env: { KRAKEN_PROCESS_LINK: "stdio", NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  const out = await child.output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  assertHeld(JSON.parse(lines.at(-1)!));
});

function assertNoTick(result: TickForgeryResult): void {
  assert.deepEqual(result.ticks, [null, null, null], "every forgery handled, none as a tick");
}

Deno.test("a worker granted nothing cannot pass a request off as a schedule's tick (meta.tick)", async () => {
  assertNoTick(await runTickForgery("worker"));
});

Deno.test("a process on the stdio link cannot pass a request off as a schedule's tick", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--no-lock",
      new URL("../fixtures/tick_forgery_scenario.ts", import.meta.url).pathname,
      "process",
    ],
    env: { KRAKEN_PROCESS_LINK: "stdio", NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  const out = await child.output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  assertNoTick(JSON.parse(lines.at(-1)!));
});
