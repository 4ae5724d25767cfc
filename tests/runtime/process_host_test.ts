// Process containers under real hosts run with narrowed flags: a restricted host never crashes
// starting one (stdin/stdout fallback, or a typed refusal naming the missing flag), and a
// container resolves its imports the same as a process as it does as a worker.
import assert from "node:assert/strict";
import { hasPty, terminalCommand } from "../_terminal.ts";
import { alive, FIXTURES, withRuntime } from "../_helpers.ts";

/** The flags of the host in the issue: everything but an unscoped --allow-net. */
const RESTRICTED = [
  "--allow-read",
  "--allow-write",
  "--allow-run",
  "--allow-env",
  "--allow-net=127.0.0.1",
];
const RESOLVE_APP = new URL("./resolve_app/", FIXTURES);

/** Runs `deno run <flags> <script> <args>` in `cwd`; its stdout's last line as JSON. */
async function runHost(
  flags: string[],
  script: URL,
  options: { args?: string[]; cwd?: URL } = {},
): Promise<Record<string, unknown>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, script.pathname, ...(options.args ?? [])],
    cwd: options.cwd?.pathname,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const stdout = new TextDecoder().decode(out.stdout).trim();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `the host exited with ${out.code}:\n${stderr}\n${stdout}`);
  return JSON.parse(stdout.split("\n").pop()!);
}

type Refusal = { name: string; message: string } | null;

let stdioRun: Promise<Record<string, unknown>> | undefined;
/** The `stdio` run of the restricted host, shared by the tests that read it. */
function restrictedStdioHost(): Promise<Record<string, unknown>> {
  stdioRun ??= runHost(RESTRICTED, new URL("./restricted_host.ts", FIXTURES), { args: ["stdio"] });
  return stdioRun;
}

Deno.test("a host without an unscoped --allow-net starts its process containers over stdin/stdout and says so once", async () => {
  const run = await restrictedStdioHost();
  assert.deepEqual(run.counts, [1, 1, 1], "every process container answered");
  const notes = run.notes as string[];
  assert.equal(notes.length, 1, `told once for 4 processes:\n${notes.join("\n")}`);
  assert.match(notes[0], /stdin\/stdout/);
  assert.match(notes[0], /--allow-net/);
  const pids = run.pids as number[];
  assert.equal(pids.length, 4);
  for (const pid of pids) assert.ok(!alive(pid), `process ${pid} is gone with its host`);
});

Deno.test("a process container is refused before it spawns once the host no longer holds its grant or --allow-run", async () => {
  const run = await restrictedStdioHost();
  const net = run.netRevoked as Refusal;
  assert.equal(net?.name, "PermissionEscalationError");
  assert.match(net!.message, /container "n" asks for net "127\.0\.0\.1"/);
  const runFlag = run.runRevoked as Refusal;
  assert.equal(runFlag?.name, "PermissionEscalationError");
  assert.match(runFlag!.message, /container "p"/);
  assert.match(runFlag!.message, /--allow-run/);
  assert.deepEqual(
    run.running,
    { p: "2/2", n: "1/1", q: "1/1" },
    "the refused scale changed nothing; the refused (rolling) restart left the old instance serving",
  );
});

Deno.test("a host with nothing but --allow-run starts a process container over stdin/stdout", async () => {
  const run = await runHost(["--allow-run"], new URL("./restricted_host.ts", FIXTURES), {
    args: ["minimal"],
  });
  assert.equal(run.count, 1);
  const notes = run.notes as string[];
  assert.equal(notes.filter((n) => n.includes("stdin/stdout")).length, 1, notes.join("\n"));
  assert.match(notes.join("\n"), /--allow-write/);
});

Deno.test("a host without --allow-run is refused with a PermissionEscalationError naming the flag and the container, at start, spawn and apply", async () => {
  const run = await runHost(
    ["--allow-read", "--allow-write", "--allow-env", "--allow-net=127.0.0.1"],
    new URL("./restricted_host.ts", FIXTURES),
    { args: ["norun"] },
  );
  for (const way of ["start", "spawn", "apply"]) {
    const refusal = run[way] as Refusal;
    assert.equal(refusal?.name, "PermissionEscalationError", `${way}: ${JSON.stringify(refusal)}`);
    assert.match(refusal!.message, /container "p"/, way);
    assert.match(refusal!.message, /--allow-run/, way);
  }
  assert.deepEqual(run.still, ["i"], "the refused apply started nothing");
});

Deno.test({
  name:
    "a restricted host on a terminal is never prompted for a permission starting process containers",
  ignore: !hasPty,
  async fn() {
    // `script` gives the host a terminal: Deno prompts there where it would throw in a pipe.
    const host = [
      Deno.execPath(),
      "run",
      ...RESTRICTED,
      new URL("./restricted_host.ts", FIXTURES).pathname,
      "stdio",
    ];
    const out = await terminalCommand(host, {
      after: `echo "host exited with $?"`,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.doesNotMatch(text, /Deno requests/, text);
    assert.match(text, /host exited with 0/, text);
  },
});

/** What "greeting" resolved to in ./greeter.ts and ./own/greeter.ts, per mode, for a host. */
function resolved(flags: string[], cwd: URL, main = new URL("./main.ts", RESOLVE_APP)) {
  return runHost(flags, main, { cwd });
}

Deno.test("a container resolves imports as its host does in worker and process mode alike: the host's deno.json, not its own folder's", async () => {
  const app = "the app's greeting";
  const same = { worker: { app, own: app }, process: { app, own: app } };
  assert.deepEqual(await resolved(["-A"], RESOLVE_APP), same);
});

Deno.test("a restricted host's process containers resolve as its workers do", async () => {
  const app = "the app's greeting";
  const same = { worker: { app, own: app }, process: { app, own: app } };
  assert.deepEqual(await resolved(RESTRICTED, RESOLVE_APP), same);
});

Deno.test("a host started with --config gives its process containers that config, as its workers have it", async () => {
  const alt = "the alt config's greeting";
  const same = { worker: { app: alt, own: alt }, process: { app: alt, own: alt } };
  assert.deepEqual(await resolved(["-A", "--config", "alt.json"], RESOLVE_APP), same);
  assert.deepEqual(await resolved([...RESTRICTED, "--config=alt.json"], RESOLVE_APP), same);
});

Deno.test("a host whose config does not map an import fails to start the container the same way in both modes", async () => {
  // The repository's deno.json: no "greeting" in it, though the module's folder has one.
  const repo = new URL("../../", import.meta.url);
  const failed = "TopologyError: greeting unresolved";
  assert.deepEqual(await resolved(["-A", "--config", "deno.json"], repo), {
    worker: { app: failed, own: failed },
    process: { app: failed, own: failed },
  });
});

Deno.test("rt.tree() shows the OS pid of each live process instance, and none for a worker or inline one", async () => {
  await withRuntime({
    containers: {
      p: { module: "./member.ts", mode: "process", replicas: 2 },
      w: { module: "./member.ts", mode: "worker" },
      i: { module: "./member.ts", mode: "inline" },
    },
  }, async (rt) => {
    const pids = (name: string) =>
      rt.tree().containers.find((c) => c.name === name)!.instances.map((i) => i.pid);
    const reported = new Set([
      await rt.ref("p").request("pid"),
      await rt.ref("p").request("pid"),
    ]);
    assert.deepEqual(new Set(pids("p")), reported);
    assert.deepEqual(pids("w"), [undefined]);
    assert.deepEqual(pids("i"), [undefined]);
  });
});
