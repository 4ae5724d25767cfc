// `kraken start --detach`: the runtime runs in the background (its own session, no terminal),
// its logs go to rotated files, and `status`, `logs`, `shutdown` find it from its folder without
// flags; a second detached start is refused, a stale state file replaced, nothing left behind.
import assert from "node:assert/strict";
import { alive, freePort, waitUntil } from "../_helpers.ts";
import { descendants, kraken } from "./_cli.ts";

const TOKEN = "detach-test-token-0123456789";
const CONTAINERS = new URL("../fixtures/cli/containers/", import.meta.url).pathname;

/** A project folder with a kraken.yaml: a process container and a worker, an API on port 0. */
async function project(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "kraken-detach-" });
  await Deno.writeTextFile(
    `${dir}/kraken.yaml`,
    `name: bg
containers:
  chat: { module: ${CONTAINERS}chatty.ts, mode: process }
  wk: { module: ${CONTAINERS}chatty.ts, mode: worker }
management:
  listen: 127.0.0.1:0
  token: \${KRAKEN_TOKEN}
`,
  );
  return dir;
}

interface State {
  pid: number;
  url: string;
  logDir: string;
  token: string;
}

function state(dir: string): State | null {
  try {
    return JSON.parse(Deno.readTextFileSync(`${dir}/.kraken/state.json`));
  } catch {
    return null;
  }
}

/** Kills a runtime a failed test left running, and everything below it. */
function cleanUp(pids: number[]): void {
  for (const pid of pids.flatMap((p) => [...descendants(p), p])) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // gone already
    }
  }
}

/** The session id of a process (field 6 of /proc/<pid>/stat). */
function sessionOf(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[3]);
}

