// Observers: `RuntimeOptions.on` sees the start itself; `log` events carry every log line.
import assert from "node:assert/strict";
import { Runtime } from "../../mod.ts";
import { FIXTURES } from "../_helpers.ts";

Deno.test("RuntimeOptions.on sees every instance's start event while Runtime.start is still running", async () => {
  const seen: string[] = [];
  let returned = false;
  const rt = await Runtime.start({
    containers: {
      a: { module: "./member.ts", mode: "worker", replicas: 2 },
      b: { module: "./member.ts", mode: "inline" },
    },
  }, {
    logLevel: "silent",
    baseUrl: FIXTURES.href,
    on: { start: (e) => seen.push(`${e.instance}${returned ? " (late)" : ""}`) },
  });
  returned = true;
  try {
    assert.deepEqual(seen.toSorted(), ["a#0.1", "a#1.1", "b#0.1"]);
  } finally {
    await rt.shutdown();
  }
});

Deno.test("log events carry the runtime's and the containers' lines with a time, at or above logLevel", async () => {
  const lines: { level: string; message: string; source: string; time: number }[] = [];
  const rt = await Runtime.start({
    containers: { p: { module: "./member.ts", mode: "process" } },
  }, { logLevel: "info", logger: () => {}, baseUrl: FIXTURES.href });
  try {
    rt.on("log", (e) => lines.push(e));
    await rt.ref("p").request("printRaw", { text: "from the container\n" });
    const deadline = Date.now() + 3000;
    while (!lines.some((l) => l.message.includes("from the container")) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const line = lines.find((l) => l.message.includes("from the container"));
    assert.ok(line, JSON.stringify(lines));
    assert.equal(line.source, "p#0.1");
    assert.ok(Math.abs(line.time - Date.now()) < 5000);
  } finally {
    await rt.shutdown();
  }
});
