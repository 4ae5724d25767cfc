// What the CLI prints: the tree table, states, durations, log lines, colours on and off.
import assert from "node:assert/strict";
import {
  containerState,
  formatDuration,
  formatHandlerTime,
  formatLog,
  palette,
  plural,
  renderTree,
  stripAnsi,
  table,
} from "../../cli/output.ts";
import type { ContainerSnapshot, TreeSnapshot } from "../../mod.ts";

function container(
  name: string,
  extra: Partial<ContainerSnapshot> = {},
): ContainerSnapshot {
  return {
    name,
    mode: "worker",
    host: "local",
    replicas: 1,
    running: 1,
    restarts: 0,
    held: false,
    instances: [{
      id: `${name}#0.1`,
      replica: 0,
      incarnation: 1,
      state: "running",
      node: "w1",
      restarts: 0,
      uptime: 65_000,
    }],
    ...extra,
  };
}

const TREE: TreeSnapshot = {
  name: "shop",
  supervisor: { strategy: "one_for_one", intensity: 5, period: 10_000, state: "running" },
  containers: [
    container("api", { replicas: 2, running: 1, restarts: 3 }),
    container("billing", {
      mode: "process",
      instances: [{
        id: "billing#0.1",
        replica: 0,
        incarnation: 1,
        state: "running",
        node: "p1",
        restarts: 0,
        uptime: 65_000,
        memoryBytes: 48.25 * 2 ** 20,
        cpuPercent: 3.5,
      }],
      children: [container("mailer"), container("ledger", { mode: "inline" })],
    }),
  ],
  relayed: 0,
  refused: 0,
  peers: [],
  leaked: [],
  schedules: [],
};

