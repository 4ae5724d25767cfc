// The management API: every route through app.request() (fast, no socket), then the real server
// on a socket. Each test starts its own runtime and shuts it down.
import assert from "node:assert/strict";
import { Runtime, type TopologyInput } from "../../mod.ts";
import { type ManagementApp, managementApp } from "../../management/app.ts";
import { serveManagement } from "../../management/server.ts";
import { managementAuth } from "../../management/_auth.ts";
import { Hono } from "hono";
import type { HTTPException } from "hono/http-exception";
import { nextEvent, readToEnd } from "../_helpers.ts";

const TOKEN = "test-token-0123456789abcdef";
const AUTH = { authorization: `Bearer ${TOKEN}` };
const FIXTURES = new URL("../fixtures/cli/", import.meta.url);

const TOPOLOGY: TopologyInput = {
  name: "api-test",
  containers: {
    web: { module: "./containers/web.ts", mode: "inline", replicas: 2 },
    other: { module: "./containers/web.ts", mode: "inline" },
  },
};

async function withApp(
  fn: (app: ManagementApp, rt: Runtime) => Promise<void>,
  topology: TopologyInput = TOPOLOGY,
): Promise<void> {
  const rt = await Runtime.start(topology, {
    logLevel: "info",
    logger: () => {},
    baseUrl: FIXTURES.href,
  });
  const closing = new AbortController();
  const app = managementApp(rt, TOKEN, { signal: closing.signal, heartbeat: 0 });
  try {
    await fn(app, rt);
  } finally {
    closing.abort();
    await rt.shutdown();
  }
}

function post(app: ManagementApp, path: string, body?: unknown, headers: HeadersInit = AUTH) {
  return app.request(path, {
    method: "POST",
    headers,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** Reads SSE events from a response until `until` says stop; cancels the stream after. */
async function readEvents(
  response: Response,
  until: (events: { type: string; data: Record<string, unknown> }[]) => boolean,
  ms = 5000,
): Promise<{ type: string; data: Record<string, unknown> }[]> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: { type: string; data: Record<string, unknown> }[] = [];
  let buffer = "";
  const timer = setTimeout(() => reader.cancel(), ms);
  try {
    while (!until(events)) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const type = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (type && data) events.push({ type, data: JSON.parse(data) });
      }
    }
  } finally {
    clearTimeout(timer);
    await reader.cancel();
  }
  return events;
}

const ROUTES: [string, string][] = [
  ["GET", "/v1/tree"],
  ["GET", "/v1/containers/web"],
  ["POST", "/v1/containers/web/restart"],
  ["POST", "/v1/containers/web/stop"],
  ["POST", "/v1/containers/web/scale"],
  ["POST", "/v1/containers/web/call"],
  ["POST", "/v1/containers"],
  ["POST", "/v1/apply"],
  ["GET", "/v1/events"],
  ["GET", "/v1/logs"],
  ["POST", "/v1/shutdown"],
  ["GET", "/v1/metrics"],
  ["GET", "/metrics"],
  ["GET", "/no/such/route"],
];

Deno.test("every route answers 401 without a token and with a wrong one, and acts on nothing", async () => {
  await withApp(async (app, rt) => {
    for (const [method, path] of ROUTES) {
      const attempts: Record<string, string>[] = [
        {},
        { authorization: "Bearer wrong-token-xyz" },
        { authorization: TOKEN }, // the right token without the Bearer scheme
      ];
      for (const headers of attempts) {
        const res = await app.request(path, {
          method,
          headers,
          body: method === "POST" ? "{}" : undefined,
        });
        assert.equal(res.status, 401, `${method} ${path} with ${JSON.stringify(headers)}`);
        assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="kraken"');
        const text = await res.text();
        assert.equal(JSON.parse(text).error.type, "Unauthorized");
        assert.ok(!text.includes("wrong-token-xyz"), "the sent token is not echoed");
        assert.ok(!text.includes(TOKEN), "the real token is not revealed");
      }
    }
    // Nothing was stopped, restarted or shut down by the refused calls.
    const web = rt.tree().containers.find((c) => c.name === "web")!;
    assert.equal(web.running, 2);
    assert.ok(web.instances.every((i) => i.incarnation === 1));
    assert.equal(rt.tree().supervisor.state, "running");
  });
});

