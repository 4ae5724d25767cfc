// The CLI's side of schedules: `kraken reload` applies a change to schedule: alone (it is a change,
// not "nothing to change"), and `kraken schedules` lists them.
import assert from "node:assert/strict";
import { kraken, krakenInBackground } from "../cli/_cli.ts";

const TICKED = new URL("../fixtures/ticked.ts", import.meta.url).href;
const TOKEN = "schedules-cli-token";

const yaml = (every: string) =>
  [
    "containers:",
    `  target: { module: "${TICKED}", mode: inline }`,
    "schedule:",
    `  beat: { every: ${every}, to: target, topic: tick }`,
    "management:",
    "  token: ${KRAKEN_TOKEN}",
    "",
  ].join("\n");

Deno.test("kraken reload applies a topology whose only change is a schedule, and shows it replanned", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kraken-schedules-cli-" });
  await Deno.writeTextFile(`${dir}/kraken.yaml`, yaml("1m"));
  await Deno.writeTextFile(`${dir}/edited.yaml`, yaml("2m"));
  const started = krakenInBackground(["start", `${dir}/kraken.yaml`, "--listen", "127.0.0.1:0"], {
    env: { KRAKEN_TOKEN: TOKEN },
  });
  try {
    const [, url] = await started.waitFor(/management API: (http:\/\/127\.0\.0\.1:\d+\/)/);
    const env = { KRAKEN_URL: url, KRAKEN_TOKEN: TOKEN };
    const before = await kraken(["schedules"], { env });
    assert.match(before.stdout, /beat\s+every 1m\s+target\.tick\s+\S+Z \(in /);
    const reload = await kraken(["reload", `${dir}/edited.yaml`, "--yes"], { env });
    assert.equal(reload.code, 0, reload.stderr);
    assert.match(reload.stdout, /~ replan schedule beat: every/);
    assert.match(reload.stdout, /applied 1 change/);
    const after = JSON.parse((await kraken(["schedules", "--json"], { env })).stdout);
    assert.equal(after[0].every, 120_000);
  } finally {
    await started.kill();
    await Deno.remove(dir, { recursive: true });
  }
});
