// What a container may not do to the process it runs in (runtime/_guard.ts), and unstable
// features (unstable:). Attempts that would end a process run in a host of their own
// (fixtures/guard_host.ts), in its own session: a failing guard ends that host, not this runner.
import assert from "node:assert/strict";
import { RemoteError, Runtime, TopologyError } from "../../mod.ts";
import type reusePort from "../fixtures/reuse_port.ts";
import { FIXTURES, withRuntime } from "../_helpers.ts";

type Line = Record<string, unknown> & { name?: string; ok?: boolean; message?: string };

/** Runs a fixture host (with `setsid` where there is one) and returns its exit code and lines. */
async function host(
  script: string,
  flags: string[] = [],
): Promise<{ code: number; lines: Line[] }> {
  const deno = [
    Deno.execPath(),
    "run",
    "-A",
    "--no-prompt",
    ...flags,
    new URL(script, FIXTURES).pathname,
  ];
  const setsid = Deno.build.os === "linux" && (await exists("/usr/bin/setsid"));
  const out = await new Deno.Command(setsid ? "/usr/bin/setsid" : deno[0], {
    args: setsid ? deno : deno.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const lines = text.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  return { code: out.code, lines };
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

let guarded: Promise<{ code: number; lines: Line[] }> | null = null;
/** The guard host's lines, from one run shared by the tests below (it takes a few seconds). */
async function attempts(): Promise<Line[]> {
  const run = await (guarded ??= host("./guard_host.ts"));
  const tried = run.lines.filter((l) => "trying" in l).map((l) => l.trying);
  assert.equal(
    run.code,
    0,
    `the host ended (code ${run.code}) during ${JSON.stringify(tried.at(-1))}`,
  );
  return run.lines;
}

/** The outcome of attempt `name` (the line after the one announcing it). */
function after(lines: Line[], name: string): Line {
  const at = lines.findIndex((l) => l.trying === name);
  assert.ok(at >= 0 && at + 1 < lines.length, `no outcome for ${name}`);
  return lines[at + 1];
}

/** Asserts that an attempt was refused with NotCapable, saying `says`. */
function refused(line: Line, says: RegExp): void {
  assert.equal(line.ok, false, JSON.stringify(line));
  assert.equal(line.name, "NotCapable", JSON.stringify(line));
  assert.match(String(line.message), says);
}

Deno.test("[worker] signals to the host's process are refused: its pid, pid 0, process groups, a pid the op would truncate, through Deno.kill and node:process", async () => {
  const lines = await attempts();
  const of = (name: string) => after(lines, name);
  const self =
    /is refused in worker container "box": pid \d+ is the process this container shares with its host/;
  const group =
    /is refused in worker container "box": pid -?\d+ is not a positive 32-bit whole number/;
  refused(of("Deno.kill(self)"), new RegExp(`^Deno\\.kill\\(\\d+\\) ${self.source}`));
  refused(of("Deno.kill(0)"), new RegExp(`^Deno\\.kill\\(0\\) ${group.source}`));
  refused(of("Deno.kill(-self)"), new RegExp(`^Deno\\.kill\\(-\\d+\\) ${group.source}`));
  refused(of("Deno.kill(2**32+self)"), /^Deno\.kill\(4294\d+\) is refused/);
  refused(of("process.kill(self)"), new RegExp(`^process\\.kill\\(\\d+\\) ${self.source}`));
  refused(of("process._kill(self)"), new RegExp(`^process\\._kill\\(\\d+\\) ${self.source}`));
  refused(of("delete Deno.kill, then kill"), /^Deno\.kill\(\d+\) is refused/);
  // Another process is Deno's business: without run, refused by Deno itself.
  refused(of("Deno.kill(ppid)"), /Requires run access/);
});

Deno.test("[worker] node:process's named exports are the guarded functions, however imported: abort and kill refused (named, through import(), in a nested worker)", async () => {
  const lines = await attempts();
  const of = (name: string) => after(lines, name);
  const abort =
    /^process\.abort\(\) is refused in worker container "box": it ends at once the whole process, which this container shares with its host$/;
  refused(of("node:process abort, named"), abort);
  refused(of("node:process abort, through import()"), abort);
  refused(of("process.abort()"), abort);
  refused(of("nested Worker, abort imported statically"), abort);
  refused(
    of("node:process kill, named"),
    /^process\.kill\(\d+\) is refused in worker container "box"/,
  );
});

Deno.test("[worker] with the grant Deno asks for them, chdir, umask and set*id from node:process are refused; the host's folder, umask and ids stay", async () => {
  const lines = await attempts();
  const of = (name: string) => lines.find((l) => l.state === name) as Line;
  const shared = (call: string) =>
    new RegExp(
      `^${call} is refused in worker container "state": it changes the whole process, which this container shares with its host$`,
    );
  refused(of("node:process chdir, named"), shared("process\\.chdir\\(\\)"));
  refused(of("node:process umask, named"), shared("process\\.umask\\(mask\\)"));
  for (const id of ["setuid", "setgid", "seteuid", "setegid"]) {
    refused(of(`node:process ${id}, named`), shared(`process\\.${id}\\(\\)`));
  }
  // sys: true leaves umask out of a worker's grant: Deno's own op refuses it, whatever calls it.
  refused(of("Deno.umask(), with sys: true"), /^Requires sys access to "umask"/);
  const { before, after: now } = lines.find((l) => "host" in l)!.host as Record<string, unknown>;
  assert.deepEqual(now, before);
});

Deno.test("[worker] a container cannot put loader hooks before the guard's, nor reach the original node:process by naming the guarded copy as its referrer", async () => {
  const lines = await attempts();
  const of = (name: string) => after(lines, name);
  const hooks =
    /^registerHooks\(\) of node:module is refused in worker container "box": a container's loader hooks would run before the guard's/;
  refused(of("registerHooks, named"), hooks);
  refused(of("Module.registerHooks"), hooks);
  assert.deepEqual(of("import of node:process from code naming the guarded copy as its referrer"), {
    name: "import of node:process from code naming the guarded copy as its referrer",
    ok: true,
    value: "the guarded copy",
  });
});

Deno.test("[worker] raw mode is refused on every method that reaches its op: node:tty's native handle, Deno.FsFile", async () => {
  const lines = await attempts();
  const of = (name: string) => after(lines, name);
  const terminal =
    /is refused in worker container "box": the terminal is the host's: in raw mode Ctrl-C no longer sends SIGINT to it$/;
  refused(
    of("node:tty's TTY handle, setRawMode"),
    new RegExp(`^setRawMode\\(\\) of node:tty ${terminal.source}`),
  );
  refused(of("Deno.FsFile setRaw"), new RegExp(`^Deno\\.FsFile\\.setRaw\\(\\) ${terminal.source}`));
});

Deno.test("[worker] a Web Worker started by a container starts guarded, whichever constructor reference starts it", async () => {
  const lines = await attempts();
  const of = (name: string) => after(lines, name);
  refused(of("nested Worker kills"), /^Deno\.kill\(\d+\) is refused in worker container "box"/);
  refused(
    of("nested Worker via prototype.constructor kills"),
    /^Deno\.kill\(\d+\) is refused in worker container "box"/,
  );
});

Deno.test("[worker] what is posted to a worker while its entry loads (the guard, then its module) is kept for it: a container whose module awaits at load starts, a nested worker gets a message sent at once", async () => {
  const lines = await attempts();
  assert.equal(lines.find((l) => "slowLoad" in l)?.slowLoad, "pong");
  assert.deepEqual(after(lines, "nested Worker gets what it is sent at once"), {
    name: "nested Worker gets what it is sent at once",
    ok: true,
    value: "sent at once",
  });
});

Deno.test("[worker] node:worker_threads Workers are refused, even with their parent class, EventEmitter.init or stack traces tampered with", async () => {
  const lines = await attempts();
  const of = (name: string) => after(lines, name);
  for (
    const name of [
      "node:worker_threads Worker",
      "node:worker_threads Worker, re-parented",
      "node:worker_threads Worker, init replaced",
      "node:worker_threads Worker, stack hidden",
    ]
  ) {
    refused(
      of(name),
      /^new Worker\(\) from node:worker_threads is refused in worker container "box": its isolate would share the process without this guard/,
    );
  }
});

Deno.test("[worker] a container cannot take the host's signals or move its working folder; SIGWINCH stays allowed", async () => {
  const lines = await attempts();
  const of = (name: string) => after(lines, name);
  refused(
    of("Deno.addSignalListener(SIGINT)"),
    /^Deno\.addSignalListener\(SIGINT\) is refused in worker container "box": signals reach the whole process/,
  );
  refused(of("process.on(SIGTERM)"), /^Deno\.addSignalListener\(SIGTERM\) is refused/);
  refused(
    of("Deno.chdir"),
    /^Deno\.chdir\(\) is refused in worker container "box": the working folder is the process's/,
  );
  assert.deepEqual(of("SIGWINCH listener"), {
    name: "SIGWINCH listener",
    ok: true,
    value: "allowed",
  });
});

Deno.test("[worker] a call that would end the host for want of an unstable feature throws instead, in nested workers too, even with a forged toJSON", async () => {
  const lines = await attempts();
  const of = (name: string) => after(lines, name);
  const net =
    /it needs Deno's unstable "net" feature, which the container does not list \(without it Deno would end the whole process\): add net to its unstable: in the topology/;
  refused(
    of("Deno.serve reusePort"),
    new RegExp(
      `^Deno\\.serve\\(\\{ reusePort: true \\}\\) is refused in worker container "box": ${net.source}`,
    ),
  );
  refused(
    of("nested Worker reusePort"),
    new RegExp(
      `^Deno\\.listen\\(\\{ reusePort: true \\}\\) is refused in worker container "box": ${net.source}`,
    ),
  );
  refused(
    of("nested Worker reusePort, toJSON forged"),
    /^Deno\.listen\(\{ reusePort: true \}\) is refused/,
  );
});

Deno.test("[worker] after every attempt the host still serves its other containers", async () => {
  const lines = await attempts();
  assert.deepEqual(lines.find((l) => "other" in l), { other: "still serving" });
});

Deno.test("[worker] a module that signals its host while it loads fails to start, refused before any of its code ran unguarded", async () => {
  const lines = await attempts();
  const atLoad = lines.find((l) => "atLoad" in l)?.atLoad as Line;
  assert.equal(atLoad.name, "TopologyError");
  assert.match(
    String(atLoad.message),
    /containers\.early\.module: .*NotCapable: Deno\.kill\(\d+\) is refused in worker container "early"/,
  );
});

Deno.test("[process] a process container granted nothing signals no other process: pid 0, groups and its parent need run", async () => {
  const lines = await attempts();
  for (const name of ["Deno.kill(0)", "Deno.kill(-self)", "Deno.kill(ppid)"]) {
    const line = lines.find((l) => l.process === name) as Line;
    assert.equal(line?.ok, false, name);
    assert.equal(line.name, "NotCapable", name);
    assert.match(String(line.message), /Requires run access/, name);
  }
});

Deno.test("[process] reusePort without unstable: [net] throws NotCapable naming the feature; the process goes on", async () => {
  await withRuntime({
    containers: {
      web: { module: "./reuse_port.ts", mode: "process", permissions: { net: ["127.0.0.1"] } },
    },
  }, async (rt) => {
    const ref = rt.ref<typeof reusePort>("web");
    const reply = await ref.request("reusePort");
    assert.equal(reply.ok, false);
    assert.ok(!reply.ok);
    assert.equal(reply.name, "NotCapable");
    assert.match(
      reply.message,
      /^Deno\.serve\(\{ reusePort: true \}\) is refused in process container "web": it needs Deno's unstable "net" feature/,
    );
    assert.equal((await ref.request("reusePort")).ok, false, "the same process answers again");
  });
});

Deno.test("[process] with unstable: [net] the process is started with --unstable-net and serves with reusePort", async () => {
  await withRuntime({
    containers: {
      web: {
        module: "./reuse_port.ts",
        mode: "process",
        unstable: ["net"],
        permissions: { net: ["127.0.0.1"] },
      },
    },
  }, async (rt) => {
    assert.deepEqual(await rt.ref<typeof reusePort>("web").request("reusePort"), {
      ok: true,
      text: "served",
    });
  });
});

Deno.test("[worker] unstable: [net] needs the host's --unstable-net: refused at start without it, served with it", async () => {
  // The repository's deno.json turns "net" on (serve: needs it): the host runs without it here.
  const dir = await Deno.makeTempDir();
  const config = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  config.unstable = config.unstable.filter((feature: string) => feature !== "net");
  delete config.exclude;
  await Deno.writeTextFile(`${dir}/deno.json`, JSON.stringify(config));
  const without = await host("./unstable_host.ts", ["--config", `${dir}/deno.json`])
    .finally(() => Deno.remove(dir, { recursive: true }));
  assert.equal(without.code, 0);
  assert.equal(without.lines[0].started, false);
  assert.equal(without.lines[0].name, "TopologyError");
  assert.match(
    String(without.lines[0].message),
    /containers\.web\.unstable: worker container "web" needs Deno's unstable "net" feature, which this process does not have; .*expected the runtime started with --unstable-net/,
  );
  const withFlag = await host("./unstable_host.ts", ["--unstable-net"]);
  assert.deepEqual(withFlag.lines[0], { started: true, ok: true, text: "served" });
});

for (const mode of ["worker", "inline"] as const) {
  Deno.test(`[${mode}] an unstable feature this process does not have is a TopologyError naming the flag`, async () => {
    const error = await Runtime.start(
      { containers: { store: { module: "./echo.ts", mode, unstable: ["kv"] } } },
      { logLevel: "silent", baseUrl: FIXTURES.href },
    ).catch((e) => e);
    assert.ok(error instanceof TopologyError, String(error));
    assert.equal(error.key, "containers.store.unstable");
    assert.match(
      error.message,
      /needs Deno's unstable "kv" feature, which this process does not have; .*--unstable-kv/,
    );
  });
}

Deno.test("[worker] unstable: [vsock], which a process cannot see it has and whose calls end it, is refused: mode process instead", async () => {
  const error = await Runtime.start(
    { containers: { sock: { module: "./echo.ts", mode: "worker", unstable: ["vsock"] } } },
    { logLevel: "silent", baseUrl: FIXTURES.href },
  ).catch((e) => e);
  assert.ok(error instanceof TopologyError, String(error));
  assert.match(
    error.message,
    /containers\.sock\.unstable: .*expected mode: process, which is started with --unstable-vsock/,
  );
  assert.ok(!(error instanceof RemoteError));
});