Deno.test("bearer tokens: scheme is case-insensitive, anything else is wrong or missing", async () => {
  const app = new Hono();
  app.use("*", managementAuth("abc"));
  app.get("/", (c) => c.text("in"));
  app.onError((error) => (error as HTTPException).getResponse());
  const verdict = async (authorization?: string) => {
    const res = await app.request("/", { headers: authorization ? { authorization } : {} });
    if (res.status === 200) return (await res.text(), "ok");
    assert.equal(res.status, 401);
    assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="kraken"');
    const { message } = (await res.json()).error;
    return message.startsWith("missing") ? "missing" : "wrong";
  };
  assert.equal(await verdict("Bearer abc"), "ok");
  assert.equal(await verdict("bearer   abc "), "ok");
  assert.equal(await verdict("Bearer abcd"), "wrong");
  assert.equal(await verdict("Bearer ab"), "wrong");
  assert.equal(await verdict("Basic abc"), "missing");
  assert.equal(await verdict("Bearer"), "missing");
  assert.equal(await verdict(undefined), "missing");
  assert.throws(() => managementAuth(""), TypeError);
});

Deno.test("a token a bearer header cannot carry is refused when the app is built, without echoing it", () => {
  for (const token of ["two words", "p@ss:word", "tab\there"]) {
    assert.throws(
      () => managementAuth(token),
      (error: Error) =>
        error instanceof TypeError && /RFC 6750/.test(error.message) &&
        !error.message.includes(token),
    );
  }
});

Deno.test("an authenticate hook lets a request in without a token; when it says no, the token still works", async () => {
  await withApp(async (_app, rt) => {
    const seen: string[] = [];
    const app = managementApp(rt, TOKEN, {
      heartbeat: 0,
      authenticate: (request) => {
        seen.push(new URL(request.url).pathname);
        return request.headers.get("cookie") === "session=valid";
      },
    });
    const viaCookie = await app.request("/v1/tree", { headers: { cookie: "session=valid" } });
    assert.equal(viaCookie.status, 200);
    assert.equal((await viaCookie.json()).name, "api-test");
    const badCookie = await app.request("/v1/tree", { headers: { cookie: "session=forged" } });
    assert.equal(badCookie.status, 401);
    assert.equal((await badCookie.json()).error.type, "Unauthorized");
    const viaToken = await app.request("/v1/tree", { headers: AUTH });
    assert.equal(viaToken.status, 200);
    await viaToken.body?.cancel();
    assert.deepEqual(seen, ["/v1/tree", "/v1/tree", "/v1/tree"]);
  });
});

Deno.test("GET /v1/tree returns the live supervision tree", async () => {
  await withApp(async (app) => {
    const res = await app.request("/v1/tree", { headers: AUTH });
    assert.equal(res.status, 200);
    const tree = await res.json();
    assert.equal(tree.name, "api-test");
    assert.deepEqual(tree.containers.map((c: { name: string }) => c.name), ["web", "other"]);
    assert.equal(tree.containers[0].running, 2);
    assert.equal(tree.containers[0].host, "local");
  });
});

Deno.test("GET /v1/containers/:name returns one container; an unknown name is 404 naming the known ones", async () => {
  await withApp(async (app) => {
    const res = await app.request("/v1/containers/web", { headers: AUTH });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.container.name, "web");
    assert.equal(body.container.instances.length, 2);
    assert.ok("metrics" in body);

    const missing = await app.request("/v1/containers/nope", { headers: AUTH });
    assert.equal(missing.status, 404);
    assert.deepEqual((await missing.json()).error, {
      type: "NotFound",
      message: 'no container named "nope" (known: web, other)',
    });
  });
});

