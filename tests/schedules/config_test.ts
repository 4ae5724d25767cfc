// `schedule:` in kraken.yaml: read into specs, refused with the key, line and bad value, in the
// JSON Schema, and planned by `kraken reload` (added, replanned, removed).
import assert from "node:assert/strict";
import {
  formatPlan,
  loadTopology,
  planTopology,
  Runtime,
  TopologyError,
  validateTopology,
} from "../../mod.ts";
import { topologyJsonSchema } from "../../config/schema.ts";

const base = { baseUrl: "file:///app/" };
const containers = { reports: { module: "./r.ts" }, cleaner: { module: "./c.ts" } };

function refused(schedule: unknown, pattern: RegExp): void {
  assert.throws(() => validateTopology({ containers, schedule }, base), (e: unknown) => {
    assert.ok(e instanceof TopologyError, String(e));
    assert.match(e.message, pattern);
    return true;
  });
}

Deno.test("schedule: the issue's example reads into specs with defaults (missed: skip)", () => {
  const t = validateTopology({
    containers,
    schedule: {
      report: {
        cron: "0 * * * * *",
        timezone: "Europe/Paris",
        to: "reports",
        topic: "run",
        body: { kind: "minute" },
        missed: "run_once",
      },
      cleanup: { every: "10s", to: "cleaner", topic: "cleanup" },
    },
  }, base);
  assert.deepEqual(t.schedules, [
    {
      name: "report",
      cron: "0 * * * * *",
      timezone: "Europe/Paris",
      to: "reports",
      topic: "run",
      body: { kind: "minute" },
      missed: "run_once",
    },
    { name: "cleanup", every: 10_000, to: "cleaner", topic: "cleanup", missed: "skip" },
  ]);
  assert.deepEqual(validateTopology({ containers }, base).schedules, []);
});

Deno.test("schedule: each bad field is refused naming the key and the bad value", () => {
  refused(
    { a: { to: "cleaner", topic: "t" } },
    /schedule\.a: expected exactly one of cron: and every: .*got neither/,
  );
  refused(
    { a: { cron: "* * * * *", every: "1s", to: "cleaner", topic: "t" } },
    /schedule\.a\.every: .*got both/,
  );
  refused(
    { a: { every: "500ms", to: "cleaner", topic: "t" } },
    /schedule\.a\.every: expected a period of at least 1s.*got "500ms"/,
  );
  refused(
    { a: { every: "soon", to: "cleaner", topic: "t" } },
    /schedule\.a\.every: expected a duration.*got "soon"/,
  );
  refused(
    { a: { cron: "* * *", to: "cleaner", topic: "t" } },
    /schedule\.a\.cron: expected a cron expression of 5 fields.*got "\* \* \*"/,
  );
  refused(
    { a: { cron: "* * * * *", timezone: "Mars/Olympus", to: "cleaner", topic: "t" } },
    /schedule\.a\.timezone: unknown time zone "Mars\/Olympus"/,
  );
  refused(
    { a: { every: "1s", timezone: "UTC", to: "cleaner", topic: "t" } },
    /schedule\.a\.timezone: .*expected no timezone: with every:/,
  );
  refused(
    { a: { every: "1s", to: "cleanr", topic: "t" } },
    /schedule\.a\.to: unknown container "cleanr" \(did you mean "cleaner"\?\)/,
  );
  refused({ a: { every: "1s", topic: "t" } }, /schedule\.a\.to: missing/);
  refused({ a: { every: "1s", to: "cleaner" } }, /schedule\.a\.topic: missing/);
  refused(
    { a: { every: "1s", to: "cleaner", topic: "t", missed: "catch_up" } },
    /schedule\.a\.missed: expected one of skip, run_once, got "catch_up"/,
  );
  refused(
    { a: { every: "1s", to: "cleaner", topic: "t", entity: 7 } },
    /schedule\.a\.entity: expected an entity id of container "cleaner", got number 7/,
  );
  refused(
    { a: { every: "1s", to: "cleaner", topic: "t", entity: "r".repeat(257) } },
    /schedule\.a\.entity: expected an entity id of at most 256 characters, got one of 257/,
  );
  refused(
    { a: { every: "1s", to: "cleaner", topic: "t", when: "now" } },
    /schedule\.a\.when: unknown key "when"/,
  );
  refused({ "9a": { every: "1s", to: "cleaner", topic: "t" } }, /schedule name "9a" is not valid/);
  refused(["cleanup"], /schedule: expected a map of schedule names/);
});

Deno.test("schedule: an entity target is a field read and passed through", () => {
  const t = validateTopology({
    containers,
    schedule: { tidy: { every: "1m", to: "cleaner", entity: "room-1", topic: "tidy" } },
  }, base);
  assert.equal(t.schedules?.[0].entity, "room-1");
});

