// The audit trail: every change asked through the management API (scale, restart, stop, spawn,
// call, apply, shutdown) is recorded by the runtime with who asked — credential fingerprint,
// address, client — and what, as an `audit` event and a log line; reads are not recorded.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { type AuditRecord, type LogEntry, Runtime } from "../../mod.ts";
import { serveManagement } from "../../management/server.ts";
import { managementApp } from "../../management/mod.ts";
import { ManagementClient } from "../../cli/client.ts";
import { auditChanges } from "../../management/_audit.ts";
import { Hono } from "hono";
import { readUntil, waitUntil } from "../_helpers.ts";

const TOKEN = "audit-token-0123456789abcdef";
const PRINT = `token:${createHash("sha256").update(TOKEN).digest("hex").slice(0, 8)}`;
const FIXTURES = new URL("../fixtures/cli/", import.meta.url);

async function withServer(
  fn: (ctx: {
    rt: Runtime;
    url: URL;
    records: AuditRecord[];
    lines: LogEntry[];
    send: (path: string, body?: unknown, headers?: Record<string, string>) => Promise<Response>;
  }) => Promise<void>,
): Promise<void> {
  const lines: LogEntry[] = [];
  const rt = await Runtime.start({
    name: "audited",
    containers: { web: { module: "./containers/web.ts", mode: "inline" } },
  }, { logLevel: "info", logger: (entry) => lines.push(entry), baseUrl: FIXTURES.href });
  const records: AuditRecord[] = [];
  rt.on("audit", (record) => records.push(record));
  const api = await serveManagement(rt, { listen: "127.0.0.1:0", token: TOKEN });
  const send = (path: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(new URL(path, api.url), {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "user-agent": "curl/8.5.0", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  try {
    await fn({ rt, url: api.url, records, lines, send });
  } finally {
    await api.close();
    await rt.shutdown();
  }
}

Deno.test("a scale through the API is recorded with the token's fingerprint, the address and the client, as an event and a log line", async () => {
  await withServer(async ({ records, lines, send }) => {
    const res = await send("v1/containers/web/scale", { replicas: 2 });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.equal(records.length, 1);
    const [record] = records;
    assert.equal(record.action, "scale");
    assert.equal(record.target, "web");
    assert.deepEqual(record.detail, { replicas: 2 });
    assert.equal(record.ok, true);
    assert.equal(record.by.via, "api");
    assert.equal(record.by.client, PRINT);
    assert.match(record.by.address!, /^127\.0\.0\.1:\d+$/);
    assert.equal(record.by.userAgent, "curl/8.5.0");
    const line = lines.find((l) => l.message.startsWith("audit: "))!;
    assert.equal(
      line.message,
      `audit: scale web replicas=2 by api ${PRINT} from ${record.by.address} (curl/8.5.0): ok`,
    );
    assert.ok(!line.message.includes(TOKEN), "never the token");
  });
});

Deno.test("a change that fails is recorded as failed with why; reads, dry runs and refused tokens are not recorded", async () => {
  await withServer(async ({ url, records, send }) => {
    const missing = await send("v1/containers/nope/restart");
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    assert.equal(records.length, 1);
    assert.equal(records[0].action, "restart");
    assert.equal(records[0].ok, false);
    assert.match(records[0].error!, /nope/);

    const read = await fetch(new URL("v1/tree", url), {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    await read.body?.cancel();
    const dry = await send("v1/apply?dry_run=1", {
      containers: { web: { module: "./containers/web.ts", mode: "inline" } },
    });
    await dry.body?.cancel();
    const refused = await send("v1/containers/web/stop", {}, { authorization: "Bearer wrong" });
    assert.equal(refused.status, 401);
    await refused.body?.cancel();
    assert.equal(records.length, 1, "nothing more recorded");
  });
});

Deno.test("the CLI's client is recorded as cli; a call records its topic, never its body", async () => {
  await withServer(async ({ url, records }) => {
    const client = new ManagementClient(url, TOKEN);
    await client.request("POST", "/v1/containers/web/call", {
      topic: "echo",
      body: { secret: "do-not-log" },
    });
    await waitUntil(() => records.length === 1, 2000, "the call's record");
    assert.equal(records[0].action, "call");
    assert.equal(records[0].by.via, "cli");
    assert.match(records[0].by.userAgent!, /^kraken-cli\//);
    assert.equal(records[0].by.client, PRINT, "a signed request proves the same token");
    assert.deepEqual(records[0].detail, { topic: "echo" });
    assert.ok(!JSON.stringify(records[0]).includes("do-not-log"));
  });
});

Deno.test("spawn, stop and apply are recorded with what they asked", async () => {
  await withServer(async ({ records, send }) => {
    for (
      const [path, body] of [
        ["v1/containers", {
          name: "extra",
          spec: { module: "./containers/web.ts", mode: "inline" },
        }],
        ["v1/containers/extra/stop", { mode: "graceful" }],
        ["v1/apply", { containers: { web: { module: "./containers/web.ts", mode: "inline" } } }],
      ] as const
    ) {
      const res = await send(path, body);
      assert.ok(res.status < 300, `${path}: ${res.status} ${await res.text()}`);
    }
    assert.deepEqual(records.map((r) => [r.action, r.target ?? null, r.detail ?? null, r.ok]), [
      ["spawn", "extra", { name: "extra" }, true],
      ["stop", "extra", { mode: "graceful" }, true],
      ["apply", null, { topology: "inline object" }, true],
    ]);
  });
});

Deno.test("a token header wins over a cookie: such a request is recorded as api with the token's fingerprint", async () => {
  await withServer(async ({ records, send }) => {
    const res = await send("v1/containers/web/scale", { replicas: 1 }, {
      cookie: "kraken_session=abc123",
    });
    await res.body?.cancel();
    assert.equal(records[0].by.via, "api");
    assert.equal(records[0].by.client, PRINT);
  });
});

Deno.test("a page's change is recorded as page with the fingerprint of the session that let it in, not of a cookie another server on the host set", async () => {
  const rt = await Runtime.start({
    name: "page",
    containers: { web: { module: "./containers/web.ts", mode: "inline" } },
  }, { logLevel: "silent", baseUrl: FIXTURES.href });
  try {
    const records: AuditRecord[] = [];
    rt.on("audit", (record) => records.push(record));
    const app = managementApp(rt, TOKEN);
    const own = "http://127.0.0.1:9090";
    const signIn = async () => {
      const res = await app.request(`${own}/session`, {
        method: "POST",
        headers: { origin: own },
        body: JSON.stringify({ token: TOKEN }),
      });
      const id = /^kraken_session=([^;]+)/.exec(res.headers.get("set-cookie")!)![1];
      return { id, key: (await res.json()).key as string };
    };
    const alice = await signIn();
    const bob = await signIn();
    // Bob's id, learned by a container serving on another port, tossed into Alice's browser
    // under names sent before hers.
    const res = await app.request(`${own}/v1/containers/web/restart`, {
      method: "POST",
      headers: {
        origin: own,
        cookie: `a_session=${bob.id}; kraken_session=${bob.id}; theme=dark; ` +
          `kraken_session=${alice.id}`,
        "x-kraken-session": alice.key,
        "user-agent": "Mozilla/5.0",
      },
    });
    assert.equal(res.status, 200, await res.clone().text());
    await res.body?.cancel();
    const print = (id: string) => createHash("sha256").update(id).digest("hex").slice(0, 8);
    assert.deepEqual(records.map((r) => r.by), [{
      via: "page",
      client: `session:${print(alice.id)}`,
      userAgent: "Mozilla/5.0",
    }]);
  } finally {
    await rt.shutdown();
  }
});

Deno.test("a request no session let in is not recorded as a session, whatever session cookie it carries", async () => {
  // Nothing stands before the audit here: no session was accepted, so none is recorded.
  const rt = await Runtime.start({ name: "page", containers: {} }, { logLevel: "silent" });
  try {
    const records: AuditRecord[] = [];
    rt.on("audit", (record) => records.push(record));
    const app = new Hono();
    app.use("*", auditChanges(rt, TOKEN));
    app.post("/v1/containers/:name/restart", (c) => c.json({ ok: true }));
    const res = await app.request("/v1/containers/web/restart", {
      method: "POST",
      headers: { cookie: "theme=dark; kraken_session=abc123", "user-agent": "Mozilla/5.0" },
    });
    await res.body?.cancel();
    assert.deepEqual(records[0].by, { via: "api", client: PRINT, userAgent: "Mozilla/5.0" });
  } finally {
    await rt.shutdown();
  }
});

Deno.test("audit events stream at GET /v1/events?types=audit, and a shutdown is recorded before the runtime ends", async () => {
  await withServer(async ({ rt, url, records, send }) => {
    const events = await fetch(new URL("v1/events?types=audit", url), {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const reader = events.body!.pipeThrough(new TextDecoderStream()).getReader();
    const scaled = await send("v1/containers/web/scale", { replicas: 3 });
    await scaled.body?.cancel();
    const text = await readUntil(reader, (t) => /"action":"scale"/.test(t), 3000, "the event");
    assert.match(text, /event: audit/);
    await reader.cancel();
    const down = await send("v1/shutdown");
    assert.equal(down.status, 202);
    await down.body?.cancel();
    await rt.closed;
    assert.deepEqual(records.map((r) => r.action), ["scale", "shutdown"]);
  });
});