Deno.test("POST scale changes the replicas live; bad replicas are 400 naming the key; unknown is 404", async () => {
  await withApp(async (app, rt) => {
    const res = await post(app, "/v1/containers/web/scale", { replicas: 3 });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.from, 2);
    assert.equal(body.to, 3);
    assert.equal(body.container.running, 3);
    assert.equal(rt.tree().containers[0].replicas, 3);

    for (const bad of [{ replicas: "4" }, { replicas: -1 }, { replicas: 1.5 }, {}]) {
      const refused = await post(app, "/v1/containers/web/scale", bad);
      assert.equal(refused.status, 400, JSON.stringify(bad));
      const { error } = await refused.json();
      assert.equal(error.type, "BadRequest");
      assert.equal(error.key, "replicas");
      assert.match(error.message, /replicas must be a whole number >= 0/);
    }
    // A typo such as 1e9 would start workers until the runtime runs out of memory.
    const huge = await post(app, "/v1/containers/web/scale", { replicas: 1e9 });
    assert.equal(huge.status, 400);
    assert.deepEqual(await huge.json(), {
      error: {
        type: "BadRequest",
        message:
          "replicas must be at most 1000 (each is a worker thread or a process), got 1000000000",
        key: "replicas",
      },
    });
    const unknown = await post(app, "/v1/containers/nope/scale", { replicas: 1 });
    assert.equal(unknown.status, 404);
    assert.equal((await unknown.json()).error.type, "NotFound");
    assert.equal(rt.tree().containers[0].replicas, 3, "refused calls changed nothing");
  });
});

Deno.test("a body that is not JSON, or not an object, is 400 BadJson", async () => {
  await withApp(async (app) => {
    for (const body of ["{replicas: 3", "[1,2]", "42"]) {
      const res = await post(app, "/v1/containers/web/scale", body);
      assert.equal(res.status, 400);
      const { error } = await res.json();
      assert.equal(error.type, "BadJson");
    }
  });
});

Deno.test("POST restart starts every replica again; POST stop removes the container", async () => {
  await withApp(async (app, rt) => {
    const res = await post(app, "/v1/containers/web/restart");
    assert.equal(res.status, 200);
    const { container } = await res.json();
    assert.equal(container.running, 2);
    assert.ok(container.instances.every((i: { incarnation: number }) => i.incarnation === 2));

    const badMode = await post(app, "/v1/containers/web/stop", { mode: "gently" });
    assert.equal(badMode.status, 400);
    assert.equal((await badMode.json()).error.key, "mode");

    const stopped = await post(app, "/v1/containers/web/stop", { mode: "graceful" });
    assert.equal(stopped.status, 200);
    assert.deepEqual(await stopped.json(), { ok: true, stopped: "web" });
    assert.deepEqual(rt.tree().containers.map((c) => c.name), ["other"]);

    const again = await post(app, "/v1/containers/web/restart");
    assert.equal(again.status, 404);
  });
});