Deno.test("schedule: a target on a peer runtime is allowed when the runtime has peers", () => {
  const t = validateTopology({
    containers,
    transports: { listen: "tcp://127.0.0.1:0", secret: "s3cret-s3cret-s3cret" },
    schedule: { far: { every: "1m", to: "elsewhere", topic: "t" } },
  }, base);
  assert.equal(t.schedules?.[0].to, "elsewhere");
});

Deno.test("schedule: a cron value the parser refuses fails at load with the file, line and key", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/c.ts`, "export default {};\n");
    await Deno.writeTextFile(
      `${dir}/kraken.yaml`,
      [
        "containers:",
        "  cleaner: { module: ./c.ts }",
        "schedule:",
        "  ok: { every: 10s, to: cleaner, topic: t }",
        '  bad: { cron: "61 * * * * *", to: cleaner, topic: t }',
        "",
      ].join("\n"),
    );
    const error = await loadTopology(`${dir}/kraken.yaml`).catch((e) => e);
    assert.ok(error instanceof TopologyError, String(error));
    assert.equal(error.line, 5);
    assert.equal(error.key, "schedule.bad.cron");
    assert.match(error.message, /"61 \* \* \* \* \*" is not a valid cron expression: .*second/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("schedule: a cron that never fires (February 30th) fails at load naming the key and line, and so does rt.schedule", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/c.ts`, "export default {};\n");
    await Deno.writeTextFile(
      `${dir}/kraken.yaml`,
      [
        "containers:",
        "  cleaner: { module: ./c.ts }",
        "schedule:",
        '  never: { cron: "0 0 30 2 *", to: cleaner, topic: t }',
        "",
      ].join("\n"),
    );
    const error = await loadTopology(`${dir}/kraken.yaml`).catch((e) => e);
    assert.ok(error instanceof TopologyError, String(error));
    assert.equal(error.line, 4);
    assert.equal(error.key, "schedule.never.cron");
    assert.match(error.message, /"0 0 30 2 \*" never fires/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const rt = await Runtime.start({
    containers: { cleaner: { module: "../fixtures/echo.ts", mode: "inline" } },
  }, { logLevel: "silent", baseUrl: import.meta.url });
  try {
    await assert.rejects(
      rt.schedule("nightly", { cron: "0 0 31 4 *", to: "cleaner", topic: "t" }),
      (e: unknown) =>
        e instanceof TopologyError && e.key === "nightly.cron" && /never fires/.test(e.message),
    );
    assert.deepEqual(rt.schedules(), []);
  } finally {
    await rt.shutdown();
  }
});

Deno.test("schedule: in the JSON Schema, with every key described and one of cron and every required", () => {
  const schema = topologyJsonSchema() as {
    properties: Record<string, unknown>;
    $defs: Record<string, { properties: Record<string, { description?: string }>; anyOf: unknown }>;
  };
  assert.ok(schema.properties.schedule);
  const entry = schema.$defs.schedule;
  assert.deepEqual(Object.keys(entry.properties), [
    "cron",
    "every",
    "timezone",
    "to",
    "entity",
    "topic",
    "body",
    "missed",
  ]);
  for (const [key, value] of Object.entries(entry.properties)) assert.ok(value.description, key);
  assert.deepEqual(entry.anyOf, [{ required: ["cron"] }, { required: ["every"] }]);
});

Deno.test("the plan lists schedules added, replanned (with what changed) and removed; unchanged ones not at all", () => {
  const before = validateTopology({
    containers,
    schedule: {
      keep: { every: "10s", to: "cleaner", topic: "cleanup" },
      edit: { every: "10s", to: "cleaner", topic: "cleanup" },
      gone: { every: "10s", to: "cleaner", topic: "cleanup" },
    },
  }, base);
  const after = validateTopology({
    containers: { ...containers, cleaner: { module: "./c.ts", replicas: 3 } },
    schedule: {
      keep: { every: "10s", to: "cleaner", topic: "cleanup" },
      edit: { every: "20s", to: "reports", topic: "cleanup" },
      added: { cron: "0 * * * * *", to: "reports", topic: "run" },
    },
  }, base);
  const plan = planTopology(before, after);
  assert.deepEqual(plan.schedules, [
    { op: "replan", name: "edit", changes: ["every", "to"] },
    { op: "add", name: "added", when: 'cron "0 * * * * *"', to: "reports.run" },
    { op: "remove", name: "gone" },
  ]);
  const text = formatPlan(plan);
  assert.match(text, /↕ scale cleaner: 1 → 3 replicas/);
  assert.match(text, /~ replan schedule edit: every, to/);
  assert.match(text, /\+ schedule added: cron "0 \* \* \* \* \*" → reports\.run/);
  assert.match(text, /- unschedule gone/);
  assert.equal(planTopology(before, before).schedules, undefined);
});
