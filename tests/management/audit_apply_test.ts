// Every apply that changes the runtime is recorded, however it is asked: the audit reads `dry_run`
// with the parser the routes use (a value they would read differently is refused), and the
// dashboard's editor applies through the same audited, one-at-a-time gate as /v1/apply.
import assert from "node:assert/strict";
import { type AuditRecord, Runtime } from "../../mod.ts";
import { managementApp } from "../../management/mod.ts";

const TOKEN = "audit-token-0123456789abcdef";
const FIXTURES = new URL("../fixtures/cli/", import.meta.url);
const WEB = { module: "./containers/web.ts", mode: "inline" } as const;

async function withApp(
  fn: (ctx: {
    rt: Runtime;
    records: AuditRecord[];
    post: (path: string, body: unknown) => Promise<Response>;
  }) => Promise<void>,
): Promise<void> {
  const rt = await Runtime.start({ name: "audited", containers: { web: WEB } }, {
    logLevel: "silent",
    baseUrl: FIXTURES.href,
  });
  const records: AuditRecord[] = [];
  rt.on("audit", (record) => records.push(record));
  const app = managementApp(rt, TOKEN);
  const post = async (path: string, body: unknown) =>
    await app.request(path, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  try {
    await fn({ rt, records, post });
  } finally {
    await rt.shutdown();
  }
}

const names = (rt: Runtime) => rt.tree().containers.map((c) => c.name).sort();

Deno.test("a dry_run value other than 1, true, 0, false or empty is refused with 400 naming dry_run, and nothing changes", async () => {
  await withApp(async ({ rt, records, post }) => {
    for (const path of ["/v1/apply?dry_run=no", "/v1/dashboard/apply?dry_run=yes"]) {
      const body = path.includes("dashboard")
        ? { yaml: "containers:\n  web: { module: ./containers/web.ts, mode: inline }\n" }
        : { containers: { web: WEB, two: WEB } };
      const res = await post(path, body);
      assert.equal(res.status, 400, path);
      const error = (await res.json()).error;
      assert.equal(error.key, "dry_run");
      assert.match(error.message, /dry_run must be 1, true, 0 or false .*got "(no|yes)"/);
    }
    assert.deepEqual(names(rt), ["web"], "nothing applied");
    assert.equal(records.length, 0, "nothing changed, nothing recorded");
  });
});

Deno.test("an apply with dry_run=0 or false is applied and recorded", async () => {
  await withApp(async ({ rt, records, post }) => {
    const res = await post("/v1/apply?dry_run=false", { containers: { web: WEB, two: WEB } });
    assert.equal((await res.json()).applied, true);
    assert.deepEqual(names(rt), ["two", "web"]);
    assert.deepEqual(records.map((r) => [r.action, r.detail, r.ok]), [
      ["apply", { topology: "inline object" }, true],
    ]);
  });
});

Deno.test("the dashboard's apply is recorded as an apply of topology 'dashboard'; its dry run is not", async () => {
  await withApp(async ({ rt, records, post }) => {
    const yaml = "containers:\n  web: { module: ./containers/web.ts, mode: inline }\n" +
      "  three: { module: ./containers/web.ts, mode: inline }\n";
    const dry = await post("/v1/dashboard/apply?dry_run=1", { yaml });
    assert.equal((await dry.json()).applied, false);
    assert.equal(records.length, 0, "a dry run is not recorded");
    const res = await post("/v1/dashboard/apply", { yaml });
    assert.equal((await res.json()).applied, true);
    assert.deepEqual(names(rt), ["three", "web"]);
    assert.equal(records.length, 1);
    assert.equal(records[0].action, "apply");
    assert.deepEqual(records[0].detail, { topology: "dashboard" });
    assert.equal(records[0].ok, true);
    assert.equal(records[0].by.via, "api");
  });
});

Deno.test("the dashboard's apply waits for no other: while /v1/apply runs it answers 409", async () => {
  await withApp(async ({ records, post }) => {
    // A container whose start takes a while keeps the first apply running.
    const first = post("/v1/apply", {
      containers: { web: WEB, slow: { module: "../slow_start.ts", mode: "worker" } },
    });
    await new Promise((r) => setTimeout(r, 50));
    const second = await post("/v1/dashboard/apply", {
      yaml: "containers:\n  web: { module: ./containers/web.ts, mode: inline }\n",
    });
    assert.equal(second.status, 409, await second.clone().text());
    await second.body?.cancel();
    const done = await first;
    assert.equal(done.status, 200, await done.clone().text());
    await done.body?.cancel();
    assert.deepEqual(records.map((r) => [r.detail, r.ok]), [
      [{ topology: "dashboard" }, false],
      [{ topology: "inline object" }, true],
    ]);
  });
});

Deno.test("the dashboard's apply is refused once the runtime is stopping, like /v1/apply", async () => {
  await withApp(async ({ rt, post }) => {
    const stopping = rt.shutdown();
    const res = await post("/v1/dashboard/apply", {
      yaml: "containers:\n  web: { module: ./containers/web.ts, mode: inline }\n",
    });
    assert.equal(res.status, 503, await res.clone().text());
    await res.body?.cancel();
    await stopping;
  });
});