Deno.test("POST /v1/containers spawns; a duplicate is 409 unless replace; a bad spec is 400 naming the key", async () => {
  await withApp(async (app, rt) => {
    const res = await post(app, "/v1/containers", {
      name: "extra",
      spec: { module: "./containers/web.ts", mode: "inline", replicas: 2 },
    });
    assert.equal(res.status, 201);
    assert.equal((await res.json()).container.running, 2);
    assert.equal(await rt.ref("extra").request("echo", 7), 7);

    const dup = await post(app, "/v1/containers", {
      name: "extra",
      spec: { module: "./containers/web.ts" },
    });
    assert.equal(dup.status, 409);
    assert.equal((await dup.json()).error.type, "Conflict");

    const replaced = await post(app, "/v1/containers", {
      name: "extra",
      spec: { module: "./containers/web.ts", mode: "inline" },
      replace: true,
    });
    assert.equal(replaced.status, 201);
    assert.equal((await replaced.json()).container.replicas, 1);

    const badSpec = await post(app, "/v1/containers", {
      name: "bad",
      spec: { module: "./containers/web.ts", mode: "thread" },
    });
    assert.equal(badSpec.status, 400);
    const { error } = await badSpec.json();
    assert.equal(error.type, "TopologyError");
    assert.equal(error.key, "bad.mode");

    // A module that is not there is said plainly, with the close name that is, and nothing is
    // left behind in the tree.
    const missing = await post(app, "/v1/containers", {
      name: "typo",
      spec: { module: "./containers/wbe.ts", mode: "worker" },
    });
    assert.equal(missing.status, 400);
    assert.deepEqual(await missing.json(), {
      error: {
        type: "TopologyError",
        message:
          `topology: typo.module: module ./containers/wbe.ts does not exist (did you mean "./containers/web.ts"?); expected a file at ${
            decodeURIComponent(new URL("containers/wbe.ts", FIXTURES).pathname)
          }`,
        key: "typo.module",
      },
    });
    assert.ok(!rt.tree().containers.some((c) => c.name === "typo"));

    for (
      const [body, key] of [[{ spec: {} }, "name"], [{ name: "x" }, "spec"], [{
        name: "x",
        spec: {},
        replace: "yes",
      }, "replace"]] as const
    ) {
      const refused = await post(app, "/v1/containers", body);
      assert.equal(refused.status, 400);
      assert.equal((await refused.json()).error.key, key);
    }
  });
});

Deno.test("POST /v1/apply?dry_run=1 only plans; without it the plan is applied", async () => {
  await withApp(async (app, rt) => {
    const next = {
      name: "api-test",
      containers: {
        web: { module: "./containers/web.ts", mode: "inline", replicas: 3 },
        added: { module: "./containers/web.ts", mode: "inline" },
      },
    };
    const dry = await post(app, "/v1/apply?dry_run=1", next);
    assert.equal(dry.status, 200);
    const planned = await dry.json();
    assert.equal(planned.applied, false);
    const ops = planned.plan.steps.map((s: { op: string; name: string }) => `${s.op} ${s.name}`);
    assert.deepEqual(ops.toSorted(), ["add added", "remove other", "scale web"]);
    assert.match(planned.text, /scale web: 2 → 3 replicas/);
    assert.deepEqual(
      rt.tree().containers.map((c) => c.name),
      ["web", "other"],
      "dry run changed nothing",
    );

    const applied = await post(app, "/v1/apply", next);
    assert.equal(applied.status, 200);
    assert.equal((await applied.json()).applied, true);
    const tree = rt.tree();
    assert.deepEqual(tree.containers.map((c) => c.name), ["web", "added"]);
    assert.equal(tree.containers[0].running, 3);
  });
});