Deno.test("kraken start --detach runs in the background; status, logs and shutdown find it without flags; logs rotate; nothing is left", async (t) => {
  const dir = await project();
  const env = { KRAKEN_TOKEN: TOKEN };
  const run = (args: string[]) => kraken(args, { cwd: dir, env });
  const started: number[] = [];
  try {
    const out = await run(["start", "--detach", "--log-max-size", "4KiB", "--log-files", "2"]);
    assert.equal(out.code, 0, out.stderr);
    const s = state(dir)!;
    started.push(s.pid);

    await t.step("it runs in its own session, its state file names it (not the token)", () => {
      assert.match(out.stdout, new RegExp(`running bg detached: pid ${s.pid}`));
      assert.ok(alive(s.pid));
      assert.notEqual(sessionOf(s.pid), sessionOf(Deno.pid), "setsid: no terminal of ours");
      assert.equal(s.logDir, `${dir}/.kraken/logs`);
      assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      assert.ok(!Deno.readTextFileSync(`${dir}/.kraken/state.json`).includes(TOKEN));
      assert.match(Deno.readTextFileSync(`${s.logDir}/runtime.log`), /running bg: 2 containers/);
    });

    await t.step("status finds it without --url (its port was 0)", async () => {
      const status = await run(["status"]);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /^chat\s+process\s+local\s+running/m);
    });

    await t.step("a second detached start of the same application is refused", async () => {
      const again = await run(["start", "--detach"]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /"bg" already runs detached from .*kraken\.yaml \(pid \d+/);
      assert.equal(state(dir)!.pid, s.pid);
    });

    await t.step(
      "a container's lines go to its own file, rotated past --log-max-size",
      async () => {
        const talked = await run(["call", "chat", "talk", '{"lines":100}']);
        assert.equal(talked.code, 0, talked.stderr);
        const log = `${s.logDir}/chat.log`;
        await waitUntil(
          () => {
            try {
              return /line 99 /.test(Deno.readTextFileSync(log));
            } catch {
              return false;
            }
          },
          5000,
          "the last line in chat.log",
        );
        for (const file of [log, `${log}.1`, `${log}.2`]) {
          assert.ok(Deno.statSync(file).size <= 4096, `${file} within 4KiB`);
        }
        assert.throws(() => Deno.statSync(`${log}.3`), "only --log-files 2 rotated files kept");
        assert.doesNotMatch(Deno.readTextFileSync(`${s.logDir}/runtime.log`), /line 99/);
      },
    );

    await t.step("logs finds it too", async () => {
      const logs = await run(["logs", "chat", "--no-follow", "--tail", "2"]);
      assert.equal(logs.code, 0, logs.stderr);
      assert.match(logs.stdout, /\[chat#0\.1\] line 99 /);
    });

    await t.step(
      "shutdown stops it and waits for its process; no process, no state left",
      async () => {
        const pid = Number((await run(["call", "chat", "pid"])).stdout.trim());
        assert.ok(alive(pid), "the process container");
        const down = await run(["shutdown"]);
        assert.equal(down.code, 0, down.stderr);
        assert.ok(!alive(s.pid), "the runtime's process has ended");
        await waitUntil(() => !alive(pid), 5000, "the process container to end");
        assert.equal(state(dir), null, "the state file is removed");
        assert.match(Deno.readTextFileSync(`${s.logDir}/runtime.log`), /stopped$/m);
      },
    );
  } finally {
    cleanUp(started);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kraken start --detach replaces a stale state file whose process is gone", async () => {
  const dir = await project();
  const env = { KRAKEN_TOKEN: TOKEN };
  const started: number[] = [];
  try {
    // A runtime killed without a shutdown leaves its state file behind.
    const gone = new Deno.Command("true").spawn();
    await gone.status;
    await Deno.mkdir(`${dir}/.kraken`);
    await Deno.writeTextFile(
      `${dir}/.kraken/state.json`,
      JSON.stringify({ pid: gone.pid, name: "bg", url: "http://127.0.0.1:1/", logDir: dir }),
    );
    const out = await kraken(["start", "--detach"], { cwd: dir, env });
    assert.equal(out.code, 0, out.stderr);
    started.push(state(dir)!.pid);
    assert.match(out.stderr, new RegExp(`removed a stale state file: pid ${gone.pid} is gone`));
    assert.notEqual(state(dir)!.pid, gone.pid);
    const down = await kraken(["shutdown"], { cwd: dir, env });
    assert.equal(down.code, 0, down.stderr);
    assert.ok(!alive(started[0]));
  } finally {
    cleanUp(started);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("with a copy detached on a fixed port, a second --detach is refused naming its pid and address (not the taken port), and a foreground start names it as who holds the port", async () => {
  const dir = await project();
  const port = freePort();
  const topology = `${dir}/kraken.yaml`;
  await Deno.writeTextFile(
    topology,
    (await Deno.readTextFile(topology)).replace("127.0.0.1:0", `127.0.0.1:${port}`),
  );
  // The running copy, as a second start sees it: a live pid in the state file, the port held.
  // This test process plays it.
  const held = Deno.listen({ hostname: "127.0.0.1", port });
  try {
    await Deno.mkdir(`${dir}/.kraken`);
    await Deno.writeTextFile(
      `${dir}/.kraken/state.json`,
      JSON.stringify({
        pid: Deno.pid,
        name: "bg",
        topology,
        url: `http://127.0.0.1:${port}/`,
        token: `management.token of ${topology}`,
        logDir: `${dir}/.kraken/logs`,
        started: new Date().toISOString(),
      }),
    );
    const again = await kraken(["start", "--detach"], { cwd: dir, env: { KRAKEN_TOKEN: TOKEN } });
    assert.equal(again.code, 1, again.stderr);
    assert.match(
      again.stderr,
      new RegExp(
        `"bg" already runs detached from .*kraken\\.yaml \\(pid ${Deno.pid}, management API http://127\\.0\\.0\\.1:${port}/`,
      ),
    );
    assert.doesNotMatch(again.stderr, /cannot listen/);
    assert.equal(state(dir)!.pid, Deno.pid, "the running copy's state file is left alone");

    const foreground = await kraken(["start"], { cwd: dir, env: { KRAKEN_TOKEN: TOKEN } });
    assert.equal(foreground.code, 1, foreground.stderr);
    assert.match(
      foreground.stderr,
      new RegExp(
        `cannot listen on 127\\.0\\.0\\.1:${port}: .*\\("bg" runs detached from this folder \\(pid ${Deno.pid}, management API http://127\\.0\\.0\\.1:${port}/\\): "kraken shutdown" stops it\\)`,
      ),
    );
  } finally {
    held.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kraken start: the --log-* flags need --detach, and a bad size is named", async () => {
  const dir = await project();
  try {
    const noDetach = await kraken(["start", "--log-files", "3"], { cwd: dir });
    assert.equal(noDetach.code, 2);
    assert.match(noDetach.stderr, /--log-files needs --detach/);
    const badSize = await kraken(["start", "--detach", "--log-max-size", "10MB"], { cwd: dir });
    assert.equal(badSize.code, 2);
    assert.match(badSize.stderr, /--log-max-size must be a size .* got "10MB"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kraken status, logs and shutdown against a stale state file (its process gone) say the detached runtime is not running, not only that nothing answers", async () => {
  const dir = await project();
  try {
    const gone = new Deno.Command("true").spawn();
    await gone.status;
    await Deno.mkdir(`${dir}/.kraken`);
    await Deno.writeTextFile(
      `${dir}/.kraken/state.json`,
      JSON.stringify({
        pid: gone.pid,
        name: "bg",
        url: "http://127.0.0.1:1/",
        logDir: dir,
        started: "2026-12-05T00:00:00.000Z",
      }),
    );
    const env = { KRAKEN_TOKEN: TOKEN };
    for (const command of [["status"], ["logs", "chat"], ["shutdown"]]) {
      const out = await kraken(command, { cwd: dir, env });
      assert.equal(out.code, 3, `${command[0]}: ${out.stderr}`);
      assert.match(
        out.stderr,
        new RegExp(
          `the runtime detached from \\./kraken\\.yaml \\(pid ${gone.pid}, started 2026-12-05T00:00:00\\.000Z\\) is not running: .*/\\.kraken/state\\.json is stale \\(no process ${gone.pid}\\)`,
        ),
        command[0],
      );
      assert.match(out.stderr, /"kraken start --detach" starts it again/);
      assert.doesNotMatch(out.stderr, /is "kraken start" running/);
    }
    // --url says where to look: the state file is not the question then.
    const given = await kraken(["status", "--url", "http://127.0.0.1:1"], { cwd: dir, env });
    assert.equal(given.code, 3);
    assert.doesNotMatch(given.stderr, /stale/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
