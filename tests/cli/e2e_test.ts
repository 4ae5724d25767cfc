// The real `kraken` CLI against a real topology started with `kraken start`, all as subprocesses:
// start → status → scale up/down (checked in the process table) → reload an edited file →
// restart → logs → shutdown (the kraken process exits 0 and leaves no process behind).
import assert from "node:assert/strict";
import { hasPty, terminalCommand } from "../_terminal.ts";
import {
  alive,
  CLI,
  denoChildren,
  kraken,
  krakenInBackground,
  type Result,
  waitUntil,
} from "./_cli.ts";
import { within } from "../_wait.ts";

const FIXTURES = new URL("../fixtures/cli/", import.meta.url).pathname;
const TOKEN = "e2e-token-" + crypto.randomUUID();

/** The fixture topology in a temporary folder, modules made absolute, so the test can edit it. */
async function topologyCopy(): Promise<{ dir: string; file: string }> {
  const dir = await Deno.makeTempDir({ prefix: "kraken-cli-" });
  const text = await Deno.readTextFile(`${FIXTURES}kraken.yaml`);
  const file = `${dir}/kraken.yaml`;
  await Deno.writeTextFile(file, text.replaceAll("./containers/", `${FIXTURES}containers/`));
  return { dir, file };
}

function ok(result: Result, what: string): Result {
  assert.equal(result.code, 0, `${what}: exit ${result.code}\n${result.stdout}\n${result.stderr}`);
  return result;
}

interface Tree {
  containers: {
    name: string;
    mode: string;
    replicas: number;
    running: number;
    instances: { id: string; incarnation: number }[];
  }[];
}