Deno.test("POST /v1/apply reads {path}; a bad topology file is 400 with its key and line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const module = new URL("containers/web.ts", FIXTURES).pathname;
    const good = `${dir}/good.yaml`;
    await Deno.writeTextFile(
      good,
      `name: api-test\ncontainers:\n  web: { module: ${module}, mode: inline, replicas: 1 }\n  other: { module: ${module}, mode: inline }\n`,
    );
    const bad = `${dir}/bad.yaml`;
    await Deno.writeTextFile(
      bad,
      `name: api-test\ncontainers:\n  web:\n    module: ${module}\n    replicas: lots\n`,
    );
    await withApp(async (app, rt) => {
      const res = await post(app, "/v1/apply", { path: good });
      assert.equal(res.status, 200);
      assert.equal(rt.tree().containers[0].replicas, 1);

      const refused = await post(app, "/v1/apply?dry_run=1", { path: bad });
      assert.equal(refused.status, 400);
      const { error } = await refused.json();
      assert.equal(error.type, "TopologyError");
      assert.equal(error.key, "containers.web.replicas");
      assert.equal(error.line, 5);
      assert.equal(error.file, bad);

      const missing = await post(app, "/v1/apply", { path: `${dir}/none.yaml` });
      assert.equal(missing.status, 400);
      assert.equal((await missing.json()).error.type, "TopologyError");

      const neither = await post(app, "/v1/apply", { replicas: 2 });
      assert.equal(neither.status, 400);
      assert.equal((await neither.json()).error.type, "BadRequest");
      assert.equal(rt.tree().containers[0].replicas, 1, "refused applies changed nothing");
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("GET /v1/events streams a restart (and its exit) as Server-Sent Events", async () => {
  await withApp(async (app, rt) => {
    const res = await app.request("/v1/events", { headers: AUTH });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/event-stream");
    const restarted = nextEvent(rt, "restart");
    rt.ref("other").request("fail", { message: "boom" }).catch(() => {});
    await restarted;
    const events = await readEvents(res, (e) => e.some((x) => x.type === "restart"));
    const restart = events.find((e) => e.type === "restart")!;
    assert.equal(restart.data.container, "other");
    assert.equal(restart.data.instance, "other#0.2");
    assert.equal(typeof restart.data.time, "number");
    const exit = events.find((e) => e.type === "exit")!;
    assert.equal((exit.data.reason as { kind: string }).kind, "error");
  });
});

Deno.test("GET /v1/events?types= filters; an unknown type is 400; apply progress is streamed", async () => {
  await withApp(async (app) => {
    const bad = await app.request("/v1/events?types=restart,bogus", { headers: AUTH });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).error.key, "types");

    const res = await app.request("/v1/events?types=apply", { headers: AUTH });
    const applied = await post(app, "/v1/apply", {
      name: "api-test",
      containers: { web: { module: "./containers/web.ts", mode: "inline", replicas: 1 } },
    });
    assert.equal(applied.status, 200);
    const events = await readEvents(res, (e) => e.some((x) => x.data.phase === "done"));
    assert.deepEqual(events.map((e) => e.type).filter((t) => t !== "apply"), []);
    assert.deepEqual(events.map((e) => e.data.phase), ["start", "step", "step", "done"]);
  });
});

Deno.test("GET /v1/logs gives a container's recent lines, follows new ones, and 404s an unknown one", async () => {
  await withApp(async (app, rt) => {
    await rt.ref("web").request("say", { text: "first line" });
    await rt.ref("other").request("say", { text: "not web's" });

    const recent = await app.request("/v1/logs?container=web&format=ndjson", { headers: AUTH });
    assert.equal(recent.headers.get("content-type"), "application/x-ndjson");
    const lines = (await recent.text()).trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => [l.type, l.container, l.message]), [[
      "log",
      "web",
      "first line",
    ]]);
    assert.match(lines[0].source, /^web#\d\.1$/);

    const follow = await app.request("/v1/logs?container=web&follow=1&tail=0", { headers: AUTH });
    const reading = readEvents(follow, (e) => e.some((x) => x.data.message === "second line"));
    await rt.ref("other").request("say", { text: "still not web's" });
    await rt.ref("web").request("say", { text: "second line" });
    const events = await reading;
    assert.deepEqual(events.map((e) => e.data.message), ["second line"]);

    const unknown = await app.request("/v1/logs?container=nope", { headers: AUTH });
    assert.equal(unknown.status, 404);
    assert.equal((await unknown.json()).error.key, "container");
    const badTail = await app.request("/v1/logs?tail=-1", { headers: AUTH });
    assert.equal(badTail.status, 400);
  });
});

Deno.test("GET /v1/logs as SSE without follow sends every recent line, in order, then ends", async () => {
  await withApp(async (app, rt) => {
    for (const text of ["one", "two", "three"]) await rt.ref("web").request("say", { text });
    const res = await app.request("/v1/logs?container=web", { headers: AUTH });
    assert.equal(res.headers.get("content-type"), "text/event-stream");
    const blocks = (await res.text()).split("\n\n").filter((b) => b.includes("data: "));
    assert.deepEqual(
      blocks.map((b) => JSON.parse(/^data: (.*)$/m.exec(b)![1]).message),
      ["one", "two", "three"],
    );
    assert.deepEqual(blocks.map((b) => /^id: (.*)$/m.exec(b)![1]), ["1", "2", "3"]);
  });
});

