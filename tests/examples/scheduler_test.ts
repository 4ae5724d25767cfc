// examples/scheduler, end to end through the real CLI: `kraken start` on its kraken.yaml (ticks
// every 1–2 s instead of every minute and 10 s, through the environment), then `kraken scale`,
// `kraken reload` and a kill -9 of a cleaner process while the ticks go on; the journal must hold
// each tick exactly once, and `kraken status` / `kraken schedules` show the next tick.
import assert from "node:assert/strict";
import { denoChildren, kraken, krakenInBackground, waitUntil } from "../cli/_cli.ts";

const EXAMPLE = new URL("../../examples/scheduler/", import.meta.url);
const TOKEN = "scheduler-test-token";

/** The example's kraken.yaml in `dir`, its modules named by absolute URL, edited by `edit`. */
async function topologyIn(dir: string, name: string, edit = (text: string) => text) {
  const text = await Deno.readTextFile(new URL("kraken.yaml", EXAMPLE));
  const file = `${dir}/${name}`;
  await Deno.writeTextFile(
    file,
    edit(text.replaceAll("./containers/", `${EXAMPLE.href}containers/`)),
  );
  return file;
}

/** The journal's lines: `<tick id>  <job>  <instance>  <note>`. */
async function journal(file: string): Promise<string[]> {
  try {
    return (await Deno.readTextFile(file)).split("\n").filter((line) => line.trim() !== "");
  } catch {
    return [];
  }
}

Deno.test("scheduler: each tick runs exactly once while workers are scaled, the topology reloaded and a cleaner killed -9", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kraken-scheduler-" });
  const log = `${dir}/jobs.log`;
  const file = await topologyIn(dir, "kraken.yaml");
  const started = krakenInBackground(["start", file, "--listen", "127.0.0.1:0"], {
    env: {
      KRAKEN_TOKEN: TOKEN,
      REPORT_CRON: "*/2 * * * * *",
      CLEANUP_EVERY: "1s",
      SCHEDULER_LOG: log,
    },
  });
  try {
    const [, url] = await started.waitFor(/management API: (http:\/\/127\.0\.0\.1:\d+\/)/);
    await started.waitFor(/Ctrl-C to stop/);
    const env = { KRAKEN_URL: url, KRAKEN_TOKEN: TOKEN };
    const ran = async () => (await journal(log)).length;
    // waitUntil takes a synchronous check: refresh the count in the background meanwhile.
    let count = 0;
    const poll = setInterval(async () => (count = await ran()), 100);
    const atLeast = (n: number, what: string) => waitUntil(() => count >= n, 20_000, what);
    try {
      await atLeast(4, "4 ticks in the journal");
      assert.equal((await kraken(["scale", "reports", "4"], { env })).code, 0);
      assert.equal((await kraken(["scale", "cleaner", "1"], { env })).code, 0);
      await atLeast(count + 3, "3 more ticks after scaling");

      // Reload: reports to 3 replicas, cleaner replaced (new config: a rolling replacement of its
      // processes); the schedule block is the same, so the plan leaves it alone.
      const edited = await topologyIn(dir, "edited.yaml", (text) =>
        text
          .replace("    replicas: 2\n  cleaner:", "    replicas: 3\n  cleaner:")
          .replace("    shutdown: 2s\n", "    shutdown: 2s\n    config: { maxAge: 20 }\n"));
      const reload = await kraken(["reload", edited, "--yes"], { env });
      assert.equal(reload.code, 0, reload.stderr);
      assert.match(reload.stdout, /replace cleaner/);
      assert.doesNotMatch(reload.stdout, /schedule (report|cleanup)/);
      await atLeast(count + 3, "3 more ticks after reloading");

      // kill -9 of a cleaner process: its replica restarts, the ticks go on.
      const [cleaner] = denoChildren(started.pid);
      assert.ok(cleaner, "a cleaner process runs");
      Deno.kill(cleaner, "SIGKILL");
      await atLeast(count + 4, "4 more ticks after kill -9");

      const status = await kraken(["status"], { env });
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /schedules\n/);
      assert.match(
        status.stdout,
        /report\s+cron \*\/2 \* \* \* \* \* \(Europe\/Paris\)\s+reports\.run\s+\S+Z \(in \d+s\)/,
      );
      assert.match(status.stdout, /cleanup\s+every 1s\s+cleaner\.cleanup\s+\S+Z \(in \d+s\)/);
      const listed = await kraken(["schedules", "--json"], { env });
      const schedules = JSON.parse(listed.stdout) as {
        name: string;
        next: string;
        fired: number;
      }[];
      assert.deepEqual(schedules.map((s) => s.name), ["report", "cleanup"]);
      for (const s of schedules) assert.ok(Date.parse(s.next) > Date.now() - 2000, s.next);

      assert.equal((await kraken(["shutdown"], { env })).code, 0);
      assert.equal(await started.exit(30_000), 0);
    } finally {
      clearInterval(poll);
    }
    const lines = await journal(log);
    const ticks = lines.map((line) => line.split(/\s+/)[0]);
    const twice = ticks.filter((t, i) => ticks.indexOf(t) !== i);
    assert.deepEqual(twice, [], `ticks that ran twice:\n${lines.join("\n")}`);
    assert.ok(
      ticks.some((t) => t.startsWith("report@")) && ticks.some((t) => t.startsWith("cleanup@")),
    );
    // Every replica shape took part: the scaled reports (#2, #3) and the replaced cleaner.
    assert.ok(lines.some((l) => /reports#[23]\./.test(l)), lines.join("\n"));
  } finally {
    await started.kill().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