Deno.test("kraken start → status → scale → reload → restart → logs → shutdown, as a user would", async (t) => {
  const { dir, file } = await topologyCopy();
  const started = krakenInBackground(["start", file], { env: { KRAKEN_TOKEN: TOKEN } });
  const everSeen = new Set<number>();
  try {
    const [, url] = await started.waitFor(/management API: (http:\/\/127\.0\.0\.1:\d+\/)/);
    await started.waitFor(/Ctrl-C to stop/);
    const env = { KRAKEN_URL: url, KRAKEN_TOKEN: TOKEN };
    const tree = async (): Promise<Tree> =>
      JSON.parse(ok(await kraken(["status", "--json"], { env }), "status --json").stdout);
    const processes = () => {
      const pids = denoChildren(started.pid);
      pids.forEach((p) => everSeen.add(p));
      return pids;
    };

    await t.step("start prints where the API listens and the tree it started", () => {
      assert.match(started.stdout, /running e2e: 2 containers, 2 instances/);
      assert.match(started.stdout, /^web\s+worker\s+local\s+running\s+1\/1\s+0\s+\S+/m);
      assert.match(started.stdout, /^jobs\s+process\s+local\s+running\s+1\/1\s+0\s+\S+/m);
      assert.match(started.stderr, /starting e2e: web \(worker ×1\), jobs \(process ×1\)/);
      assert.ok(
        !started.stdout.includes(TOKEN) && !started.stderr.includes(TOKEN),
        "token never printed",
      );
    });

    await t.step(
      "status shows name, mode, host, state, replicas, restarts, uptime; --json the tree",
      async () => {
        const human = ok(await kraken(["status"], { env }), "status");
        assert.match(human.stdout, /^e2e\s+running\s+one_for_one/m);
        assert.match(
          human.stdout,
          /^NAME\s+MODE\s+HOST\s+STATE\s+REPLICAS\s+RESTARTS\s+UPTIME\s+MEMORY\s+CPU$/m,
        );
        assert.match(
          human.stdout,
          /^web\s+worker\s+local\s+running\s+1\/1\s+0\s+\d+(ms|s|m \d+s)\s+(-|[\d.]+ [KM]iB)\s+(-|[\d.]+%)$/m,
        );
        assert.match(human.stdout, /^jobs\s+process\s+local\s+running\s+1\/1\s+0\s+/m);
        assert.ok(!human.stdout.includes("\x1b["), "no colours when stdout is not a terminal");
        const json = await tree();
        assert.deepEqual(json.containers.map((c) => [c.name, c.mode, c.running]), [
          ["web", "worker", 1],
          ["jobs", "process", 1],
        ]);
        // The same through flags instead of the environment.
        ok(await kraken(["tree", "--url", url, "--token", TOKEN]), "tree --url --token");
      },
    );

    await t.step(
      "exit codes: 4 wrong token, 3 nothing listening, 2 bad usage, 1 unknown container",
      async () => {
        const wrong = await kraken(["status"], { env: { ...env, KRAKEN_TOKEN: "nope" } });
        assert.equal(wrong.code, 4);
        assert.match(wrong.stderr, /unauthorized: wrong bearer token/);
        const port = (() => {
          const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
          const free = (listener.addr as Deno.NetAddr).port;
          listener.close();
          return free;
        })();
        const down = await kraken(["status", "--url", `http://127.0.0.1:${port}`], { env });
        assert.equal(down.code, 3);
        assert.match(down.stderr, /cannot reach the runtime at http:\/\/127\.0\.0\.1:\d+/);
        const usage = await kraken(["scale", "jobs", "many"], { env });
        assert.equal(usage.code, 2);
        assert.match(usage.stderr, /N must be a whole number >= 0, got "many"/);
        const unknown = await kraken(["scale", "nope", "2"], { env });
        assert.equal(unknown.code, 1);
        assert.match(unknown.stderr, /no container named "nope" \(known: web, jobs\)/);
        const json = await kraken(["restart", "nope", "--json"], { env });
        assert.equal(json.code, 1);
        assert.equal(JSON.parse(json.stdout).error.type, "NotFound");
      },
    );

    await t.step("scale up and down: the process table follows", async () => {
      assert.equal(processes().length, 1);
      const up = ok(await kraken(["scale", "jobs", "3"], { env }), "scale up");
      assert.match(up.stdout, /jobs: 1 → 3 replicas \(3\/3 running\)/);
      await waitUntil(() => processes().length === 3, 10_000, "3 deno children");
      const down = ok(await kraken(["scale", "jobs", "1", "--json"], { env }), "scale down");
      assert.deepEqual([JSON.parse(down.stdout).from, JSON.parse(down.stdout).to], [3, 1]);
      await waitUntil(() => processes().length === 1, 10_000, "1 deno child");
    });

    await t.step(
      "reload: shows the plan, refuses to apply without a terminal, applies with --yes",
      async () => {
        const original = await Deno.readTextFile(file);
        await Deno.writeTextFile(
          file,
          original
            .replace(/(web:\n(?:.*\n)*?\s+replicas:) 1/, "$1 2")
            .replace(
              "management:",
              `  extra:\n    module: ${FIXTURES}containers/web.ts\n    mode: inline\nmanagement:`,
            ),
        );
        const dry = ok(await kraken(["reload", file, "--dry-run"], { env }), "reload --dry-run");
        assert.match(dry.stdout, /scale web: 1 → 2 replicas/);
        assert.match(dry.stdout, /add extra: inline, 1 replica/);

        const refused = await kraken(["reload", file], { env });
        assert.equal(refused.code, 2);
        assert.match(refused.stderr, /stdin is not a terminal; pass --yes/);
        assert.equal((await tree()).containers.length, 2, "nothing applied");

        const applied = ok(await kraken(["reload", file, "--yes"], { env }), "reload --yes");
        assert.match(applied.stdout, /applied 2 changes/);
        assert.match(applied.stderr, /✓ ↕ scale web: 1 → 2 replicas/, "progress per step");
        const after = await tree();
        assert.deepEqual(after.containers.map((c) => [c.name, c.replicas, c.running]), [
          ["web", 2, 2],
          ["jobs", 1, 1],
          ["extra", 1, 1],
        ]);

        const again = ok(await kraken(["reload", file, "--yes"], { env }), "reload unchanged");
        assert.match(again.stdout, /nothing to change/);

        // A mode change: web's replicas move from worker threads to processes of their own.
        const edited = await Deno.readTextFile(file);
        await Deno.writeTextFile(file, edited.replace("mode: worker", "mode: process"));
        const moved = ok(await kraken(["reload", file, "--yes"], { env }), "reload mode change");
        assert.match(moved.stdout, /~ replace web: mode: worker → process/);
        await waitUntil(() => processes().length === 3, 10_000, "jobs + 2 web processes");
        const web = (await tree()).containers.find((c) => c.name === "web")!;
        assert.deepEqual([web.mode, web.running], ["process", 2]);

        await Deno.writeTextFile(
          `${dir}/broken.yaml`,
          original.replace("mode: worker", "mode: thread"),
        );
        const broken = await kraken(["reload", `${dir}/broken.yaml`, "--yes"], { env });
        assert.equal(broken.code, 2);
        assert.match(broken.stderr, /broken\.yaml:\d+:\d+: containers\.web\.mode: expected one of/);

        // What a running runtime cannot take is shown and not applied, and the exit is 1.
        await Deno.writeTextFile(
          `${dir}/renamed.yaml`,
          (await Deno.readTextFile(file)).replace(/^name: .*$/m, "name: renamed"),
        );
        const renamed = await kraken(["reload", `${dir}/renamed.yaml`, "--yes"], { env });
        assert.equal(renamed.code, 1);
        assert.match(renamed.stdout, /! not applied: name: "[^"]+" → "renamed"/);
        assert.match(renamed.stderr, /^kraken reload: not applied: name: /m);
      },
    );

    await t.step(
      "restart: every replica starts again, in new processes, rolling unless --all-at-once (and says which)",
      async () => {
        const incarnations = (snapshot: Tree, name: string) =>
          snapshot.containers.find((c) => c.name === name)!.instances.map((i) => i.incarnation);
        const was = await tree();
        const before = new Set(processes());
        assert.equal(before.size, 3, "jobs and web's two processes");
        const web = ok(await kraken(["restart", "web"], { env }), "restart web");
        assert.match(web.stdout, /^restarting web \(rolling, one replica at a time\)…$/m);
        assert.match(web.stdout, /web restarted \(2\/2 running\)/);
        const jobs = ok(
          await kraken(["restart", "jobs", "--all-at-once"], { env }),
          "restart jobs",
        );
        assert.match(jobs.stdout, /^restarting jobs \(all replicas at once\)…$/m);
        assert.match(jobs.stdout, /jobs restarted/);
        const after = await tree();
        assert.deepEqual(incarnations(after, "web"), incarnations(was, "web").map((n) => n + 1));
        assert.deepEqual(incarnations(after, "jobs"), [2]);
        await waitUntil(
          () => {
            const now = processes();
            return now.length === 3 && now.every((pid) => !before.has(pid));
          },
          10_000,
          "three new processes",
        );
      },
    );

    await t.step("spawn and stop: a container started live, looked at, then removed", async () => {
      const spawned = ok(
        await kraken([
          "spawn",
          "cache",
          "--module",
          `${FIXTURES}containers/jobs.ts`,
          "--mode",
          "process",
          "--replicas",
          "2",
        ], { env }),
        "spawn",
      );
      assert.match(spawned.stdout, /cache spawned \(2\/2 running\)/);
      await waitUntil(() => processes().length === 5, 10_000, "jobs, web ×2, cache ×2");
      const dup = await kraken(["spawn", "cache", "--module", `${FIXTURES}containers/jobs.ts`], {
        env,
      });
      assert.equal(dup.code, 1);
      assert.match(dup.stderr, /already exists; send "replace": true/);
      const one = ok(await kraken(["status", "cache"], { env }), "status cache");
      assert.match(one.stdout, /^cache\s+process\s+local\s+running\s+2\/2/m);
      assert.match(one.stdout, /· cache#1\.1/);
      assert.match(one.stdout, /requests \/ errors/);
      ok(await kraken(["stop", "cache"], { env }), "stop cache");
      await waitUntil(() => processes().length === 3, 10_000, "cache processes gone");
      const gone = await kraken(["status", "cache", "--json"], { env });
      assert.equal(gone.code, 1, "status NAME: exit 1 when it does not exist");
      assert.equal(JSON.parse(gone.stdout).error.type, "NotFound");
    });

    await t.step("logs: what the container logged, then new lines as they come", async () => {
      const history = ok(
        await kraken(["logs", "jobs", "--no-follow"], { env }),
        "logs --no-follow",
      );
      // Logged while the runtime was still starting, before the API existed.
      assert.match(history.stdout, /INFO\s+\[jobs#0\.1\] jobs ready \(jobs#0\.1\)/);
      assert.match(history.stdout, /\[jobs#0\.2\] jobs ready \(jobs#0\.2\)/);
      assert.ok(!history.stdout.includes("[web#"), "only the container asked for");

      const follower = krakenInBackground(["logs", "jobs", "--tail", "1"], { env });
      try {
        // The last line of history shows the stream is open: the restart's line cannot be missed.
        await follower.waitFor(/\[jobs#0\.2\]/, 10_000);
        ok(await kraken(["restart", "jobs"], { env }), "restart jobs again");
        await follower.waitFor(/\[jobs#0\.3\] jobs ready \(jobs#0\.3\)/, 10_000);
        follower.child.kill("SIGINT");
        assert.equal(await follower.exit(), 0, "Ctrl-C ends following with exit 0");
      } finally {
        await follower.kill();
      }
      const unknown = await kraken(["logs", "nope", "--no-follow"], { env });
      assert.equal(unknown.code, 1);
    });

    await t.step("shutdown: the kraken process exits 0 and no child process is left", async () => {
      processes();
      assert.ok(everSeen.size >= 3);
      const result = ok(await kraken(["shutdown"], { env }), "shutdown");
      assert.match(result.stdout, /stopped/);
      assert.equal(await started.exit(), 0);
      assert.match(started.stderr, /stopped\s*$/);
      await waitUntil(() => [...everSeen].every((pid) => !alive(pid)), 5000, "no process left");
      const gone = await kraken(["status"], { env });
      assert.equal(gone.code, 3);
    });
  } finally {
    await started.kill();
    for (const pid of everSeen) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // gone, as it should be
      }
    }
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kraken start: a bad topology exits 2 naming file, line and key; Ctrl-C stops a good one with 0", async () => {
  const { dir, file } = await topologyCopy();
  try {
    const text = await Deno.readTextFile(file);
    await Deno.writeTextFile(`${dir}/bad.yaml`, text.replace("replicas: 1", "replicas: many"));
    const bad = await kraken(["start", `${dir}/bad.yaml`], { env: { KRAKEN_TOKEN: TOKEN } });
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /bad\.yaml:\d+:\d+: containers\.web\.replicas: expected a whole number/,
    );

    await Deno.writeTextFile(
      `${dir}/unset.yaml`,
      text.replace("${KRAKEN_TOKEN}", "${KRAKEN_E2E_NEVER_SET}"),
    );
    const unset = await kraken(["start", `${dir}/unset.yaml`]);
    assert.equal(unset.code, 2);
    assert.match(unset.stderr, /KRAKEN_E2E_NEVER_SET/);

    const checked = await kraken(["check", file, "--json"], { env: { KRAKEN_TOKEN: TOKEN } });
    assert.equal(checked.code, 0);
    assert.deepEqual(JSON.parse(checked.stdout), { ok: true, file, name: "e2e", containers: 2 });

    // Without a management: block it still runs; Ctrl-C (SIGINT) shuts it down gracefully.
    await Deno.writeTextFile(`${dir}/plain.yaml`, text.replace(/management:[\s\S]*$/, ""));
    const plain = krakenInBackground(["start", `${dir}/plain.yaml`, "--json"]);
    try {
      const [line] = await plain.waitFor(/^\{"type":"started".*$/m);
      const info = JSON.parse(line);
      assert.equal(info.management, null);
      assert.equal(info.containers, 2);
      await waitUntil(() => denoChildren(plain.pid).length === 1, 10_000, "the jobs process");
      const children = denoChildren(plain.pid);
      plain.child.kill("SIGINT");
      assert.equal(await plain.exit(), 0);
      assert.match(plain.stdout, /\{"type":"stopped","ok":true\}/);
      await waitUntil(() => children.every((pid) => !alive(pid)), 5000, "no process left");
    } finally {
      await plain.kill();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kraken version, help, schema, node: what scripts can rely on", async () => {
  const version = await kraken(["version", "--json"]);
  assert.equal(version.code, 0);
  assert.match(JSON.parse(version.stdout).version, /^\d+\.\d+\.\d+$/);
  const help = await kraken(["help"]);
  assert.equal(help.code, 0);
  for (
    const command of [
      "new",
      "start",
      "status",
      "scale",
      "restart",
      "stop",
      "spawn",
      "reload",
      "logs",
      "shutdown",
      "schema",
    ]
  ) {
    assert.match(help.stdout, new RegExp(`^  ${command}\\b`, "m"), command);
  }
  const scaleHelp = await kraken(["scale", "--help"]);
  assert.equal(scaleHelp.code, 0);
  assert.match(scaleHelp.stdout, /^Usage: kraken scale NAME N/);
  const schema = await kraken(["schema"]);
  assert.equal(schema.code, 0);
  const parsed = JSON.parse(schema.stdout);
  assert.equal(typeof parsed.properties.containers, "object");
  const node = await kraken(["node"], { env: { KRAKEN_SECRET: "" } });
  assert.equal(node.code, 2);
  assert.match(node.stderr, /node: needs --secret \(or KRAKEN_SECRET\)/);
  const unknown = await kraken(["frobnicate"]);
  assert.equal(unknown.code, 2);
});

async function onTerminal(
  args: string[],
  env: Record<string, string>,
  input = "",
): Promise<Result> {
  const child = terminalCommand([Deno.execPath(), "run", "-A", CLI, ...args], {
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  let stdout = "";
  const reading = (async () => {
    for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) stdout += text;
  })();
  const stderr = new Response(child.stderr).text();
  try {
    // Typed once the question is on the terminal, as a person would. Until the command ends,
    // stdin stays open: at its end script(1) would end the session.
    if (input !== "") {
      await waitUntil(() => /\[y\/N\]/.test(stdout), 30_000, "the question on the terminal");
      await writer.write(new TextEncoder().encode(input));
    }
    const { code } = await within(child.status, 60_000, `kraken ${args.join(" ")} to exit`);
    await reading;
    return { code, stdout, stderr: await stderr };
  } catch (error) {
    child.kill("SIGKILL");
    await child.status;
    await reading;
    await stderr;
    throw new Error(`${(error as Error).message}; the terminal showed:\n${stdout}`);
  } finally {
    await writer.close().catch(() => {});
  }
}

Deno.test({
  name: "on a terminal: colours unless NO_COLOR, and reload asks y/N (only y applies)",
  ignore: !hasPty, // needs util-linux's script(1) for a pseudo-terminal
  async fn() {
    const { dir, file } = await topologyCopy();
    const started = krakenInBackground(["start", file], { env: { KRAKEN_TOKEN: TOKEN } });
    try {
      const [, url] = await started.waitFor(/management API: (http:\/\/127\.0\.0\.1:\d+\/)/);
      const env = { KRAKEN_URL: url, KRAKEN_TOKEN: TOKEN, TERM: "xterm" };
      // NO_COLOR may be set around the test run (CI sets it): empty means unset (no-color.org).
      const coloured = await onTerminal(["status"], { ...env, NO_COLOR: "" });
      assert.equal(coloured.code, 0, coloured.stdout);
      assert.ok(coloured.stdout.includes("\x1b[32mrunning\x1b[39m"), coloured.stdout);
      const plain = await onTerminal(["status"], { ...env, NO_COLOR: "1" });
      assert.ok(!plain.stdout.includes("\x1b["), "NO_COLOR turns colours off on a terminal");

      const original = await Deno.readTextFile(file);
      await Deno.writeTextFile(file, original.replace(/(web:\n(?:.*\n)*?\s+replicas:) 1/, "$1 2"));
      const declined = await onTerminal(["reload", file], { ...env, NO_COLOR: "1" }, "n\n");
      assert.match(declined.stdout, /apply 1 change\? \[y\/N\]/);
      assert.match(declined.stdout, /not applied/);
      assert.equal(declined.code, 1);
      const before = JSON.parse((await kraken(["status", "--json"], { env })).stdout);
      assert.equal(before.containers[0].replicas, 1);

      const accepted = await onTerminal(["reload", file], { ...env, NO_COLOR: "1" }, "y\n");
      assert.equal(accepted.code, 0, accepted.stdout);
      assert.match(accepted.stdout, /applied 1 change/);
      const after = JSON.parse((await kraken(["status", "--json"], { env })).stdout);
      assert.equal(after.containers[0].replicas, 2);
      ok(await kraken(["shutdown"], { env }), "shutdown");
      assert.equal(await started.exit(), 0);
    } finally {
      await started.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("kraken start: a management port already taken exits 1 and leaves no process behind", async () => {
  const { dir, file } = await topologyCopy();
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  const started = krakenInBackground(["start", file, "--listen", `127.0.0.1:${port}`], {
    env: { KRAKEN_TOKEN: TOKEN },
  });
  try {
    const code = await started.exit();
    assert.equal(code, 1);
    assert.match(started.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}`));
    assert.equal(denoChildren(started.pid).length, 0);
  } finally {
    taken.close();
    await started.kill();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kraken start: when the application fails (its root supervisor gives up) it exits 1 and says why", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kraken-cli-" });
  try {
    await Deno.writeTextFile(
      `${dir}/kraken.yaml`,
      `name: doomed\nsupervisor: { intensity: 2, period: 10s, backoff: { min: 5ms, max: 10ms } }\n` +
        `containers:\n  crashy: { module: ${FIXTURES}containers/crashy.ts, mode: worker }\n`,
    );
    const result = await kraken(["start", `${dir}/kraken.yaml`]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /the application failed: supervisor "root" gave up/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kraken start: Ctrl-C while containers start lets the start finish, stops what started gracefully and exits 0", async () => {
  const dir = await Deno.makeTempDir();
  const slow = new URL("../fixtures/slow_start.ts", import.meta.url).href;
  await Deno.writeTextFile(
    `${dir}/kraken.yaml`,
    `name: slow\ncontainers:\n  slow: { module: "${slow}", mode: worker }\n`,
  );
  const run = krakenInBackground(["start", `${dir}/kraken.yaml`]);
  try {
    await run.waitFor(/slow/, 30_000, "stderr"); // the start has begun; the factory takes 2 s
    run.child.kill("SIGINT");
    assert.equal(await run.exit(), 0, run.stderr);
    assert.match(run.stderr, /interrupted while starting: stopping once started/);
    assert.match(run.stderr, /stopped\s*$/);
  } finally {
    await run.kill();
    await Deno.remove(dir, { recursive: true });
  }
});