Deno.test("GET /metrics is Prometheus text behind the same token; /v1/metrics the same as JSON", async () => {
  await withApp(async (app, rt) => {
    await rt.ref("web").request("echo", 1);
    const res = await app.request("/metrics", { headers: AUTH });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    assert.match(text, /^# HELP /m);
    assert.match(text, /^# TYPE /m);
    assert.match(text, /container="web"/);
    const json = await (await app.request("/v1/metrics", { headers: AUTH })).json();
    assert.deepEqual(json.map((m: { container: string }) => m.container).toSorted(), [
      "other",
      "web",
    ]);
  });
});

Deno.test("POST /v1/shutdown answers 202, then the runtime shuts down; later calls are 503", async () => {
  await withApp(async (app, rt) => {
    const res = await post(app, "/v1/shutdown");
    assert.equal(res.status, 202);
    assert.deepEqual(await res.json(), { ok: true, shuttingDown: true });
    assert.equal(await rt.closed, null);
    const late = await post(app, "/v1/containers/web/scale", { replicas: 1 });
    assert.equal(late.status, 503);
    assert.equal((await late.json()).error.type, "Unavailable");
  });
});

Deno.test("unknown routes are 404 JSON and oversize bodies 413, after authentication", async () => {
  await withApp(async (app) => {
    const res = await app.request("/v1/nothing", { headers: AUTH });
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), {
      error: { type: "NotFound", message: "no route GET /v1/nothing" },
    });
    const big = await post(app, "/v1/apply", JSON.stringify({ pad: "x".repeat(2 << 20) }));
    assert.equal(big.status, 413);
  });
});

Deno.test("serveManagement: a real socket on loopback, 401 without the token, streams end on close()", async () => {
  const rt = await Runtime.start(TOPOLOGY, { logLevel: "silent", baseUrl: FIXTURES.href });
  const api = await serveManagement(rt, { listen: "127.0.0.1:0", token: TOKEN });
  try {
    assert.equal(api.url.hostname, "127.0.0.1");
    assert.ok(Number(api.url.port) > 0);
    const tree = await fetch(new URL("v1/tree", api.url), { headers: AUTH });
    assert.equal(tree.status, 200);
    assert.equal((await tree.json()).name, "api-test");
    const refused = await fetch(new URL("v1/tree", api.url));
    assert.equal(refused.status, 401);
    await refused.body?.cancel();

    // An open event stream must not keep close() waiting.
    const events = await fetch(new URL("v1/events", api.url), { headers: AUTH });
    assert.equal(events.status, 200);
    const reader = events.body!.getReader();
    await reader.read(); // the opening comment
    await api.close();
    await readToEnd(reader, 5000, "the open event stream to end when the server closes");
    await assert.rejects(fetch(new URL("v1/tree", api.url), { headers: AUTH }), TypeError);
  } finally {
    await api.close();
    await rt.shutdown();
  }
});

Deno.test("serveManagement refuses an empty token and a malformed listen address before listening", async () => {
  const rt = await Runtime.start(TOPOLOGY, { logLevel: "silent", baseUrl: FIXTURES.href });
  try {
    await assert.rejects(serveManagement(rt, { listen: "127.0.0.1:0", token: "" }), TypeError);
    await assert.rejects(
      serveManagement(rt, { listen: "localhost:http", token: TOKEN }),
      /listen address/,
    );
  } finally {
    await rt.shutdown();
  }
});

Deno.test("when the runtime shuts down, open log streams end", async () => {
  await withApp(async (app, rt) => {
    const res = await app.request("/v1/logs?follow=1", { headers: AUTH });
    const reader = res.body!.getReader();
    await reader.read();
    await rt.shutdown();
    await readToEnd(reader, 5000, "the open log stream to end when the runtime shuts down");
  });
});
