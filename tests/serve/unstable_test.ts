// Deno's unstable "net" feature (reusePort): without it Deno ends the whole process (exit 70).
// Kraken refuses a serving inline or worker container instead, starts process replicas with the
// flag, and `kraken start` gets it for itself.
import assert from "node:assert/strict";
import { ROOT } from "../cli/_cli.ts";
import { freePort } from "../examples/_http.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;

/** A copy of the repository's deno.json without "net" among its unstable features. */
async function configWithoutNet(dir: string): Promise<string> {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`));
  config.unstable = ["worker-options"];
  delete config.exclude;
  const file = `${dir}/deno.json`;
  await Deno.writeTextFile(file, JSON.stringify(config));
  return file;
}

/**
 * `kraken start` of a one-container topology serving a worker `api` on `port`, run with `config`
 * (no --unstable-net) and nothing else: as a user would, in a process group of its own (`setsid`)
 * when `group` is set. Its stdin and stdout are null; its stderr is piped.
 */
async function startWithoutNet(
  dir: string,
  config: string,
  port: number,
  options: { replicas: number; group?: boolean },
): Promise<Deno.ChildProcess> {
  await Deno.writeTextFile(
    `${dir}/kraken.yaml`,
    `containers:\n  api:\n    module: ${FIXTURES}hello.ts\n    mode: worker\n    replicas: ${options.replicas}\n    serve: { port: ${port}, hostname: 127.0.0.1 }\n`,
  );
  const argv = [
    Deno.execPath(),
    "run",
    "-A",
    "--no-prompt",
    "--config",
    config,
    `${ROOT}/cli/main.ts`,
    "start",
    `${dir}/kraken.yaml`,
  ];
  // setsid: its own process group, as a terminal's foreground job is; the group gets the signal.
  const [command, ...args] = options.group ? ["setsid", ...argv] : argv;
  return new Deno.Command(command, {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
}

async function host(config: string, mode: string): Promise<Record<string, unknown>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-prompt", "--config", config, `${FIXTURES}no_net_host.ts`, mode],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  assert.equal(out.code, 0, `exit ${out.code}: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(text.split("\n").at(-1)!);
}

Deno.test("Runtime.start without --unstable-net refuses a serving worker or inline container with a TopologyError naming its serve key, before anything starts; a process one gets the flag", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = await configWithoutNet(dir);
    for (const mode of ["worker", "inline"]) {
      const seen = await host(config, mode);
      assert.equal(seen.started, false, mode);
      assert.equal(seen.name, "TopologyError");
      assert.equal(seen.key, "containers.web.serve");
      assert.match(String(seen.message), /--unstable-net/);
    }
    assert.deepEqual(await host(config, "process"), { started: true, instance: "web#0.1" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kraken start without --unstable-net serves a worker container's port (it relaunches itself with the flag)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = await configWithoutNet(dir);
    const port = freePort();
    const child = await startWithoutNet(dir, config, port, { replicas: 2 });
    let answer: { instance?: string } = {};
    const end = performance.now() + 30_000;
    try {
      while (performance.now() < end && !answer.instance) {
        try {
          answer = await (await fetch(`http://127.0.0.1:${port}/`)).json();
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    } finally {
      child.kill("SIGINT");
    }
    const [status, stderr] = await Promise.all([
      child.status,
      new Response(child.stderr).text(),
    ]);
    assert.match(answer.instance ?? "", /^api#[01]\.1$/, stderr);
    assert.equal(status.code, 0, stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Ctrl-C to the whole process group of a relaunched kraken start (it arrives twice: from the group and passed on) shuts down gracefully, exit 0", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const config = await configWithoutNet(dir);
    const port = freePort();
    const child = await startWithoutNet(dir, config, port, { replicas: 1, group: true });
    const stderr = new Response(child.stderr).text();
    const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    try {
      const end = performance.now() + 20_000;
      let up = false;
      while (!up && performance.now() < end) {
        up = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.body?.cancel(), () => false)
          .then((v) => v !== false);
        if (!up) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.ok(up, "it never served");
      await new Promise((resolve) => setTimeout(resolve, 300)); // past "Ctrl-C to stop"
      Deno.kill(-child.pid, "SIGINT"); // the group: setsid made the child its leader
      const status = await child.status;
      const text = await stderr;
      assert.doesNotMatch(text, /second interrupt/);
      assert.equal(status.code, 0, text);
      assert.match(text, /stopped\s*$/);
    } finally {
      clearTimeout(killer);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
