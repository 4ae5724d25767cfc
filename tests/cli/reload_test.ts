// `kraken reload --yes` ticks every step of the plan as it is done: the containers' steps and the
// schedule changes (added, replanned, removed) alike, then says how many it applied.
import assert from "node:assert/strict";
import { kraken, krakenInBackground } from "./_cli.ts";

const WEB = new URL("../fixtures/cli/containers/web.ts", import.meta.url).pathname;
const TOKEN = "reload-test-token-" + crypto.randomUUID();

function topology(replicas: number, schedules: string): string {
  return `name: ticks
containers:
  web: { module: ${WEB}, mode: inline, replicas: ${replicas} }
schedule:
${schedules}
management:
  listen: 127.0.0.1:0
  token: \${KRAKEN_TOKEN}
`;
}

Deno.test("kraken reload --yes ticks every plan step, schedule added, replanned and removed included", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kraken-reload-" });
  const file = `${dir}/kraken.yaml`;
  await Deno.writeTextFile(
    file,
    topology(
      1,
      "  cleanup: { every: 60m, to: web, topic: echo }\n" +
        "  old: { every: 120m, to: web, topic: echo }\n",
    ),
  );
  const app = krakenInBackground(["start", file], { env: { KRAKEN_TOKEN: TOKEN } });
  try {
    const [, url] = await app.waitFor(/management API: (http:\/\/127\.0\.0\.1:\d+\/)/);
    await app.waitFor(/Ctrl-C to stop/);
    await Deno.writeTextFile(
      file,
      topology(
        2,
        "  cleanup: { every: 30m, to: web, topic: echo }\n" +
          "  fresh: { every: 180m, to: web, topic: count }\n",
      ),
    );
    const env = { KRAKEN_URL: url, KRAKEN_TOKEN: TOKEN };
    const reloaded = await kraken(["reload", file, "--yes"], { env });
    assert.equal(reloaded.code, 0, reloaded.stderr);
    const planned = reloaded.stdout.split("\n").filter((line) => /^ {2}[+\-~↕=] /.test(line))
      .map((line) => line.slice(2));
    assert.equal(planned.length, 4, reloaded.stdout);
    assert.ok(
      planned.some((line) => line.startsWith("~ replan schedule cleanup")),
      reloaded.stdout,
    );
    assert.ok(planned.includes("- unschedule old"), reloaded.stdout);
    assert.ok(planned.some((line) => line.startsWith("+ schedule fresh")), reloaded.stdout);
    const ticked = reloaded.stderr.split("\n").filter((line) => line.startsWith("  ✓ "))
      .map((line) => line.slice(4));
    assert.deepEqual(ticked.toSorted(), planned.toSorted(), "each planned step ticked once");
    assert.match(reloaded.stdout, /applied 4 changes/);
    app.child.kill("SIGTERM");
    assert.equal(await app.exit(), 0, app.stderr);
  } finally {
    await app.kill();
    await Deno.remove(dir, { recursive: true });
  }
});
