// No container ever makes Deno prompt: run for real in a pseudo-terminal (util-linux `script`), a
// worker touching what it was not granted is refused, or — where Deno could prompt — the worker
// container is refused before it starts. Should "Allow?" ever appear, it is answered "n" at once,
// so the test fails on it instead of hanging.
import assert from "node:assert/strict";
import { scaffold } from "../../cli/commands/_scaffold.ts";
import { hasPty, terminalCommand } from "../_terminal.ts";

const ROOT = new URL("../../", import.meta.url);
const HOST = new URL("../fixtures/prompt_host.ts", import.meta.url).pathname;

/** Deno's prompt: "┗ Allow? [y/n/A] (y = yes, allow; …", colours (if any) in between. */
const PROMPT = /Allow\?[^\n]{0,24}\[y\/n/;

/** Runs `argv` in a pseudo-terminal: its exit code, what it printed, and whether Deno prompted. */
async function inTerminal(
  argv: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<{ code: number; output: string; prompted: boolean }> {
  const child = terminalCommand(argv, {
    cwd: options.cwd,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "piped", // kept open: on end of input, script would end the session
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdin = child.stdin.getWriter();
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  let output = "";
  // Deno flushes its input before it reads an answer: "n" is sent until the prompt is answered.
  const count = (re: RegExp) => output.match(new RegExp(re.source, "g"))?.length ?? 0;
  const answer = setInterval(() => {
    if (count(PROMPT) > count(/Denied /)) {
      stdin.write(new TextEncoder().encode("n\r")).catch(() => {});
    }
  }, 400);
  for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) output += chunk;
  const { code } = await child.status;
  clearInterval(answer);
  clearTimeout(timer);
  const prompted = PROMPT.test(output);
  await stdin.close().catch(() => {});
  await child.stderr.cancel();
  return { code, output, prompted };
}

/** The JSON lines a fixture host printed. */
function lines(output: string): Record<string, unknown>[] {
  return output.split(/\r?\n/).filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
}

Deno.test({
  name:
    "in a terminal, without --no-prompt, a worker container is refused before it starts, saying what to add; Deno never prompts",
  ignore: !hasPty,
  async fn() {
    const run = await inTerminal([Deno.execPath(), "run", "-A", HOST]);
    assert.equal(run.prompted, false, run.output);
    assert.equal(run.code, 0, run.output);
    const [first] = lines(run.output);
    assert.equal(first.started, false, run.output);
    assert.equal(first.name, "TopologyError");
    assert.match(
      String(first.message),
      /containers\.box\.mode: worker container "box" cannot start in a process where Deno may show its permission prompt .*expected deno run --no-prompt .* or DENO_NO_PROMPT=1 in the environment, or mode: process/,
    );
  },
});

for (
  const [how, argv, env] of [
    ["with --no-prompt", ["run", "-A", "--no-prompt", HOST], {}],
    ["with DENO_NO_PROMPT=1", ["run", "-A", HOST], { DENO_NO_PROMPT: "1" }],
  ] as const
) {
  Deno.test({
    name:
      `in a terminal ${how}, a worker reading what it was not granted is refused, never asked, and the host keeps serving`,
    ignore: !hasPty,
    async fn() {
      const run = await inTerminal([Deno.execPath(), ...argv], { env });
      assert.equal(run.prompted, false, run.output);
      assert.equal(run.code, 0, run.output);
      assert.deepEqual(lines(run.output), [
        { read: { ok: false, name: "NotCapable" } },
        { echo: "still serving" },
      ]);
    },
  });
}

Deno.test({
  name:
    "in a terminal, a process container is refused what it was not granted, never asked (it runs with --no-prompt)",
  ignore: !hasPty,
  async fn() {
    const run = await inTerminal([Deno.execPath(), "run", "-A", HOST, "process"]);
    assert.equal(run.prompted, false, run.output);
    assert.deepEqual(lines(run.output), [
      { read: { ok: false, name: "NotCapable" } },
      { echo: "still serving" },
    ]);
  },
});

Deno.test({
  name: "deno task demo runs to the end in a terminal without a prompt",
  ignore: !hasPty,
  async fn() {
    const run = await inTerminal([Deno.execPath(), "task", "demo"], { cwd: ROOT.pathname });
    assert.equal(run.prompted, false, run.output);
    assert.equal(run.code, 0, run.output);
    assert.match(run.output, /shut down every worker and process/);
  },
});

/** A task's command runs Deno code (run, test, bench) and so must not let Deno prompt. */
const RUNS_CODE = /\bdeno (run|test|bench)\b/;

Deno.test("every deno.json task that runs code passes --no-prompt", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const tasks = Object.entries(config.tasks as Record<string, string>)
    .filter(([, command]) => RUNS_CODE.test(command));
  assert.ok(tasks.length >= 5);
  for (const [name, command] of tasks) {
    for (const part of command.split("&&").filter((p) => RUNS_CODE.test(p))) {
      assert.match(part, /--no-prompt/, `task ${name}: ${part.trim()}`);
    }
  }
});

Deno.test("every task kraken new writes passes --no-prompt", () => {
  const files = scaffold({
    name: "shop",
    token: "t",
    kraken: { kind: "jsr", specifier: "jsr:@kraken/kraken@^0.1" },
  });
  const tasks = JSON.parse(files["deno.json"]).tasks as Record<string, string>;
  assert.deepEqual(Object.keys(tasks).sort(), ["kraken", "start", "test"]);
  for (const [name, command] of Object.entries(tasks)) {
    assert.match(command, /^deno (run|test) -A --no-prompt /, `task ${name}`);
  }
});

Deno.test({
  name:
    "kraken start without --no-prompt in a terminal starts itself again with prompting off: its worker containers run, Ctrl-C stops it",
  ignore: !hasPty,
  async fn() {
    const dir = await Deno.makeTempDir();
    const echo = new URL("../fixtures/echo.ts", import.meta.url).href;
    await Deno.writeTextFile(
      `${dir}/kraken.yaml`,
      `name: terminal\ncontainers:\n  box: { module: "${echo}", mode: worker }\n`,
    );
    const cli = new URL("../../cli/main.ts", import.meta.url).pathname;
    const argv = [Deno.execPath(), "run", "-A", cli, "start", `${dir}/kraken.yaml`];
    const child = terminalCommand(argv, {
      env: { NO_COLOR: "1" },
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const stdin = child.stdin.getWriter();
    const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    let output = "";
    let interrupted = false;
    try {
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        output += chunk;
        if (!interrupted && /box#0\.1/.test(output) && /Ctrl-C to stop/.test(output)) {
          interrupted = true;
          await stdin.write(new TextEncoder().encode("\x03")); // Ctrl-C at the terminal
        }
      }
      const { code } = await child.status;
      assert.equal(PROMPT.test(output), false, output);
      assert.doesNotMatch(output, /may show its permission prompt/);
      assert.ok(interrupted, `it never started:\n${output}`);
      assert.equal(code, 0, output);
    } finally {
      clearTimeout(killer);
      await stdin.close().catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  },
});