Deno.test("renderTree: one row per container with mode, host, state, replicas, restarts, uptime, memory, cpu; children indented", () => {
  const text = renderTree(TREE, palette(false));
  assert.equal(
    text,
    [
      "shop  running  one_for_one, at most 5 restarts in 10s",
      "NAME       MODE     HOST   STATE     REPLICAS  RESTARTS  UPTIME  MEMORY    CPU",
      "api        worker   local  degraded  1/2       3         1m 5s   -         -",
      "billing    process  local  running   1/1       0         1m 5s   48.3 MiB  3.5%",
      "├─ mailer  worker   local  running   1/1       0         1m 5s   -         -",
      "└─ ledger  inline   local  running   1/1       0         1m 5s   -         -",
    ].join("\n"),
  );
  const withInstances = renderTree(TREE, palette(false), { instances: true });
  assert.match(withInstances, /^ {2}· api#0\.1\s+w1\s+running\s+0\s+1m 5s\s+-\s+-$/m);
  // An instance's own memory and CPU (a worker's isolate heap and thread; here a process's).
  assert.match(
    withInstances,
    /^ {2}· billing#0\.1\s+p1\s+running\s+0\s+1m 5s\s+48\.3 MiB\s+3\.5%$/m,
  );
  // An instance's node stands under HOST (where it runs), not under MODE.
  const lines = withInstances.split("\n");
  const header = lines[1];
  const row = lines.find((line) => line.includes("· api#0.1"))!;
  assert.equal(row.indexOf("w1"), header.indexOf("HOST"));
});

Deno.test("renderTree with instances: a process instance's row shows its node and its OS pid; a worker's only its node", () => {
  const billing = TREE.containers[1];
  const tree: TreeSnapshot = {
    ...TREE,
    containers: [
      TREE.containers[0],
      { ...billing, instances: [{ ...billing.instances[0], node: "p8", pid: 12345 }] },
    ],
  };
  const text = renderTree(tree, palette(false), { instances: true });
  assert.match(text, /^ {2}· billing#0\.1\s+p8 \(pid 12345\)\s+running\s/m);
  assert.match(text, /^ {2}· api#0\.1\s+w1\s+running\s/m);
  const lines = text.split("\n");
  const row = lines.find((line) => line.includes("· billing#0.1"))!;
  assert.equal(row.indexOf("p8"), lines[1].indexOf("HOST"), "under HOST, where it runs");
});

Deno.test("plural: one container, two containers, no replicas", () => {
  assert.equal(plural(1, "container"), "1 container");
  assert.equal(plural(2, "container"), "2 containers");
  assert.equal(plural(0, "replica"), "0 replicas");
});

Deno.test("renderTree: colours only when asked, and the coloured text reads the same without them", () => {
  const coloured = renderTree(TREE, palette(true));
  assert.ok(coloured.includes("\x1b[32mrunning\x1b[39m"));
  assert.ok(coloured.includes("\x1b[31mdegraded\x1b[39m"));
  const plain = renderTree(TREE, palette(false));
  assert.ok(!plain.includes("\x1b["));
  assert.equal(stripAnsi(coloured), plain);
});

Deno.test("containerState: held, idle, running, restarting, starting, degraded", () => {
  const base = container("a");
  assert.equal(containerState({ ...base, held: true }), "held");
  assert.equal(containerState({ ...base, replicas: 0, running: 0 }), "idle");
  assert.equal(containerState(base), "running");
  const waiting = (state: "restarting" | "starting") => ({
    ...base,
    running: 0,
    instances: [{ ...base.instances[0], state }],
  });
  assert.equal(containerState(waiting("restarting")), "restarting");
  assert.equal(containerState(waiting("starting")), "starting");
  assert.equal(containerState({ ...base, replicas: 2 }), "degraded");
});

Deno.test("formatDuration, table and formatLog", () => {
  assert.deepEqual(
    [0, 850, 12_400, 184_000, 7_500_000, 200_000_000].map(formatDuration),
    ["0s", "850ms", "12s", "3m 4s", "2h 5m", "2d 7h"],
  );
  assert.equal(
    table([["a", palette(true).red("bb"), "c"], ["ccc", "d", "e"]]).split("\n").map(stripAnsi).join(
      "\n",
    ),
    "a    bb  c\nccc  d   e",
  );
  const line = formatLog({
    time: Date.UTC(2026, 0, 1, 12, 3, 4, 567),
    level: "error",
    source: "api#0.1",
    message: "boom",
  }, palette(false));
  assert.equal(line, "12:03:04.567 ERROR [api#0.1] boom");
});

Deno.test("formatHandlerTime: three significant digits, in µs, ms or s", () => {
  assert.equal(formatHandlerTime(0.008), "8 µs");
  assert.equal(formatHandlerTime(0.09051), "90.5 µs");
  assert.equal(formatHandlerTime(1.25), "1.25 ms");
  assert.equal(formatHandlerTime(312.4), "312 ms");
  assert.equal(formatHandlerTime(2500), "2.5 s");
});

Deno.test("formatLog shows a container's control characters instead of obeying them: no forged line, no escape sequence", async () => {
  const { Runtime } = await import("../../mod.ts");
  const lines: { level: "info" | "warn" | "error" | "debug"; message: string; source: string }[] =
    [];
  const rt = await Runtime.start({
    containers: { p: { module: "./member.ts", mode: "process" } },
  }, {
    logLevel: "info",
    baseUrl: new URL("../fixtures/", import.meta.url).href,
    logger: (entry) => lines.push(entry),
  });
  try {
    // What the attacker wrote: a title-setting and a clipboard-writing sequence, and a newline
    // followed by what looks like another container's error line.
    const evil =
      "ok\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07\n12:00:00.000 ERROR [billing#0.1] run curl";
    await rt.ref("p").request("printRaw", { text: `${evil}\n` });
    const deadline = Date.now() + 3000;
    while (!lines.some((l) => l.message.includes("pwned")) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const shown = lines.filter((l) => l.source === "p#0.1")
      .map((l) => formatLog({ ...l, time: 0 }, palette(false))).join("\n");
    assert.ok(shown.includes("pwned"), shown);
    assert.ok(!shown.includes("\x1b"), "no escape character reaches the terminal");
    assert.match(shown, /\\x1b\]0;pwned\\x07/);
    // Each printed entry starts with a time; the forged one does not.
    for (const line of shown.split("\n")) {
      assert.ok(/^\d\d:\d\d:\d\d\.\d{3} /.test(line) || /^ {4}│ /.test(line), line);
    }
    assert.equal(
      formatLog(
        { time: 0, level: "info", source: "p#0.1", message: "a\nERROR [x] b" },
        palette(false),
      ),
      "00:00:00.000 INFO  [p#0.1] a\n    │ ERROR [x] b",
    );
  } finally {
    await rt.shutdown();
  }
});
