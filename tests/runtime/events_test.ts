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

Deno.test("output a process never ends with a newline is cut into bounded log lines as it comes", async () => {
  const lines: string[] = [];
  const rt = await Runtime.start({
    containers: { p: { module: "./member.ts", mode: "process" } },
  }, { logLevel: "info", logger: () => {}, baseUrl: FIXTURES.href });
  try {
    rt.on("log", (e) => {
      if (e.source === "p#0.1") lines.push(e.message);
    });
    for (let k = 0; k < 8; k++) {
      await rt.ref("p").request("printRaw", { text: "y".repeat(10_000) }); // never a newline
    }
    const deadline = Date.now() + 3000;
    while (lines.join("").length < 64 * 1024 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(lines.length >= 4, `${lines.length} lines before the process ended`);
    assert.ok(lines.every((l) => l.length <= 16 * 1024), "each at most 16 KiB");
  } finally {
    await rt.shutdown();
  }
});

Deno.test("what a worker container prints with console.* becomes its log lines (not raw output)", async () => {
  const lines: string[] = [];
  const rt = await Runtime.start({
    containers: { w: { module: "./member.ts", mode: "worker" } },
  }, {
    logLevel: "info",
    logger: (e) => lines.push(`${e.level} ${e.source} ${e.message}`),
    baseUrl: FIXTURES.href,
  });
  try {
    await rt.ref("w").request("say", { text: "hello from a worker" });
    await rt.ref("w").request("say", { text: "careful", level: "warn" });
    const deadline = Date.now() + 3000;
    while (lines.filter((l) => l.includes(" w#0.1 ")).length < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(lines.includes('info w#0.1 hello from a worker {"n":1}'), lines.join("\n"));
    assert.ok(lines.includes('warn w#0.1 careful {"n":1}'), lines.join("\n"));
  } finally {
    await rt.shutdown();
  }
});
